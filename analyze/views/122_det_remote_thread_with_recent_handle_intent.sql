-- REMOTE_THREAD_WITH_RECENT_HANDLE_INTENT (spec 3.6, docs/detections.md section 3) rule 1: a remote thread whose row carries a non-zero correlation.
CREATE OR REPLACE VIEW det_remote_thread_with_recent_handle_intent AS
SELECT * FROM thread_rule_hits WHERE rule = 'REMOTE_THREAD_WITH_RECENT_HANDLE_INTENT';

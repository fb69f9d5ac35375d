-- THREAD_ACTIVITY_WITH_THREAD_CONTEXT_INTENT (spec 3.6, docs/detections.md section 3) rule 4: thread-context intent plus remote, outside or non-image exec.
CREATE OR REPLACE VIEW det_thread_activity_with_thread_context_intent AS
SELECT * FROM thread_rule_hits WHERE rule = 'THREAD_ACTIVITY_WITH_THREAD_CONTEXT_INTENT';

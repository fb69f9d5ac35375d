-- THREAD_HIJACK_INTENT/thread (spec 3.6, docs/detections.md section 3) rule 5: remote, thread-context intent, and a suspicious start (thread variant;
-- the APC variant has the same name [Q]).
CREATE OR REPLACE VIEW det_thread_hijack_intent_thread AS
SELECT * FROM thread_rule_hits WHERE rule = 'THREAD_HIJACK_INTENT/thread';

-- THREAD_HIJACK_INTENT, APC variant (spec 3.3, docs/detections.md section 2): SET_CONTEXT plus SUSPEND_RESUME on a
-- remote thread handle (any THREAD_ALL_ACCESS open qualifies), same routes and cooldown as REMOTE_APC_CREATION.
CREATE OR REPLACE VIEW det_thread_hijack_intent_apc AS
SELECT * FROM apc_monitor WHERE rule = 'THREAD_HIJACK_INTENT/apc';

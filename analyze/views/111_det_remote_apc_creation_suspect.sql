-- REMOTE_APC_CREATION_SUSPECT (spec 3.3, docs/detections.md section 2): SET_CONTEXT without SUSPEND_RESUME on a
-- remote thread handle, through the APC cooldown (route B) or as the driver's ApcTelemetry says (route A).
CREATE OR REPLACE VIEW det_remote_apc_creation_suspect AS
SELECT * FROM apc_monitor WHERE rule = 'REMOTE_APC_CREATION_SUSPECT';

-- DRIVER_DISPATCH_OR_OBJECT_TAMPER (spec 3.10, docs/detections.md section 7): never reconstructed. No telemetry carries the
-- driver's integrity mask, so its live detection is the only record: such rows appear in `detections` as
-- live-only ("not reconstructible: the driver emits no telemetry for its integrity checks"). This view exists so
-- every catalogue rule has one, and is empty by construction.
CREATE OR REPLACE VIEW det_driver_dispatch_or_object_tamper AS
SELECT rule, host, actor_pid, target_pid, ts, us, trigger_event_id, corr_flags, corr_access_mask, corr_age_ms,
       marks, reason, evidence, first_ts, last_ts
FROM handle_rule_hits
WHERE false;

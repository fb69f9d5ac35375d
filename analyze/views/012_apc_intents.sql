-- ApcTelemetry rows (family 'apc'): the driver's own record that its APC monitor fired, cooldown already applied
-- (spec 3.3). Their presence on a host selects route A of docs/detections.md section 2.
CREATE OR REPLACE VIEW apc_intents AS
SELECT host, event_id, ts,
       epoch_us(ts) AS us,  -- duckdb: epoch_us (Spark: unix_micros)
       kind, actor_pid, target_pid, class_name, access_mask
FROM events
WHERE family = 'apc' AND ts IS NOT NULL;

-- Handle operations (family 'handle': IOCTL records, ETW HandleTelemetry, Sysmon 10), the input of spec 3.2/3.3
-- and of every thread row's `intents` (docs/detections.md ground rules, sections 1-3).
-- Rows without a time cannot be placed in any window, so they are left out here (swk analyze counts them).
-- `us` is the time in integer microseconds: every window compares integer µs bounds derived from the floor-ms rule.
CREATE OR REPLACE VIEW handle_ops AS
SELECT host, event_id, ts,
       epoch_us(ts) AS us,  -- duckdb: epoch_us (Spark: unix_micros)
       kind, actor_pid, target_pid, access_mask, class_id, class_name, flags, is_thread_object, is_duplicate
FROM events
WHERE family = 'handle' AND ts IS NOT NULL;

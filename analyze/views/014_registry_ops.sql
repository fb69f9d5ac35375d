-- Registry operations (family 'registry'), the input of spec 3.8 / docs/detections.md section 6.
CREATE OR REPLACE VIEW registry_ops AS
SELECT host, event_id, ts,
       epoch_us(ts) AS us,  -- duckdb: epoch_us (Spark: unix_micros)
       kind, actor_pid, operation, key_path, value_name, is_high_value
FROM events
WHERE family = 'registry' AND ts IS NOT NULL;

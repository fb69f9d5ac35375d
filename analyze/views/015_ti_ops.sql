-- Threat-Intelligence events (family 'ti'), the TI input of the controller chain (spec 3.11, docs/detections.md
-- section 9). The reader has already resolved protect/old_protect/region_size/creation_flags from the spec's field
-- name lists; `target` applies the controller's "target 0 -> caller" (a NULL target stays unknown).
CREATE OR REPLACE VIEW ti_ops AS
SELECT host, event_id, ts,
       epoch_us(ts) AS us,  -- duckdb: epoch_us (Spark: unix_micros)
       kind, actor_pid, target_pid,
       CASE WHEN target_pid = 0 THEN actor_pid ELSE target_pid END AS target,
       event_name, task, base_address, region_size, protect, old_protect, creation_flags
FROM events
WHERE family = 'ti' AND ts IS NOT NULL;

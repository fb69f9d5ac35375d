-- Thread starts (family 'thread') as the case holds them, in integer µs, with `sysmon` marking Sysmon 8 rows (kind
-- 'sysmon:8'), whose correlation is derived from thread_intents in thread_starts (docs/detections.md "Derived facts
-- per row", "Sysmon-derived facts"). The base of both.
CREATE OR REPLACE VIEW thread_rows AS
SELECT host, event_id, ts,
       epoch_us(ts) AS us,  -- duckdb: epoch_us (Spark: unix_micros)
       kind, actor_pid, target_pid, tid, corr_flags, corr_access_mask, corr_age_ms,
       start_address, image_base, image_size, start_region_protect, start_region_type, start_region_status,
       start_region_exec, got_start, outside_main_image,
       actor_guid, target_guid, actor_image, target_image, start_module, start_function,
       coalesce(kind = 'sysmon:8', false) AS sysmon
FROM events
WHERE family = 'thread' AND ts IS NOT NULL;

-- Image loads (family 'image') with the ntdll test of spec 3.7 / docs/detections.md section 5: user-mode
-- (is_system_mode false or unknown), a non-empty path that contains `ntdll.dll` case-insensitively.
-- position() rather than LIKE: Spark's LIKE treats the backslash as an escape, and these paths are full of them.
CREATE OR REPLACE VIEW image_loads AS
SELECT host, event_id, ts,
       epoch_us(ts) AS us,  -- duckdb: epoch_us (Spark: unix_micros)
       kind, actor_pid, target_pid, image_base, image_size, image_path, is_system_mode,
       coalesce(NOT is_system_mode, true) AND image_path <> ''
           AND position('ntdll.dll' IN lower(image_path)) > 0 AS is_ntdll
FROM events
WHERE family = 'image' AND ts IS NOT NULL;

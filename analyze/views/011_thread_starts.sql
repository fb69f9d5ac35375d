-- Thread starts (family 'thread') with the derived facts of docs/detections.md "Derived facts per row" and the
-- kernel marks of section 4 (spec 3.5/3.6). Unknown facts never fire: every derived flag is coalesced to false,
-- so a source that does not carry a column (IOCTL records carry no start-region type) cannot raise a rule from it.
-- Bit values are written in decimal with their hex in comments, because DuckDB reads `0x20` as `0 AS x20`.
CREATE OR REPLACE VIEW thread_starts AS
SELECT *,
       CASE WHEN remote THEN 1 ELSE 0 END              -- REMOTE_THREAD 0x01
     + CASE WHEN outside THEN 2 ELSE 0 END             -- OUTSIDE_IMAGE 0x02
     + CASE WHEN non_image_exec THEN 4 ELSE 0 END      -- NON_IMAGE_EXEC 0x04
     + CASE WHEN mem THEN 8 ELSE 0 END                 -- MEMORY_INTENT 0x08
     + CASE WHEN ctx THEN 16 ELSE 0 END                -- THREAD_CONTEXT_INTENT 0x10
     + CASE WHEN dup THEN 32 ELSE 0 END AS marks       -- DUP_HANDLE_INTENT 0x20
FROM (
    SELECT host, event_id, ts,
           epoch_us(ts) AS us,  -- duckdb: epoch_us (Spark: unix_micros)
           kind, actor_pid, target_pid, tid,
           corr_flags, corr_access_mask, corr_age_ms,
           start_address, image_base, image_size, start_region_protect, start_region_type,
           coalesce(actor_pid <> target_pid, false) AS remote,
           coalesce(actor_pid <> target_pid AND got_start AND start_region_exec AND start_region_status >= 0
                    AND start_region_type <> 16777216, false) AS non_image_exec,  -- MEM_IMAGE 0x1000000
           coalesce(outside_main_image, false) AS outside,
           coalesce(corr_flags, 0) & 2 <> 0 AS ctx,  -- THREAD_CONTEXT 0x2
           coalesce(corr_flags, 0) & 1 <> 0 AS mem,  -- PROCESS_MEMORY 0x1
           coalesce(corr_flags, 0) & 4 <> 0 AS dup   -- DUP_HANDLE 0x4
    FROM events
    WHERE family = 'thread' AND ts IS NOT NULL
) AS t;

-- The evaluation steps of the controller's TI-assisted chain (spec 3.11, docs/detections.md section 9), each with
-- its (actor, target) and controller marks: CREATE_SUSPENDED 1, TI_ALLOC_RW_LARGE 2, TI_WRITE_VM 4,
-- TI_PROTECT_RX 8, THREAD_START_NON_IMAGE_EXEC 16, THREAD_START_OUTSIDE_IMAGE 32, THREAD_CONTEXT_INTENT 64,
-- REMOTE_THREAD_INTENT 128, IMAGE_DRIFT 256, TXF_SUSPECT 512. Steps without marks do nothing and are dropped.
--   * ETW thread rows only (IOCTL thread records were never the controller's input); sub-order 0.
--   * the kernel detections reconstructed by the rule views (the controller consumed the live
--     DetectionTelemetry, which agrees with them by construction), right after their trigger row in rule order:
--     `sub` = the catalogue's rule_order, so (us, event_id, sub) is the controller's processing order.
--   * TI rows, target 0 -> caller.
-- The start-outside-image test is unsigned 64-bit as in the controller: addresses are stored as two's-complement
-- BIGINT, so they are lifted to DECIMAL(38,0) (+2^64 when negative), and an end past 2^64 - 1 counts as outside.
CREATE OR REPLACE VIEW controller_steps AS
WITH thread_rows AS (
    SELECT *,
           CAST(start_address AS DECIMAL(38, 0))
               + CASE WHEN start_address < 0 THEN CAST('18446744073709551616' AS DECIMAL(38, 0)) ELSE 0 END AS u_start,
           CAST(image_base AS DECIMAL(38, 0))
               + CASE WHEN image_base < 0 THEN CAST('18446744073709551616' AS DECIMAL(38, 0)) ELSE 0 END AS u_base,
           CAST(image_size AS DECIMAL(38, 0))
               + CASE WHEN image_size < 0 THEN CAST('18446744073709551616' AS DECIMAL(38, 0)) ELSE 0 END AS u_size
    FROM thread_starts
    WHERE kind = 'sleepwalker:etw:ThreadTelemetry' AND target_pid <> 0
),
kernel_detections AS (
    SELECT rule, host, trigger_event_id, ts, us, actor_pid, target_pid FROM thread_rule_matches
    UNION ALL
    SELECT rule, host, trigger_event_id, ts, us, actor_pid, target_pid FROM apc_monitor
),
ti_rows AS (
    SELECT *, lower(coalesce(event_name, '')) AS name FROM ti_ops
),
steps AS (
    SELECT host, event_id, ts, us, 0 AS sub, actor_pid AS actor, target_pid AS target,
           CASE WHEN coalesce(image_base <> 0 AND image_size <> 0 AND start_address <> 0
                              AND (u_start < u_base OR u_start >= u_base + u_size
                                   OR u_base + u_size > CAST('18446744073709551615' AS DECIMAL(38, 0))), false)
                THEN 32 + 256 ELSE 0 END
         | CASE WHEN coalesce(start_region_type <> 16777216  -- MEM_IMAGE 0x1000000
                              AND start_region_protect & 255 IN (16, 32, 64, 128), false)  -- X, XR, XRW, XWCOPY
                THEN 16 + 256 ELSE 0 END
           | CASE WHEN ctx THEN 64 ELSE 0 END
           | CASE WHEN coalesce(actor_pid <> 0 AND target_pid <> 0 AND actor_pid <> target_pid AND corr_flags <> 0,
                                false) THEN 128 ELSE 0 END AS marks
    FROM thread_rows
    UNION ALL
    SELECT d.host, d.trigger_event_id, d.ts, d.us, c.rule_order, d.actor_pid,
           CASE WHEN d.target_pid = 0 THEN d.actor_pid ELSE d.target_pid END,
           CASE WHEN c.name IN ('THREAD_HIJACK_INTENT', 'THREAD_ACTIVITY_WITH_THREAD_CONTEXT_INTENT',
                                'REMOTE_APC_CREATION_SUSPECT') THEN 64
                WHEN c.name = 'REMOTE_THREAD_WITH_RECENT_HANDLE_INTENT' THEN 128
                WHEN c.name IN ('REMOTE_THREAD_OUTSIDE_MAIN_IMAGE', 'REMOTE_THREAD_START_IN_NON_IMAGE_EXECUTABLE_REGION',
                                'POSSIBLE_MANUAL_MAP_OR_HOLLOWING_EXECUTION') THEN 32 + 16 + 256
                ELSE 0 END
    FROM kernel_detections AS d
    JOIN catalogue AS c ON c.rule = d.rule
    UNION ALL
    SELECT host, event_id, ts, us, 0, actor_pid, target,
           CASE WHEN position('createprocess' IN name) > 0
                     AND (coalesce(creation_flags & 4 <> 0, false) OR position('suspend' IN name) > 0)
                THEN 1 ELSE 0 END
         | CASE WHEN position('txf' IN name) > 0 OR position('transact' IN name) > 0
                     OR position('ktransaction' IN name) > 0 OR position('rollback' IN name) > 0
                THEN 512 ELSE 0 END
         | CASE WHEN target = 0 THEN 0
                WHEN task = 1 AND region_size >= 32768 AND protect & 255 IN (4, 8, 64, 128) THEN 2
                WHEN task = 7 THEN 4
                WHEN task = 2 AND protect & 255 IN (16, 32, 64, 128)
                     AND (old_protect = 0 OR old_protect & 255 IN (4, 8, 64, 128)) THEN 8
                ELSE 0 END
    FROM ti_rows
)
SELECT * FROM steps WHERE marks <> 0 AND target IS NOT NULL;

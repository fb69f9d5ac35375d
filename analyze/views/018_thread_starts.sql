-- Thread starts (family 'thread') with the derived facts of docs/detections.md "Derived facts per row" and the
-- kernel marks of section 4 (spec 3.5/3.6). Unknown facts never fire: every derived flag is coalesced to false,
-- so a source that does not carry a column (IOCTL records carry no start-region type) cannot raise a rule from it.
-- Bit values are written in decimal with their hex in comments, because DuckDB reads `0x20` as `0 AS x20`.
--
-- Sysmon 8 (kind 'sysmon:8', docs/detections.md "Sysmon-derived facts") carries none of the driver's thread facts,
-- so three are derived here from what Sysmon does record, and every rule and chain then runs on them unchanged:
--   * correlation: the handle rows (Sysmon 10, through the driver's gate in handle_ops) of the same actor and target
--     process (host and pids, and the process GUIDs where both rows carry them: pids are reused) before the thread
--     in (ts, event_id) order and at most 5000 ms older (floor ms), as QueryRecentIntent(actor, target, 5000)
--     finds them (spec 3.5 step 4): flags PROCESS_MEMORY (a process access always is, spec 3.1), mask the OR of
--     their masks, age the floor ms since the newest. Sysmon 10 logs no thread handles and does not say whether
--     an access was a duplicate, so THREAD_CONTEXT and DUP_HANDLE are never derived; no access logged leaves the
--     correlation NULL (unknown: Sysmon's configuration may not log every access), never 0. The driver's fallback
--     to another process's intent (QueryRecentIntentForTarget) is not followed: Sysmon names the real creator.
--     These are thread_intents' rows of the thread, so they are exactly the detection's evidence.
--   * non-image start: a remote start in no module (StartModule '' ) is the nearest Sysmon has to "executable
--     non-image region": the region type follows, the protection is not recorded.
--   * outside the main image: a start in no module, or in a module that is not the target's image (compared as
--     paths, case-insensitively); unknown (false) when the target image is not known. Stricter than the driver's
--     own flag, whose header-page ImageSize puts nearly every start outside [Q].
CREATE OR REPLACE VIEW thread_starts AS
WITH sysmon_intents AS (  -- the Sysmon threads' intents(t), as thread_intents pairs them
    SELECT i.thread_event_id AS event_id, bit_or(i.access_mask) AS mask, max(i.us) AS newest_us
    FROM thread_intents AS i
    JOIN thread_rows AS t ON t.event_id = i.thread_event_id AND t.sysmon
    GROUP BY i.thread_event_id
),
facts AS (
    SELECT r.host, r.event_id, r.ts, r.us, r.kind, r.actor_pid, r.target_pid, r.tid,
           CASE WHEN NOT r.sysmon THEN r.corr_flags WHEN i.event_id IS NOT NULL THEN CAST(1 AS BIGINT) END
               AS corr_flags,  -- PROCESS_MEMORY 0x1
           CASE WHEN r.sysmon THEN i.mask ELSE r.corr_access_mask END AS corr_access_mask,
           CASE WHEN r.sysmon THEN (r.us - i.newest_us) // 1000 ELSE r.corr_age_ms END  -- duckdb: // (Spark: DIV)
               AS corr_age_ms,
           r.start_address, r.image_base, r.image_size, r.start_region_protect, r.start_region_type,
           r.actor_guid, r.target_guid, r.actor_image, r.target_image, r.start_module, r.start_function,
           coalesce(r.actor_pid <> r.target_pid, false) AS remote,
           CASE WHEN r.sysmon
                THEN coalesce(r.actor_pid <> r.target_pid AND r.got_start AND r.start_module = '', false)
                ELSE coalesce(r.actor_pid <> r.target_pid AND r.got_start AND r.start_region_exec
                              AND r.start_region_status >= 0 AND r.start_region_type <> 16777216, false)  -- MEM_IMAGE
           END AS non_image_exec,
           CASE WHEN r.sysmon
                THEN coalesce(r.start_module = ''
                              OR (r.target_image <> '<unknown process>'
                                  AND lower(r.start_module) <> lower(r.target_image)), false)
                ELSE coalesce(r.outside_main_image, false)
           END AS outside
    FROM thread_rows AS r
    LEFT JOIN sysmon_intents AS i ON i.event_id = r.event_id
)
SELECT *,
       CASE WHEN remote THEN 1 ELSE 0 END              -- REMOTE_THREAD 0x01
     + CASE WHEN outside THEN 2 ELSE 0 END             -- OUTSIDE_IMAGE 0x02
     + CASE WHEN non_image_exec THEN 4 ELSE 0 END      -- NON_IMAGE_EXEC 0x04
     + CASE WHEN mem THEN 8 ELSE 0 END                 -- MEMORY_INTENT 0x08
     + CASE WHEN ctx THEN 16 ELSE 0 END                -- THREAD_CONTEXT_INTENT 0x10
     + CASE WHEN dup THEN 32 ELSE 0 END AS marks       -- DUP_HANDLE_INTENT 0x20
FROM (
    SELECT *,
           coalesce(corr_flags, 0) & 2 <> 0 AS ctx,  -- THREAD_CONTEXT 0x2
           coalesce(corr_flags, 0) & 1 <> 0 AS mem,  -- PROCESS_MEMORY 0x1
           coalesce(corr_flags, 0) & 4 <> 0 AS dup   -- DUP_HANDLE 0x4
    FROM facts
) AS t;

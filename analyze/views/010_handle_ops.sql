-- Handle operations (family 'handle': IOCTL records, ETW HandleTelemetry, Sysmon 10), the input of spec 3.2/3.3
-- and of every thread row's `intents` (docs/detections.md ground rules, sections 1-3).
-- Rows without a time cannot be placed in any window, so they are left out here (swk analyze counts them).
-- `us` is the time in integer microseconds: every window compares integer µs bounds derived from the floor-ms rule.
-- Sysmon 10 logs every process access its configuration includes, whatever the mask; the driver's gate (spec 3.1
-- step 4) records an intent and emits telemetry only when a process mask has a bit of PROCESS_ALL_ACCESS
-- (0x1FFFFF = 2097151). A Sysmon access without one was never a handle operation to the driver, so it is left out
-- (a NULL mask is unknown and kept). The GUIDs and images are Sysmon's (NULL for Sleepwalker sources): the GUIDs
-- join a thread to its intents across pid reuse (thread_intents), the images name the processes of a detection.
-- A Sysmon 10 row's class (docs/detections.md "Sysmon-derived facts") is the reader's, from the innermost CallTrace
-- frame (spec 4.2's heuristic), raised to DIRECT-SYSCALL-SUSPECT (2) when any of the first 8 frames (the ones the
-- driver keeps, spec 3.1 step 8) lies in no module (`UNKNOWN(...)`: address, no module): to the driver that frame
-- is not MEM_IMAGE, so StackSpoofSuspect holds with an executable origin, and within the first 6 the module chain
-- and unwind checks fail too: class 2 by spec 3.2 whatever the other checks say. The checks that need the process's
-- memory (return-address bytes, unwind tables, TEB bounds) are not in the log, so no other stack raises the class.
-- Two branches, so the frames (the case's widest column) are read only where a Sysmon 10 row can be: the row groups
-- of Sleepwalker sources are skipped by their `kind` statistics, and a single CASE over every row cost 10 M-event cases
-- ~1 s more than the whole view did before.
CREATE OR REPLACE VIEW handle_ops AS
SELECT host, event_id, ts,
       epoch_us(ts) AS us,  -- duckdb: epoch_us (Spark: unix_micros)
       kind, actor_pid, target_pid, access_mask, class_id,
       class_name, flags, is_thread_object, is_duplicate, actor_guid, target_guid, actor_image, target_image
FROM events
WHERE family = 'handle' AND ts IS NOT NULL AND coalesce(kind, '') <> 'sysmon:10'
UNION ALL
SELECT host, event_id, ts,
       epoch_us(ts) AS us,  -- duckdb: epoch_us (Spark: unix_micros)
       kind, actor_pid, target_pid, access_mask,
       CASE WHEN  -- duckdb: 1-based list subscripts (Spark: element_at)
               (frames[1].address IS NOT NULL AND frames[1].module IS NULL)
            OR (frames[2].address IS NOT NULL AND frames[2].module IS NULL)
            OR (frames[3].address IS NOT NULL AND frames[3].module IS NULL)
            OR (frames[4].address IS NOT NULL AND frames[4].module IS NULL)
            OR (frames[5].address IS NOT NULL AND frames[5].module IS NULL)
            OR (frames[6].address IS NOT NULL AND frames[6].module IS NULL)
            OR (frames[7].address IS NOT NULL AND frames[7].module IS NULL)
            OR (frames[8].address IS NOT NULL AND frames[8].module IS NULL)
            THEN 2 ELSE class_id END AS class_id,
       class_name, flags, is_thread_object, is_duplicate, actor_guid, target_guid, actor_image, target_image
FROM events
WHERE family = 'handle' AND ts IS NOT NULL AND kind = 'sysmon:10'
  AND coalesce(access_mask & 2097151 <> 0, true);

-- For each (host, actor, target) pair with a card: the pair's handle, thread, APC and TI rows from 30 s before its
-- first detection to 1 s after its last (the longest window a chain looks back, docs/detections.md), at most
-- $pair_rows per pair (the latest ones before the last detection kept, since those built the chain).
WITH pairs AS (
    SELECT host, actor_pid, target_pid, min(first_ts) AS lo, max(ts) AS hi
    FROM report_shown
    WHERE actor_pid IS NOT NULL AND target_pid IS NOT NULL AND target_pid <> 0
    GROUP BY ALL
    ORDER BY max(severity) DESC NULLS LAST, lo
    LIMIT $pairs
)
SELECT p.host, p.actor_pid, p.target_pid, e.event_id, e.ts, e.family, e.access_mask, e.is_thread_object,
       e.task, e.corr_flags, e.outside_main_image, e.start_region_type, e.start_region_exec, e.protect
FROM pairs AS p
JOIN events AS e
  ON e.host = p.host AND e.actor_pid = p.actor_pid AND e.target_pid = p.target_pid
 AND e.ts >= p.lo - INTERVAL 30 SECOND AND e.ts <= p.hi + INTERVAL 1 SECOND
WHERE e.family IN ('handle', 'thread', 'apc', 'ti')
QUALIFY row_number() OVER (PARTITION BY p.host, p.actor_pid, p.target_pid ORDER BY e.ts DESC, e.event_id DESC)
        <= $pair_rows
ORDER BY p.host, p.actor_pid, p.target_pid, e.ts, e.event_id;

-- The APC monitor (spec 3.3, docs/detections.md section 2), both rules, in the shared detection shape.
--
-- Route A (a host with any ApcTelemetry rows): each apc row is a detection the driver already let through its
-- cooldown; its evidence adds the first handle row of the same operation: same actor, target and mask, after the
-- apc row in (ts, event_id) order (the pre-callback writes ApcTelemetry first) and ms(apc, h) <= 1000
-- (h.us - a.us < 1001000 in floor ms).
--
-- Route B (no apc rows on the host): remote thread-object handle rows with SET_CONTEXT (0x10), kind 2 with
-- SUSPEND_RESUME (0x2), else kind 1, and a 2000 ms cooldown per (host, actor, target, kind): a row fires iff no
-- fired row of its key is less than 2000 ms (floor) older, i.e. greedily from the first row, the next fired row
-- is the first one at least 2000000 µs after the last fired one. That is a chain, not a LAG: set-based as
--   1. number the rows (`pos`) in (key, us, event_id) order; `key_pos` (the key's first pos) names the key;
--   2. the next-start pointer of each row: the first row of its key at least 2 s later, found with one sort of
--      the rows merged with "probe" rows at us + 2 s (a probe's rank in its key minus its own index is the count
--      of rows before it, so rank + 2 * key_pos - pos - 1 is the pos of the first row at or after it);
--   3. a recursive CTE that follows the pointers from each key's first row, one step per fired row.
-- All keys advance together, so the recursion's depth is the longest run of fired rows of one key, and a step
-- costs little (DuckDB keeps the pointer table's hash table across steps). Chosen over bursts + recursion and
-- over pointer doubling by measurement (README, "Analysis").
-- Not followed (docs/detections.md section 12): the driver's ring of 64 unkeyed cooldown slots, which heavy traffic
-- can overwrite to end a cooldown early; the `limits` view flags hosts with more than 64 fired intents in 2 s.
CREATE OR REPLACE VIEW apc_monitor AS
WITH RECURSIVE
route_b AS (
    SELECT h.*, CASE WHEN h.access_mask & 2 <> 0 THEN 2 ELSE 1 END AS apc_kind
    FROM handle_ops AS h
    WHERE h.is_thread_object AND h.actor_pid <> h.target_pid AND h.access_mask & 16 <> 0
      AND NOT EXISTS (SELECT 1 FROM apc_intents AS a WHERE a.host = h.host)
),
ordered AS (
    SELECT *,
           row_number() OVER (ORDER BY host, actor_pid, target_pid, apc_kind, us, event_id) AS pos,
           row_number() OVER k AS step_in_key,
           count(*) OVER (PARTITION BY host, actor_pid, target_pid, apc_kind) AS key_steps
    FROM route_b
    WINDOW k AS (PARTITION BY host, actor_pid, target_pid, apc_kind ORDER BY us, event_id)
),
probes AS (
    SELECT pos - step_in_key + 1 AS key_pos, us AS t, 1 AS is_row, pos, 0 AS last_pos FROM ordered
    UNION ALL
    SELECT pos - step_in_key + 1, us + 2000000, 0, pos, pos - step_in_key + key_steps FROM ordered
),
pointers AS MATERIALIZED (  -- duckdb: MATERIALIZED keeps the recursion from re-running the sort per step
    SELECT pos, CASE WHEN nxt <= last_pos THEN nxt END AS nxt
    FROM (
        SELECT pos, last_pos, is_row,
               row_number() OVER (PARTITION BY key_pos ORDER BY t, is_row, pos) + 2 * key_pos - pos - 1 AS nxt
        FROM probes
    ) AS ranked
    WHERE is_row = 0
),
fired (pos) AS (
    SELECT pos FROM ordered WHERE step_in_key = 1
    UNION ALL
    SELECT p.nxt FROM fired AS f JOIN pointers AS p ON p.pos = f.pos WHERE p.nxt IS NOT NULL
),
route_a AS (
    SELECT host, event_id, ts, us, actor_pid, target_pid, access_mask,
           CASE class_name WHEN 'REMOTE_APC_INTENT' THEN 'REMOTE_APC_CREATION_SUSPECT'
                           WHEN 'THREAD_CONTEXT_INTENT' THEN 'THREAD_HIJACK_INTENT/apc' END AS rule
    FROM apc_intents
    WHERE class_name IN ('REMOTE_APC_INTENT', 'THREAD_CONTEXT_INTENT')
),
same_operation AS (  -- bucketed band join as in thread_intents: the apc row looks in its bucket and the next
    SELECT apc_event_id, handle_event_id
    FROM (
        SELECT a.event_id AS apc_event_id, h.event_id AS handle_event_id,
               row_number() OVER (PARTITION BY a.event_id ORDER BY h.us, h.event_id) AS nth
        FROM (SELECT a.*, a.us // 1001000 + s.shift AS bucket  -- duckdb: // is integer division (Spark: DIV)
              FROM route_a AS a CROSS JOIN (VALUES (0), (1)) AS s(shift)) AS a
        JOIN handle_ops AS h
          ON h.host = a.host AND h.actor_pid = a.actor_pid AND h.target_pid = a.target_pid
         AND h.access_mask = a.access_mask AND h.us // 1001000 = a.bucket  -- duckdb: // (Spark: DIV)
         AND h.us < a.us + 1001000 AND (h.us > a.us OR (h.us = a.us AND h.event_id > a.event_id))
    ) AS candidates
    WHERE nth = 1
)
SELECT a.rule, a.host, a.actor_pid, a.target_pid, a.ts, a.us, a.event_id AS trigger_event_id,
       CAST(0 AS BIGINT) AS corr_flags, a.access_mask AS corr_access_mask, CAST(0 AS BIGINT) AS corr_age_ms,
       CAST(NULL AS BIGINT) AS marks, CAST(NULL AS VARCHAR) AS reason,
       CASE WHEN h.event_id IS NULL THEN [a.event_id]  -- duckdb: list literals (Spark: array(...))
            WHEN h.event_id < a.event_id THEN [h.event_id, a.event_id]  -- duckdb: list literal
            ELSE [a.event_id, h.event_id] END AS evidence,  -- duckdb: list literal
       least(a.ts, coalesce(h.ts, a.ts)) AS first_ts, greatest(a.ts, coalesce(h.ts, a.ts)) AS last_ts
FROM route_a AS a
LEFT JOIN same_operation AS o ON o.apc_event_id = a.event_id
LEFT JOIN handle_ops AS h ON h.event_id = o.handle_event_id
UNION ALL
SELECT CASE o.apc_kind WHEN 1 THEN 'REMOTE_APC_CREATION_SUSPECT' ELSE 'THREAD_HIJACK_INTENT/apc' END,
       o.host, o.actor_pid, o.target_pid, o.ts, o.us, o.event_id,
       CAST(0 AS BIGINT), o.access_mask, CAST(0 AS BIGINT), CAST(NULL AS BIGINT), CAST(NULL AS VARCHAR),
       [o.event_id], o.ts, o.ts  -- duckdb: list literal
FROM ordered AS o
JOIN fired AS f ON f.pos = o.pos;

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
--   1. number each key's rows (`step`) in (us, event_id) order;
--   2. the next-start pointer of each row: the first row of its key at least 2 s later, found with one sort of
--      the key's rows merged with "probe" rows at us + 2 s (a probe's running count of rows before it, plus one);
--   3. the chain from each key's first row along the pointers, by pointer doubling over the key's pointer list as
--      in mark_chain_windows: log2(fired rows) rounds, all keys together, where a row-by-row recursion needs one
--      round per fired row (Spark runs each round as a job and caps recursion at 100 rounds).
-- Every step is per key, and a key includes the host, so hosts never mix and Spark can spread keys over executors.
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
           row_number() OVER (PARTITION BY host, actor_pid, target_pid, apc_kind ORDER BY us, event_id) AS step,
           count(*) OVER (PARTITION BY host, actor_pid, target_pid, apc_kind) AS key_steps
    FROM route_b
),
counted AS (  -- a probe's `seen` is the count of its key's rows before it: the next row at or after it is seen + 1
    SELECT host, actor_pid, target_pid, apc_kind, step, is_row, key_steps,
           CAST(sum(is_row) OVER (PARTITION BY host, actor_pid, target_pid, apc_kind ORDER BY t, is_row, step
                                  ROWS UNBOUNDED PRECEDING) AS BIGINT) AS seen
    FROM (SELECT host, actor_pid, target_pid, apc_kind, step, key_steps, us AS t, 1 AS is_row FROM ordered
          UNION ALL
          SELECT host, actor_pid, target_pid, apc_kind, step, key_steps, us + 2000000, 0 FROM ordered) AS merged
),
jumps AS (  -- per key, the row that would fire next after each row, NULL past the last row
    SELECT host, actor_pid, target_pid, apc_kind,
           array_agg(CASE WHEN seen < key_steps THEN seen + 1 END ORDER BY step) AS jump
    FROM counted
    WHERE is_row = 0
    GROUP BY host, actor_pid, target_pid, apc_kind
),
doubling (host, actor_pid, target_pid, apc_kind, jump, reached) AS (
    SELECT host, actor_pid, target_pid, apc_kind, jump, [CAST(1 AS BIGINT)] FROM jumps  -- duckdb: list literal
    UNION ALL
    SELECT host, actor_pid, target_pid, apc_kind,
           list_transform(jump, lambda i: jump[i]),  -- duckdb: list lambda, 1-based subscript (Spark: transform)
           list_concat(reached, list_filter(list_transform(reached, lambda i: jump[i]),  -- duckdb: list lambdas
                                            lambda i: i IS NOT NULL))  -- duckdb: list lambda (Spark: filter)
    FROM doubling
    WHERE jump[1] IS NOT NULL  -- duckdb: 1-based subscript
),
fired AS (
    SELECT host, actor_pid, target_pid, apc_kind, unnest(reached) AS step  -- duckdb: unnest (Spark: explode)
    FROM doubling
    WHERE jump[1] IS NULL  -- duckdb: 1-based subscript
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
JOIN fired AS f
  ON f.host = o.host AND f.actor_pid = o.actor_pid AND f.target_pid = o.target_pid AND f.apc_kind = o.apc_kind
 AND f.step = o.step;

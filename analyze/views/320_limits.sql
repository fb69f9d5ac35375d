-- Where a case crosses what the SQL cannot follow (docs/detections.md section 12), one row per host and limit
-- crossed; `swk analyze` prints each as a warning on stderr.
--   mark-chain-table / controller-table: the driver and the controller keep 256 entries and treat an entry as
--     stale after 60000 ms without a step; with more than 256 keys seen within 60 s the oldest is evicted and its
--     chain restarts, which per-key SQL does not do. Counted as distinct keys with a step in 60 s windows that
--     start every 30 s (two 30 s slots each: hash aggregates only), over every key, including those that can
--     never emit. The stale take-over quirk under 256 keys is not flagged: it depends on slot order only the
--     driver knows.
--   apc-cooldown-ring: the APC monitor's 64 unkeyed cooldown slots; more than 64 intents let through within
--     2000 ms (floor) on a host can overwrite a slot still cooling down (route B only; route A rows are the
--     driver's own output).
CREATE OR REPLACE VIEW limits AS
WITH slots AS (
    SELECT DISTINCT engine, host, key_actor, key_target, us // 30000000 AS slot  -- duckdb: // (Spark: DIV)
    FROM mark_chain_steps
),
spans AS (
    SELECT engine, host, slot - s.shift AS span,
           count(DISTINCT (key_actor, key_target)) AS live_keys  -- duckdb: a row value (Spark: struct(...))
    FROM slots CROSS JOIN (VALUES (0), (1)) AS s(shift)
    GROUP BY engine, host, slot - s.shift
),
apc_window AS (
    SELECT host, count(*) OVER (PARTITION BY host ORDER BY us RANGE BETWEEN 1999999 PRECEDING AND CURRENT ROW) AS n
    FROM apc_monitor AS m
    WHERE NOT EXISTS (SELECT 1 FROM apc_intents AS a WHERE a.host = m.host)
)
SELECT host, CASE engine WHEN 'kernel' THEN 'mark-chain-table' ELSE 'controller-table' END AS limit_name,
       max(live_keys) AS observed, 256 AS threshold
FROM spans
GROUP BY engine, host
HAVING max(live_keys) > 256
UNION ALL
SELECT host, 'apc-cooldown-ring', max(n), 64
FROM apc_window
GROUP BY host
HAVING max(n) > 64;

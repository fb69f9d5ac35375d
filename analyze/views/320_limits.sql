-- Where a case crosses what the SQL cannot follow (docs/detections.md section 12), one row per host and limit
-- crossed; `swk analyze` prints each as a warning on stderr.
--   mark-chain-table / controller-table: the driver and the controller keep 256 entries; with more than 256 keys
--     live at once (a key stays live until 60000 ms after its last step, when the driver may take it over) the
--     oldest is evicted and its chain restarts, which per-key SQL does not do. Measured as the peak number of
--     overlapping live intervals per host: per key, steps less than 60001 ms apart form one interval
--     [first, last + 60001 ms); a sweep (+1 at each start, -1 at each end, ends first at equal times) counts them.
--     The stale take-over quirk under 256 keys is not flagged: it depends on slot order only the driver knows.
--   apc-cooldown-ring: the APC monitor's 64 unkeyed cooldown slots; more than 64 intents let through within
--     2000 ms (floor) on a host can overwrite a slot still cooling down (route B only; route A rows are the
--     driver's own output).
CREATE OR REPLACE VIEW limits AS
WITH key_steps AS (
    SELECT engine, host, key_pos, us,
           coalesce(us - lag(us) OVER (PARTITION BY key_pos ORDER BY pos) >= 60001000, true) AS opens
    FROM mark_chain_windows
),
intervals AS (
    SELECT engine, host, min(us) AS opened, max(us) + 60001000 AS closed
    FROM (SELECT *, sum(CASE WHEN opens THEN 1 ELSE 0 END) OVER (PARTITION BY key_pos ORDER BY us
                                                                  ROWS UNBOUNDED PRECEDING) AS island
          FROM key_steps) AS k
    GROUP BY engine, host, key_pos, island
),
sweep AS (
    SELECT engine, host,
           sum(delta) OVER (PARTITION BY engine, host ORDER BY t, delta ROWS UNBOUNDED PRECEDING) AS live_keys
    FROM (SELECT engine, host, opened AS t, 1 AS delta FROM intervals
          UNION ALL
          SELECT engine, host, closed, -1 FROM intervals) AS edges
),
apc_window AS (
    SELECT host, count(*) OVER (PARTITION BY host ORDER BY us RANGE BETWEEN 1999999 PRECEDING AND CURRENT ROW) AS n
    FROM apc_monitor
    WHERE host NOT IN (SELECT host FROM apc_intents WHERE host IS NOT NULL)
)
SELECT host, CASE engine WHEN 'kernel' THEN 'mark-chain-table' ELSE 'controller-table' END AS limit_name,
       max(live_keys) AS observed, 256 AS threshold
FROM sweep
GROUP BY engine, host
HAVING max(live_keys) > 256
UNION ALL
SELECT host, 'apc-cooldown-ring', max(n), 64
FROM apc_window
GROUP BY host
HAVING max(n) > 64;

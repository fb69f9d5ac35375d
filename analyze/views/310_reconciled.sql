-- Every detection of docs/detections.md section 11 before ids and evidence: each reconstructed detection reconciled
-- with the live ones (section 10), plus every live detection nothing reconstructed matches.
-- Matching is within (host, name, actor, target) by mutual nearest time: r's nearest live row (ties: lower event
-- id) must have r as its nearest reconstructed row (ties: lower detection id, i.e. the id order of section 11),
-- at most 2000 ms apart in floor ms (|Δµs| < 2001000). Only pairs inside that bound are formed: if the nearest row
-- overall were farther, there is no match either way, so the band join loses nothing. It is bucketed like
-- thread_intents (live rows in their 2001000 µs bucket and both neighbours) so a busy group is never paired whole.
-- Nearest is an arg_min per side (a hash aggregate): a row_number per side is a window over as many partitions as
-- detections, several times slower. Within one live row's candidates host, name, actor and target are equal, so
-- (distance, us, trigger, rule order) is the id order of section 11.
-- Status: confirmed / reconstructed-only, or `reconstructed` on a host without any live rows (nothing to
-- reconcile with); unmatched live rows are live-only, with their own fields (section 11). Kept apart from
-- `detections` so a summary or a count never computes ids or evidence lists (DuckDB does not drop an unused
-- join or window once a query wraps the view).
CREATE OR REPLACE VIEW reconciled AS
WITH pairs AS (
    SELECT r.trigger_event_id, r.rule, r.us, r.rule_order, r.host, r.actor_pid, r.target_pid,
           l.event_id AS live_id, abs(l.us - r.us) AS distance
    FROM reconstructed AS r
    JOIN (
        SELECT l.*, l.us // 2001000 + s.shift AS bucket  -- duckdb: // is integer division (Spark: DIV)
        FROM live_detections AS l CROSS JOIN (VALUES (-1), (0), (1)) AS s(shift)
    ) AS l
      ON l.host = r.host AND l.name = r.name AND l.actor_pid = r.actor_pid AND l.target_pid = r.target_pid
     AND l.bucket = r.us // 2001000  -- duckdb: // (Spark: DIV)
     AND l.us > r.us - 2001000 AND l.us < r.us + 2001000
),
nearest_live AS (  -- each reconstructed row's nearest live row (ties: lower event id)
    SELECT trigger_event_id, rule,
           arg_min(live_id, (distance, live_id)) AS live_id  -- duckdb: a row value orders (Spark: struct(...))
    FROM pairs
    GROUP BY trigger_event_id, rule
),
nearest_reconstructed AS (  -- each live row's nearest reconstructed row (ties: the lower detection id)
    SELECT live_id,
           arg_min((trigger_event_id, rule),  -- duckdb: row values (Spark: struct(...))
                   (distance, us, trigger_event_id, rule_order)) AS detection
    FROM pairs
    GROUP BY live_id
),
matches AS MATERIALIZED (  -- duckdb: MATERIALIZED (read twice below)
    SELECT n.trigger_event_id, n.rule, n.live_id
    FROM nearest_live AS n
    JOIN nearest_reconstructed AS m
      ON m.live_id = n.live_id AND m.detection = (n.trigger_event_id, n.rule)  -- duckdb: a row value
),
live_hosts AS (
    SELECT DISTINCT host FROM live_detections
)
SELECT r.host, r.rule, r.name, r.severity, r.reason, r.actor_pid, r.target_pid, r.ts,
       r.corr_flags, r.corr_access_mask, r.corr_age_ms, r.marks, r.attack, r.trigger_event_id,
       CASE WHEN m.live_id IS NOT NULL THEN 'confirmed'
            WHEN h.host IS NOT NULL THEN 'reconstructed-only'
            ELSE 'reconstructed' END AS status,
       m.live_id AS live_event_id, r.engine, r.rule_order
FROM reconstructed AS r
LEFT JOIN matches AS m ON m.trigger_event_id = r.trigger_event_id AND m.rule = r.rule
LEFT JOIN live_hosts AS h ON h.host = r.host
UNION ALL
SELECT l.host, l.rule, l.name, l.severity, l.reason, l.actor_pid, l.target_pid, l.ts,
       l.corr_flags, l.corr_access_mask, l.corr_age_ms, l.marks, l.attack,
       l.event_id, 'live-only', l.event_id, l.engine, l.rule_order
FROM live_detections AS l
LEFT JOIN matches AS m ON m.live_id = l.event_id
WHERE m.live_id IS NULL;

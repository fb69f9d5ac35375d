-- The detections table of docs/detections.md section 11: every reconstructed detection, reconciled with the live
-- ones (section 10), plus every live detection nothing reconstructed matches.
-- Matching is within (host, name, actor, target) by mutual nearest time: r's nearest live row (ties: lower event
-- id) must have r as its nearest reconstructed row (ties: lower detection id, i.e. the id order of section 11),
-- at most 2000 ms apart in floor ms (|Δµs| < 2001000). Only pairs inside that bound are formed: if the nearest row overall were farther, there is
-- no match either way, so the band join loses nothing and never pairs whole groups.
-- Status: confirmed / reconstructed-only, or `reconstructed` on a host without any live rows (nothing to
-- reconcile with); unmatched live rows are live-only, with their own fields (section 11). The evidence is joined
-- last, so a query that reads none of it never builds the lists.
CREATE OR REPLACE VIEW detections AS
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
matches AS (
    SELECT trigger_event_id, rule, live_id
    FROM (
        SELECT *,
               row_number() OVER (PARTITION BY trigger_event_id, rule ORDER BY distance, live_id) AS nearest_live,
               row_number() OVER (PARTITION BY live_id ORDER BY distance, us, trigger_event_id, rule_order, host,
                                                                actor_pid, target_pid) AS nearest_reconstructed
        FROM pairs
    ) AS ranked
    WHERE nearest_live = 1 AND nearest_reconstructed = 1
),
reconciled AS (
    SELECT r.host, r.rule, r.name, r.severity, r.reason, r.actor_pid, r.target_pid, r.ts, e.first_ts, e.last_ts,
           r.corr_flags, r.corr_access_mask, r.corr_age_ms, r.marks, r.attack, e.evidence, r.trigger_event_id,
           CASE WHEN m.live_id IS NOT NULL THEN 'confirmed'
                WHEN EXISTS (SELECT 1 FROM live_detections AS l WHERE l.host = r.host) THEN 'reconstructed-only'
                ELSE 'reconstructed' END AS status,
           m.live_id AS live_event_id, r.engine, r.rule_order
    FROM reconstructed AS r
    LEFT JOIN matches AS m ON m.trigger_event_id = r.trigger_event_id AND m.rule = r.rule
    LEFT JOIN evidence AS e ON e.trigger_event_id = r.trigger_event_id AND e.rule = r.rule
    UNION ALL
    SELECT l.host, l.rule, l.name, l.severity, l.reason, l.actor_pid, l.target_pid, l.ts, l.ts, l.ts,
           l.corr_flags, l.corr_access_mask, l.corr_age_ms, l.marks, l.attack,
           [l.event_id],  -- duckdb: list literal (Spark: array(...))
           l.event_id, 'live-only', l.event_id, l.engine, l.rule_order
    FROM live_detections AS l
    WHERE NOT EXISTS (SELECT 1 FROM matches AS m WHERE m.live_id = l.event_id)
)
SELECT row_number() OVER (ORDER BY ts, trigger_event_id, coalesce(rule_order, 1000), host, actor_pid, target_pid)
           AS id,
       host, rule, name, severity, reason, actor_pid, target_pid, ts, first_ts, last_ts,
       corr_flags, corr_access_mask, corr_age_ms, marks, attack, evidence, trigger_event_id, status,
       live_event_id, engine
FROM reconciled;

-- Every detection of docs/detections.md section 11 before ids and evidence: each reconstructed detection reconciled
-- with the live ones (section 10), plus every live detection nothing reconstructed matches.
-- Matching is within (host, name, actor, target) between runs: a run is one group's detections of one side at one
-- time (the client JSONL's millisecond times make runs of two or more common). A reconstructed run and a live run
-- match when each is the other's nearest in time (a tie in distance: the earlier run), at most 2000 ms apart in
-- floor ms (|Δµs| < 2001000); matched runs pair their members off by rank (k-th by detection id order with k-th by
-- event id), and the longer run's leftovers stay unmatched. Pairing rows one by one instead would let both
-- detections of a run pick the same live row and leave the other live row unmatched.
-- Only run pairs inside the bound are formed: if the nearest run overall were farther, there is no match either
-- way, so the band join loses nothing. It is bucketed like thread_intents (live runs in their 2001000 µs bucket and
-- both neighbours) so a busy group is never paired whole. Nearest is an arg_min per side (a hash aggregate) over a
-- scalar key, distance * 2 + 1 for the later of two runs at one distance (at most one run lies each side).
-- Ranks come from a row_number only over matched runs where either run has two or more members (a window over
-- every run would be a partition per detection, several times slower); two runs of one pair off through their
-- runs' min ids.
-- Status: confirmed / reconstructed-only, or `reconstructed` on a host without any live rows (nothing to
-- reconcile with); unmatched live rows are live-only, with their own fields (section 11). Kept apart from
-- `detections` so a summary or a count never computes ids or evidence lists (DuckDB does not drop an unused
-- join or window once a query wraps the view).
CREATE OR REPLACE VIEW reconciled AS
WITH reconstructed_runs AS (
    SELECT host, name, actor_pid, target_pid, us, count(*) AS n,
           min(trigger_event_id) AS trigger_event_id, min(rule) AS rule  -- the member's, for a run of one
    FROM reconstructed
    GROUP BY host, name, actor_pid, target_pid, us
),
live_runs AS (
    SELECT host, name, actor_pid, target_pid, us, count(*) AS n, min(event_id) AS event_id
    FROM live_detections
    GROUP BY host, name, actor_pid, target_pid, us
),
run_pairs AS (
    SELECT r.host, r.name, r.actor_pid, r.target_pid, r.us AS r_us, l.us AS l_us,
           r.n AS r_n, l.n AS l_n, r.trigger_event_id, r.rule, l.event_id AS live_id,
           abs(l.us - r.us) * 2 + CASE WHEN l.us > r.us THEN 1 ELSE 0 END AS live_key,  -- r's view: the earlier wins
           abs(l.us - r.us) * 2 + CASE WHEN r.us > l.us THEN 1 ELSE 0 END AS reconstructed_key
    FROM reconstructed_runs AS r
    JOIN (
        SELECT l.*, l.us // 2001000 + s.shift AS bucket  -- duckdb: // is integer division (Spark: DIV)
        FROM live_runs AS l CROSS JOIN (VALUES (-1), (0), (1)) AS s(shift)
    ) AS l
      ON l.host = r.host AND l.name = r.name AND l.actor_pid = r.actor_pid AND l.target_pid = r.target_pid
     AND l.bucket = r.us // 2001000  -- duckdb: // (Spark: DIV)
     AND l.us > r.us - 2001000 AND l.us < r.us + 2001000
),
nearest_live AS (  -- each reconstructed run's nearest live run, with what a pair of runs of one needs
    SELECT host, name, actor_pid, target_pid, r_us,
           arg_min(l_us, live_key) AS l_us, min(r_n) AS r_n, arg_min(l_n, live_key) AS l_n,
           min(trigger_event_id) AS trigger_event_id, min(rule) AS rule, arg_min(live_id, live_key) AS live_id
    FROM run_pairs
    GROUP BY host, name, actor_pid, target_pid, r_us
),
nearest_reconstructed AS (  -- each live run's nearest reconstructed run
    SELECT host, name, actor_pid, target_pid, l_us, arg_min(r_us, reconstructed_key) AS r_us
    FROM run_pairs
    GROUP BY host, name, actor_pid, target_pid, l_us
),
matched_runs AS MATERIALIZED (  -- duckdb: MATERIALIZED (read three times below)
    SELECT n.*
    FROM nearest_live AS n
    JOIN nearest_reconstructed AS m
      ON m.host = n.host AND m.name = n.name AND m.actor_pid = n.actor_pid AND m.target_pid = n.target_pid
     AND m.l_us = n.l_us AND m.r_us = n.r_us
),
reconstructed_ranks AS (  -- the members of matched runs of two or more, ranked in detection id order
    SELECT r.host, r.name, r.actor_pid, r.target_pid, m.l_us, r.trigger_event_id, r.rule,
           row_number() OVER (PARTITION BY r.host, r.name, r.actor_pid, r.target_pid, r.us
                              ORDER BY r.trigger_event_id, r.rule_order) AS k
    FROM matched_runs AS m
    JOIN reconstructed AS r
      ON r.host = m.host AND r.name = m.name AND r.actor_pid = m.actor_pid AND r.target_pid = m.target_pid
     AND r.us = m.r_us
    WHERE m.r_n > 1 OR m.l_n > 1
),
live_ranks AS (  -- the same on the live side, in event id order
    SELECT l.host, l.name, l.actor_pid, l.target_pid, l.us, l.event_id,
           row_number() OVER (PARTITION BY l.host, l.name, l.actor_pid, l.target_pid, l.us ORDER BY l.event_id) AS k
    FROM matched_runs AS m
    JOIN live_detections AS l
      ON l.host = m.host AND l.name = m.name AND l.actor_pid = m.actor_pid AND l.target_pid = m.target_pid
     AND l.us = m.l_us
    WHERE m.r_n > 1 OR m.l_n > 1
),
matches AS MATERIALIZED (  -- duckdb: MATERIALIZED (read twice below)
    SELECT trigger_event_id, rule, live_id
    FROM matched_runs
    WHERE r_n = 1 AND l_n = 1
    UNION ALL
    SELECT r.trigger_event_id, r.rule, l.event_id
    FROM reconstructed_ranks AS r
    JOIN live_ranks AS l
      ON l.host = r.host AND l.name = r.name AND l.actor_pid = r.actor_pid AND l.target_pid = r.target_pid
     AND l.us = r.l_us AND l.k = r.k
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

-- Every detection without its evidence, computed once per report: the summary, the groups, the cards and the rate
-- strip all read it. Not `detections`: its first and last times come from the evidence lists, which DuckDB would
-- build for every detection (10 s of a 10 M-event case) to draw a few hundred; the carded ones get theirs in
-- shown_times.sql and their lists in cited.sql. The columns are those of `detections` but evidence, first_ts and
-- last_ts, joined the same way. Detections the allow-list suppresses are here too (`allowed_by`); the report's
-- `report_found` leaves them out and allowed.sql counts them.
CREATE OR REPLACE TEMP TABLE report_all AS
SELECT n.id, n.host, n.rule, n.name, n.severity, n.reason, n.actor_pid, n.target_pid, n.ts,
       n.corr_flags, n.corr_access_mask, n.corr_age_ms, n.marks, n.attack,
       f.confidence, f.derived_facts, f.actor_image, f.target_image, f.allowed_by,
       n.trigger_event_id, n.status, n.live_event_id, n.engine
FROM main.detection_ids AS n
LEFT JOIN main.detection_facts AS f ON f.trigger_event_id = n.trigger_event_id AND f.rule = coalesce(n.rule, n.name);

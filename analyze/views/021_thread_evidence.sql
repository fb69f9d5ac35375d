-- The evidence of each thread row whose recorded correlation is non-zero: the row plus its intents, as a sorted
-- list of event ids with the first and last time (docs/detections.md section 3 and "Evidence"). A thread row with
-- no correlation is its own only evidence, so it needs no row here. Kept apart from the rule matches, so that a
-- query that needs no evidence (the controller's steps, a count) never builds these lists: DuckDB drops a LEFT JOIN
-- to this view when no column of it is read, but not if the aggregate says DISTINCT (that becomes a CTE). No
-- DISTINCT is needed: the thread row and its intents (distinct handle rows, one bucket each) never repeat.
CREATE OR REPLACE VIEW thread_evidence AS
SELECT thread_event_id,
       array_agg(event_id ORDER BY event_id) AS evidence,
       min(ts) AS first_ts,
       max(ts) AS last_ts
FROM (
    SELECT thread_event_id, event_id, ts FROM thread_intents
    UNION ALL
    SELECT event_id, event_id, ts FROM thread_starts WHERE coalesce(corr_flags, 0) <> 0
) AS rows_
GROUP BY thread_event_id;

-- Thread rows with their evidence (the row plus its intents), the shared input of the seven per-thread rules of
-- docs/detections.md section 3. Aggregated once here rather than in each rule view: a busy (actor, target) pair
-- can have many intents per thread row.
CREATE OR REPLACE VIEW thread_rule_rows AS
SELECT t.*,
       coalesce(e.evidence, [t.event_id]) AS evidence,  -- duckdb: list literal (Spark: array(...))
       coalesce(e.first_ts, t.ts) AS first_ts,
       coalesce(e.last_ts, t.ts) AS last_ts
FROM thread_starts AS t
LEFT JOIN (
    SELECT thread_event_id,
           array_agg(DISTINCT event_id ORDER BY event_id) AS evidence,
           min(ts) AS first_ts,
           max(ts) AS last_ts
    FROM (
        SELECT thread_event_id, event_id, ts FROM thread_intents
        UNION ALL
        SELECT event_id, event_id, ts FROM thread_starts WHERE coalesce(corr_flags, 0) <> 0
    ) AS rows_
    GROUP BY thread_event_id
) AS e ON e.thread_event_id = t.event_id;

-- The per-thread rule matches in the detection shape, with their evidence: the thread row plus its intents
-- (docs/detections.md section 3), from thread_evidence for rows with a correlation, else the row alone.
CREATE OR REPLACE VIEW thread_rule_hits AS
SELECT m.*, CAST(NULL AS BIGINT) AS marks, CAST(NULL AS VARCHAR) AS reason,
       coalesce(e.evidence, [m.trigger_event_id]) AS evidence,  -- duckdb: list literal (Spark: array(...))
       coalesce(e.first_ts, m.ts) AS first_ts,
       coalesce(e.last_ts, m.ts) AS last_ts
FROM thread_rule_matches AS m
LEFT JOIN thread_evidence AS e ON e.thread_event_id = m.trigger_event_id;

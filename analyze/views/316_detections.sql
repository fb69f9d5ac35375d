-- The detections table of docs/detections.md section 11: `detection_ids` with each row's evidence, the
-- reconstructed evidence (the `evidence` view) or, for a live-only row, the live row itself, and the first and last
-- time over it.
CREATE OR REPLACE VIEW detections AS
SELECT n.id, n.host, n.rule, n.name, n.severity, n.reason, n.actor_pid, n.target_pid, n.ts,
       coalesce(e.first_ts, n.ts) AS first_ts, coalesce(e.last_ts, n.ts) AS last_ts,
       n.corr_flags, n.corr_access_mask, n.corr_age_ms, n.marks, n.attack,
       coalesce(e.evidence, [n.trigger_event_id]) AS evidence,  -- duckdb: list literal (Spark: array(...))
       n.trigger_event_id, n.status, n.live_event_id, n.engine
FROM detection_ids AS n
LEFT JOIN evidence AS e ON e.trigger_event_id = n.trigger_event_id AND e.rule = n.rule;

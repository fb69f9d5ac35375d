-- The detections table of docs/detections.md section 11: `detection_ids` with each row's evidence, the
-- reconstructed evidence (the `evidence` view) or, for a live-only row, the live row itself, and the first and last
-- time over it; and what it rests on and names (`detection_facts`: confidence, derived facts, the trigger row's
-- images, the allow-list entry that suppresses it), joined on the same key, rule or, outside the catalogue, name.
CREATE OR REPLACE VIEW detections AS
SELECT n.id, n.host, n.rule, n.name, n.severity, n.reason, n.actor_pid, n.target_pid, n.ts,
       coalesce(e.first_ts, n.ts) AS first_ts, coalesce(e.last_ts, n.ts) AS last_ts,
       n.corr_flags, n.corr_access_mask, n.corr_age_ms, n.marks, n.attack,
       f.confidence, f.derived_facts, f.actor_image, f.target_image, f.allowed_by,
       coalesce(e.evidence, [n.trigger_event_id]) AS evidence,  -- duckdb: list literal (Spark: array(...))
       n.trigger_event_id, n.status, n.live_event_id, n.engine
FROM detection_ids AS n
LEFT JOIN evidence AS e ON e.trigger_event_id = n.trigger_event_id AND e.rule = n.rule
LEFT JOIN detection_facts AS f ON f.trigger_event_id = n.trigger_event_id AND f.rule = coalesce(n.rule, n.name);

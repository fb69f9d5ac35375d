-- The detections table of docs/detections.md section 11: `reconciled` with its ids (1.. in the order ts, trigger,
-- rule order, host, actor, target; live-only rows use their own event id as trigger) and each row's evidence: the
-- reconstructed evidence (the `evidence` view) or, for a live-only row, the live row itself.
CREATE OR REPLACE VIEW detections AS
WITH numbered AS (
    SELECT row_number() OVER (ORDER BY ts, trigger_event_id, coalesce(rule_order, 1000), host, actor_pid, target_pid)
               AS id,
           *
    FROM reconciled
)
SELECT n.id, n.host, n.rule, n.name, n.severity, n.reason, n.actor_pid, n.target_pid, n.ts,
       coalesce(e.first_ts, n.ts) AS first_ts, coalesce(e.last_ts, n.ts) AS last_ts,
       n.corr_flags, n.corr_access_mask, n.corr_age_ms, n.marks, n.attack,
       coalesce(e.evidence, [n.trigger_event_id]) AS evidence,  -- duckdb: list literal (Spark: array(...))
       n.trigger_event_id, n.status, n.live_event_id, n.engine
FROM numbered AS n
LEFT JOIN evidence AS e ON e.trigger_event_id = n.trigger_event_id AND e.rule = n.rule;

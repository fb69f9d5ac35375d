-- The evidence of every reconstructed detection (docs/detections.md "Evidence" and each section's evidence rule),
-- keyed by (trigger_event_id, rule), which names one reconstructed detection. Grouped on that key so that
-- `detections` can LEFT JOIN it and DuckDB can drop the join when a query reads no evidence (a summary, a count).
CREATE OR REPLACE VIEW evidence AS
SELECT trigger_event_id, rule,
       any_value(evidence) AS evidence, any_value(first_ts) AS first_ts, any_value(last_ts) AS last_ts
FROM (
    SELECT trigger_event_id, rule, evidence, first_ts, last_ts FROM handle_rule_hits
    UNION ALL
    SELECT trigger_event_id, rule, evidence, first_ts, last_ts FROM apc_monitor
    UNION ALL
    SELECT trigger_event_id, rule, evidence, first_ts, last_ts FROM thread_rule_hits
    UNION ALL
    SELECT trigger_event_id, rule, evidence, first_ts, last_ts FROM mark_chain_emits
    UNION ALL
    SELECT trigger_event_id, rule, evidence, first_ts, last_ts FROM ntdll_rule_hits
    UNION ALL
    SELECT trigger_event_id, rule, evidence, first_ts, last_ts FROM det_high_value_registry_activity
) AS hits
GROUP BY trigger_event_id, rule;

-- Detections as they were raised live (family 'detection': DetectionTelemetry, broker lines, client JSONL,
-- controller [ETW][SYNTH] lines), the other side of the reconciliation (docs/detections.md section 10).
-- `rule` is what kernel/catalogue.py rule_for(name, reason) gives: the reason tells the two THREAD_HIJACK_INTENTs
-- apart; a name outside the catalogue keeps a NULL rule.
CREATE OR REPLACE VIEW live_detections AS
WITH names AS (
    SELECT name, min(rule_order) AS first_order, count(*) AS rules FROM catalogue GROUP BY name
)
SELECT d.*, c.rule, c.rule_order, c.attack, coalesce(c.engine, 'kernel') AS engine
FROM (
    SELECT host, event_id, ts,
           epoch_us(ts) AS us,  -- duckdb: epoch_us (Spark: unix_micros)
           kind, detection_name AS name, severity, reason, actor_pid, target_pid,
           corr_flags, corr_access_mask, corr_age_ms, marks
    FROM events
    WHERE family = 'detection' AND ts IS NOT NULL
) AS d
LEFT JOIN names AS n ON n.name = d.name
LEFT JOIN catalogue AS by_reason ON by_reason.name = d.name AND by_reason.reason = d.reason AND n.rules > 1
LEFT JOIN catalogue AS c ON c.rule_order = coalesce(by_reason.rule_order, n.first_order);

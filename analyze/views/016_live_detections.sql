-- Detections as they were raised live (family 'detection': DetectionTelemetry, broker lines, client JSONL,
-- controller [ETW][SYNTH] lines), the other side of the reconciliation (docs/detections.md section 10).
-- `rule` is what kernel/catalogue.py rule_for(name, reason) gives: the reason tells the two THREAD_HIJACK_INTENTs
-- apart; a name outside the catalogue keeps a NULL rule.
CREATE OR REPLACE VIEW live_detections AS
SELECT d.*, c.rule, c.rule_order, c.attack, coalesce(c.engine, 'kernel') AS engine
FROM (
    SELECT host, event_id, ts,
           epoch_us(ts) AS us,  -- duckdb: epoch_us (Spark: unix_micros)
           kind, detection_name AS name, severity, reason, actor_pid, target_pid,
           corr_flags, corr_access_mask, corr_age_ms, marks
    FROM events
    WHERE family = 'detection' AND ts IS NOT NULL
) AS d
LEFT JOIN (
    -- one catalogue row per (name, reason): the row whose reason matches, else the name's first rule
    SELECT l.event_id, c.rule, c.rule_order, c.attack, c.engine,
           row_number() OVER (PARTITION BY l.event_id
                              ORDER BY CASE WHEN c.reason = l.reason THEN 0 ELSE 1 END, c.rule_order) AS pick
    FROM events AS l
    JOIN catalogue AS c ON c.name = l.detection_name
    WHERE l.family = 'detection'
) AS c ON c.event_id = d.event_id AND c.pick = 1;

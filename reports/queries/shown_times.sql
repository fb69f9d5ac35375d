-- The carded detections' first and last times over their evidence, as the `detections` view gives them: from the
-- `evidence` view by the (trigger_event_id, rule) key, the $triggers list pushed down into each rule group's view
-- so no other detection's evidence is gathered; a live-only row (no evidence row) has its own time.
CREATE OR REPLACE TEMP TABLE report_shown AS
SELECT s.*, coalesce(e.first_ts, s.ts) AS first_ts, coalesce(e.last_ts, s.ts) AS last_ts
FROM report_shown AS s
LEFT JOIN (SELECT trigger_event_id, rule, first_ts, last_ts FROM main.evidence
           WHERE list_contains($triggers, trigger_event_id)) AS e
  ON e.trigger_event_id = s.trigger_event_id AND e.rule = s.rule AND s.status <> 'live-only';

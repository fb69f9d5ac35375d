-- The evidence ids of the carded detections only: reconstructed ones from the `evidence` view by their
-- (trigger_event_id, rule) key, the key that names one reconstructed detection (the $triggers list is pushed down
-- into each rule group's view, so no other detection's list is built); a live-only row is its own evidence
-- (docs/detections.md section 11), exactly as the detections view lists them.
CREATE OR REPLACE TEMP TABLE report_cited AS
SELECT s.id AS detection_id, s.trigger_event_id, unnest(e.evidence) AS event_id
FROM report_shown AS s
JOIN evidence AS e ON e.trigger_event_id = s.trigger_event_id AND e.rule = s.rule
WHERE s.status <> 'live-only' AND list_contains($triggers, e.trigger_event_id)
UNION ALL
SELECT id, trigger_event_id, trigger_event_id FROM report_shown WHERE status = 'live-only';

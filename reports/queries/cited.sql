-- The evidence ids of the carded detections only: reconstructed ones from `reconstructed` by their (trigger, rule)
-- key (unique there; the $triggers list is pushed down into each rule group's view), a live-only row is its own
-- evidence (docs/detections.md section 11), exactly as the detections view lists them.
CREATE OR REPLACE TEMP TABLE report_cited AS
SELECT s.id AS detection_id, s.trigger_event_id, unnest(r.evidence) AS event_id
FROM report_shown AS s
JOIN reconstructed AS r ON r.trigger_event_id = s.trigger_event_id AND r.rule = s.rule AND r.host = s.host
WHERE s.status <> 'live-only' AND list_contains($triggers, r.trigger_event_id)
UNION ALL
SELECT id, trigger_event_id, trigger_event_id FROM report_shown WHERE status = 'live-only';

-- Evidence rows of the carded detections in chain (time) order. Each detection keeps its first $evidence - 1 rows
-- plus its trigger row; `total` and the per-family counts of what was left out come with every row, so the card
-- can say exactly what it does not show. Rows are fetched once however many cards cite them.
CREATE OR REPLACE TEMP TABLE report_evidence AS
WITH rows AS (
    SELECT c.detection_id, c.trigger_event_id, e.event_id, e.ts, e.family
    FROM report_cited AS c
    JOIN events AS e ON e.event_id = c.event_id
),
ranked AS (
    SELECT *, row_number() OVER (PARTITION BY detection_id ORDER BY ts NULLS LAST, event_id) AS step,
           count(*) OVER (PARTITION BY detection_id) AS total
    FROM rows
)
SELECT detection_id, event_id, family, step, total,
       step < $evidence OR event_id = trigger_event_id AS kept
FROM ranked;

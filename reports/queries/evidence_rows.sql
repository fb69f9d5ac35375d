-- The distinct event rows the kept evidence points at, every column (the decoder picks per family).
SELECT e.*
FROM events AS e
WHERE e.event_id IN (SELECT event_id FROM report_evidence WHERE kept)
ORDER BY e.event_id;

-- The detections that get a card: at least $min_severity, most severe first, then in time order (the order the
-- analyst reads an incident in), at most $cards of them. The rest are counted and grouped by groups.sql, so a
-- case with half a million detections still renders, and says what it did not draw.
CREATE OR REPLACE TEMP TABLE report_shown AS
SELECT *
FROM detections
WHERE severity >= $min_severity OR severity IS NULL
ORDER BY severity DESC NULLS LAST, ts, id
LIMIT $cards;

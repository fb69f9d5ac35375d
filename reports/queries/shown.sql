-- The detections that get a card: at least $min_severity, most severe first, then in time order (the order the
-- analyst reads an incident in), at most $cards of them and at most $per_name of each detection name (the first
-- ones in time), so one noisy rule cannot take every card from the others. The rest are counted and grouped by
-- groups.sql, so a case with half a million detections still renders, and says what it did not draw.
CREATE OR REPLACE TEMP TABLE report_shown AS
SELECT * EXCLUDE (nth)
FROM (
    SELECT *, row_number() OVER (PARTITION BY name ORDER BY ts, id) AS nth
    FROM report_found
    WHERE severity >= $min_severity OR severity IS NULL
) AS f
WHERE nth <= $per_name
ORDER BY severity DESC NULLS LAST, ts, id
LIMIT $cards;

-- Every detection without its evidence list, computed once per report: the summary, the groups, the cards and the
-- rate strip all read it, and leaving `evidence` out lets DuckDB skip building half a million lists it would not
-- draw (the analyze views keep evidence in views of their own for this). Cards fetch theirs in cited.sql.
-- Detections the allow-list suppresses are here too (`allowed_by`); the report's `report_found` leaves them out
-- and allowed.sql counts them.
CREATE OR REPLACE TEMP TABLE report_all AS
SELECT * EXCLUDE (evidence) FROM main.detections;

-- Every detection without its evidence list, computed once per report: the summary, the groups, the cards and the
-- rate strip all read it, and leaving `evidence` out lets DuckDB skip building half a million lists it would not
-- draw (the analyze views keep evidence in views of their own for this). Cards fetch theirs in cited.sql.
CREATE OR REPLACE TEMP TABLE report_found AS
SELECT * EXCLUDE (evidence) FROM main.detections;

-- The carded detections in card order (report_shown is built by shown.sql).
SELECT * FROM report_shown ORDER BY severity DESC NULLS LAST, ts, id;

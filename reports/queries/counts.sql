-- Every detection by severity and reconciliation status, before any --min-severity filter: the summary must
-- say what the filter hid.
SELECT severity, status, count(*) AS n
FROM report_found
GROUP BY ALL
ORDER BY severity DESC NULLS LAST, status;

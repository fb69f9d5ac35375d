-- The detections the allow-list suppresses, counted per entry, name and host: they get no card, and the summary
-- says how many and why instead (README.md "Allow-list").
SELECT allowed_by, name, host, confidence, count(*) AS n, min(ts) AS first_ts, max(ts) AS last_ts
FROM report_all
WHERE allowed_by IS NOT NULL
GROUP BY ALL
ORDER BY n DESC, allowed_by, name, host;

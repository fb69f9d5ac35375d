-- Events per time bucket and family across the case ($buckets equal buckets from $lo to $hi, Unix µs), with
-- the detections per bucket beside them: the case-wide rate strip.
SELECT 'event' AS what, family AS label,
       least(CAST(floor((epoch_us(ts) - $lo) * $buckets / ($hi - $lo + 1)) AS BIGINT), $buckets - 1) AS bucket,
       count(*) AS n
FROM events
WHERE ts IS NOT NULL AND family <> 'reject'
GROUP BY ALL
UNION ALL
SELECT 'detection', CAST(severity AS VARCHAR),
       least(CAST(floor((epoch_us(ts) - $lo) * $buckets / ($hi - $lo + 1)) AS BIGINT), $buckets - 1), count(*)
FROM report_found
WHERE ts IS NOT NULL
GROUP BY ALL;

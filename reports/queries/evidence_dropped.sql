-- What each card leaves out: evidence rows per family beyond the per-detection limit, with the id range.
SELECT detection_id, family, count(*) AS n, min(event_id) AS first_id, max(event_id) AS last_id
FROM report_evidence
WHERE NOT kept
GROUP BY ALL
ORDER BY detection_id, family;

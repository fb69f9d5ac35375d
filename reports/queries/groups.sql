-- Every detection at or above $min_severity grouped by what it says about whom: the table that covers detections
-- beyond the card limit. `carded` counts how many of the group have a card.
SELECT d.name, d.severity, d.status, d.host, d.actor_pid, d.target_pid, count(*) AS n,
       count(s.id) AS carded, min(d.ts) AS first_ts, max(d.ts) AS last_ts, any_value(d.attack) AS attack
FROM report_found AS d
LEFT JOIN report_shown AS s ON s.id = d.id
WHERE d.severity >= $min_severity OR d.severity IS NULL
GROUP BY ALL
ORDER BY d.severity DESC NULLS LAST, n DESC, first_ts
LIMIT $groups;

-- The processes detections name most, as actor and as target (at or above $min_severity).
SELECT role, host, pid, n, max_severity
FROM (
    SELECT 'actor' AS role, host, actor_pid AS pid, count(*) AS n, max(severity) AS max_severity
    FROM report_found WHERE (severity >= $min_severity OR severity IS NULL) AND actor_pid IS NOT NULL GROUP BY ALL
    UNION ALL
    SELECT 'target', host, target_pid, count(*), max(severity)
    FROM report_found
    WHERE (severity >= $min_severity OR severity IS NULL) AND target_pid IS NOT NULL AND target_pid <> 0
    GROUP BY ALL
) AS t
QUALIFY row_number() OVER (PARTITION BY role ORDER BY max_severity DESC NULLS LAST, n DESC, host, pid) <= $top
ORDER BY role, max_severity DESC NULLS LAST, n DESC, host, pid;

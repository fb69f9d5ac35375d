-- Rejects per input and reason (numbers in the reason become #, so offsets and values do not split a group).
SELECT source_file, source_format, regexp_replace(reject_reason, '(0x[0-9A-Fa-f]+|[0-9]+)', '#', 'g') AS reason, count(*) AS n,
       min(source_offset) AS first_offset, max(source_offset) AS last_offset
FROM events
WHERE family = 'reject'
GROUP BY ALL
ORDER BY source_file, n DESC;

-- Rows with no time: they cannot be placed in any window, so no detection is reconstructed from them.
SELECT source_file, source_format, family, kind, count(*) AS n, min(source_offset) AS first_offset
FROM events
WHERE ts IS NULL AND family <> 'reject'
GROUP BY ALL
ORDER BY n DESC, source_file;

-- Input that could not be read, where it was and why: the first $rejects rows in file order.
SELECT source_file, source_format, source_offset, reject_reason, raw_preview, raw_length
FROM events
WHERE family = 'reject'
ORDER BY source_file, source_offset
LIMIT $rejects;

-- Process create and exit rows (Sleepwalker ProcessTelemetry, Sysmon 1/5, Security 4688): the tree's nodes.
-- A create's target is the new process and its parent_pid (or, when the source has none, its creator) the parent.
SELECT host, target_pid AS pid, coalesce(parent_pid, creator_pid, actor_pid) AS parent_pid, ts, event_id,
       coalesce(is_create, true) AS is_create, coalesce(image_path, target_image) AS image_path, command_line
FROM events
WHERE family = 'process' AND target_pid IS NOT NULL
ORDER BY host, ts NULLS FIRST, event_id;

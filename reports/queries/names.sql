-- The last image path known for each (host, pid): process rows, then the actor/target image columns sources such
-- as Sysmon carry; only .exe/.com paths name a process, as the driver's printer cache does (spec 4.1).
SELECT host, pid, arg_max(path, ts) AS path
FROM (
    SELECT host, target_pid AS pid, coalesce(image_path, target_image) AS path, ts
    FROM events WHERE family = 'process' AND coalesce(is_create, true)
    UNION ALL
    SELECT host, actor_pid, actor_image, ts FROM events WHERE actor_image IS NOT NULL
    UNION ALL
    SELECT host, target_pid, target_image, ts FROM events WHERE target_image IS NOT NULL AND family <> 'process'
) AS p
WHERE pid IS NOT NULL AND path IS NOT NULL AND (lower(path) LIKE '%.exe' OR lower(path) LIKE '%.com')
GROUP BY ALL;

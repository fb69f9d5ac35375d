-- The image path that names each (host, pid): a process create row first, then the actor/target image columns
-- sources such as Sysmon carry, then an image load of an .exe into the process (how the driver's printer cache
-- learns names, spec 4.1: processes already running when the capture began have no create row); the latest of
-- the best kind wins. Only .exe/.com paths name a process.
SELECT host, pid, arg_max(path, struct_pack(prio := prio, ts := ts)) AS path
FROM (
    SELECT host, target_pid AS pid, coalesce(image_path, target_image) AS path, ts, 3 AS prio
    FROM events WHERE family = 'process' AND coalesce(is_create, true)
    UNION ALL
    SELECT host, actor_pid, actor_image, ts, 2 FROM events WHERE actor_image IS NOT NULL
    UNION ALL
    SELECT host, target_pid, target_image, ts, 2 FROM events WHERE target_image IS NOT NULL AND family <> 'process'
    UNION ALL
    SELECT host, target_pid, image_path, ts, 1 FROM events WHERE family = 'image' AND image_path IS NOT NULL
) AS p
WHERE pid IS NOT NULL AND path IS NOT NULL AND (lower(path) LIKE '%.exe' OR lower(path) LIKE '%.com')
GROUP BY ALL;

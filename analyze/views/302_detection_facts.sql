-- What each detection rests on and who it names (docs/detections.md section 11, "confidence"), keyed like the
-- detections themselves: (trigger_event_id, rule) for a reconstructed one, (event_id, rule or name) for a live row.
--   * actor_image / target_image / start_module / start_function: the trigger row's, as the source names them
--     (Sysmon, printer blocks; NULL where a source names no image). An image the row lacks (Sysmon sometimes writes
--     stack garbage into SourceImage, which the reader sets to NULL) comes from another row of the same host that
--     names the same process GUID with an image: a GUID is one process instance, so any of its images is its image;
--   * confidence: `driver` when the trigger row is Sleepwalker's own telemetry; for a Sysmon row `sysmon` when
--     Sysmon recorded every fact the rule reads, `sysmon-derived` when a fact was derived (docs/detections.md
--     "Sysmon-derived facts"), and `event-log` for other Windows event logs;
--   * derived_facts: which derived facts the rule used, by name: `intent:sysmon-10` (the correlation, from Sysmon 10
--     accesses), `non-image:no-start-module`, `outside:start-module`, `class:calltrace` (a Sysmon 10 row's class,
--     from its innermost CallTrace frame). A thread rule lists those of its trigger row that its condition reads;
--     a kernel mark chain those its window's accumulated marks hold (MEMORY 8, NON_IMAGE_EXEC 4, OUTSIDE 2: the
--     window is one actor/target pair's rows, all Sysmon on a Sysmon host);
--   * allowed_by: the first allow_list entry (built-in first, then the file's, in order) whose every pattern
--     matches; globs become LIKE patterns with `!` as the escape character (Spark's LIKE would take the backslashes
--     of Windows paths as escapes), both sides lower-cased.
CREATE OR REPLACE VIEW detection_facts AS
WITH triggers AS (
    SELECT trigger_event_id, rule, name FROM reconstructed
    UNION ALL
    SELECT event_id, coalesce(rule, name), name FROM live_detections
),
guid_images AS (  -- Sysmon only: Sleepwalker rows carry no GUIDs
    SELECT host, guid, min(image) AS image
    FROM (SELECT host, actor_guid AS guid, actor_image AS image FROM events
          WHERE actor_guid IS NOT NULL AND actor_image IS NOT NULL
          UNION ALL
          SELECT host, target_guid, target_image FROM events
          WHERE target_guid IS NOT NULL AND target_image IS NOT NULL) AS g
    GROUP BY host, guid
),
rows_ AS (
    SELECT t.trigger_event_id, t.rule, t.name, e.kind,
           coalesce(e.actor_image, ai.image) AS actor_image, coalesce(e.target_image, ti.image) AS target_image,
           e.start_module, e.start_function,
           coalesce(e.kind LIKE 'sysmon:%', false) AS sysmon,
           -- the derived facts this rule read from this row, as booleans first
           CASE WHEN e.kind = 'sysmon:8' THEN
               (th.mem AND t.rule IN ('REMOTE_THREAD_WITH_RECENT_HANDLE_INTENT',
                                      'THREAD_ACTIVITY_WITH_THREAD_CONTEXT_INTENT', 'THREAD_HIJACK_INTENT/thread',
                                      'POSSIBLE_PROCESS_HOLLOWING_OR_INJECTION_INTENT_CHAIN',
                                      'POSSIBLE_MANUAL_MAP_OR_HOLLOWING_EXECUTION'))
               OR coalesce(m.acc_marks & 8 <> 0, false)  -- MEMORY_INTENT
           ELSE false END AS intent_fact,
           CASE WHEN e.kind = 'sysmon:8' THEN
               (th.non_image_exec AND t.rule IN ('REMOTE_THREAD_START_IN_NON_IMAGE_EXECUTABLE_REGION',
                                                 'THREAD_ACTIVITY_WITH_THREAD_CONTEXT_INTENT',
                                                 'THREAD_HIJACK_INTENT/thread',
                                                 'POSSIBLE_PROCESS_HOLLOWING_OR_INJECTION_INTENT_CHAIN',
                                                 'POSSIBLE_MANUAL_MAP_OR_HOLLOWING_EXECUTION'))
               OR coalesce(m.acc_marks & 4 <> 0, false)  -- NON_IMAGE_EXEC
           ELSE false END AS non_image_fact,
           CASE WHEN e.kind = 'sysmon:8' THEN
               (th.outside AND t.rule IN ('REMOTE_THREAD_OUTSIDE_MAIN_IMAGE',
                                          'THREAD_ACTIVITY_WITH_THREAD_CONTEXT_INTENT', 'THREAD_HIJACK_INTENT/thread',
                                          'POSSIBLE_PROCESS_HOLLOWING_OR_INJECTION_INTENT_CHAIN',
                                          'POSSIBLE_MANUAL_MAP_OR_HOLLOWING_EXECUTION'))
               OR coalesce(m.acc_marks & 2 <> 0, false)  -- OUTSIDE_IMAGE
           ELSE false END AS outside_fact,
           coalesce(e.kind = 'sysmon:10' AND t.rule = 'DIRECT_SYSCALL_SUSPECT_HANDLE_OPERATION', false) AS class_fact
    FROM triggers AS t
    JOIN events AS e ON e.event_id = t.trigger_event_id
    LEFT JOIN guid_images AS ai ON e.actor_image IS NULL AND ai.host = e.host AND ai.guid = e.actor_guid
    LEFT JOIN guid_images AS ti ON e.target_image IS NULL AND ti.host = e.host AND ti.guid = e.target_guid
    LEFT JOIN thread_starts AS th ON th.event_id = t.trigger_event_id AND th.kind = 'sysmon:8'
    LEFT JOIN (SELECT event_id, acc_marks FROM mark_chain_emitted WHERE engine = 'kernel') AS m
      ON m.event_id = t.trigger_event_id
     AND t.rule IN ('KERNEL_PROCESS_HOLLOWING_MARK_CHAIN_MEDIUM', 'KERNEL_PROCESS_HOLLOWING_MARK_CHAIN_STRONG')
),
facts AS (
    SELECT *,
           CASE WHEN sysmon AND (intent_fact OR non_image_fact OR outside_fact OR class_fact) THEN 'sysmon-derived'
                WHEN sysmon THEN 'sysmon'
                WHEN kind LIKE 'security:%' OR kind LIKE 'eventlog:%' THEN 'event-log'
                ELSE 'driver' END AS confidence,
           list_concat(  -- duckdb: list_concat, list literals (Spark: concat(array(...)))
               CASE WHEN intent_fact THEN ['intent:sysmon-10'] ELSE CAST([] AS VARCHAR[]) END,
               CASE WHEN non_image_fact THEN ['non-image:no-start-module'] ELSE CAST([] AS VARCHAR[]) END,
               CASE WHEN outside_fact THEN ['outside:start-module'] ELSE CAST([] AS VARCHAR[]) END,
               CASE WHEN class_fact THEN ['class:calltrace'] ELSE CAST([] AS VARCHAR[]) END) AS derived_facts
    FROM rows_
),
patterns AS (  -- glob -> LIKE: escape !, % and _ with !, then * -> %, ? -> _
    SELECT entry_order, name,
           replace(replace(replace(replace(replace(lower(rule), '!', '!!'), '%', '!%'), '_', '!_'), '*', '%'), '?', '_')
               AS rule_like,
           replace(replace(replace(replace(replace(lower(actor_image), '!', '!!'), '%', '!%'), '_', '!_'), '*', '%'),
                   '?', '_') AS actor_like,
           replace(replace(replace(replace(replace(lower(target_image), '!', '!!'), '%', '!%'), '_', '!_'), '*', '%'),
                   '?', '_') AS target_like,
           replace(replace(replace(replace(replace(lower(start_module), '!', '!!'), '%', '!%'), '_', '!_'), '*', '%'),
                   '?', '_') AS module_like,
           replace(replace(replace(replace(replace(lower(start_function), '!', '!!'), '%', '!%'), '_', '!_'), '*', '%'),
                   '?', '_') AS function_like
    FROM allow_list
),
allowed AS (
    SELECT f.trigger_event_id, f.rule, min_by(p.name, p.entry_order) AS allowed_by
    FROM facts AS f
    JOIN patterns AS p
      ON (p.rule_like IS NULL OR lower(f.rule) LIKE p.rule_like ESCAPE '!' OR lower(f.name) LIKE p.rule_like ESCAPE '!')
     AND (p.actor_like IS NULL OR lower(f.actor_image) LIKE p.actor_like ESCAPE '!')
     AND (p.target_like IS NULL OR lower(f.target_image) LIKE p.target_like ESCAPE '!')
     AND (p.module_like IS NULL OR lower(f.start_module) LIKE p.module_like ESCAPE '!')
     AND (p.function_like IS NULL OR lower(f.start_function) LIKE p.function_like ESCAPE '!')
    GROUP BY f.trigger_event_id, f.rule
)
SELECT f.trigger_event_id, f.rule, f.confidence, f.derived_facts, f.actor_image, f.target_image, f.start_module,
       f.start_function, a.allowed_by
FROM facts AS f
LEFT JOIN allowed AS a ON a.trigger_event_id = f.trigger_event_id AND a.rule = f.rule;

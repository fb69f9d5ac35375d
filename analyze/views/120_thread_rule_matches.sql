-- The seven per-thread rules of the kernel hollowing engine (spec 3.6 rules 1-7, docs/detections.md section 3),
-- one row per (rule, thread row), each rule independent and without cooldown. The conditions are listed as one
-- CASE so they read like the document's numbered list; the det_* views below select one rule each.
-- corr is the row's own (NULL where not carried); the evidence is added in thread_rule_hits.
CREATE OR REPLACE VIEW thread_rule_matches AS
SELECT r.rule, t.host, t.actor_pid, t.target_pid, t.ts, t.us, t.event_id AS trigger_event_id,
       t.corr_flags, t.corr_access_mask, t.corr_age_ms
FROM thread_starts AS t
CROSS JOIN (VALUES
    ('REMOTE_THREAD_WITH_RECENT_HANDLE_INTENT'),
    ('REMOTE_THREAD_START_IN_NON_IMAGE_EXECUTABLE_REGION'),
    ('REMOTE_THREAD_OUTSIDE_MAIN_IMAGE'),
    ('THREAD_ACTIVITY_WITH_THREAD_CONTEXT_INTENT'),
    ('THREAD_HIJACK_INTENT/thread'),
    ('POSSIBLE_PROCESS_HOLLOWING_OR_INJECTION_INTENT_CHAIN'),
    ('POSSIBLE_MANUAL_MAP_OR_HOLLOWING_EXECUTION')
) AS r(rule)
WHERE (t.remote OR t.outside OR t.non_image_exec OR t.ctx)  -- rows that can fire nothing skip the CASE
  AND CASE r.rule
    WHEN 'REMOTE_THREAD_WITH_RECENT_HANDLE_INTENT' THEN t.remote AND coalesce(t.corr_flags, 0) <> 0
    WHEN 'REMOTE_THREAD_START_IN_NON_IMAGE_EXECUTABLE_REGION' THEN t.non_image_exec
    WHEN 'REMOTE_THREAD_OUTSIDE_MAIN_IMAGE' THEN t.remote AND t.outside
    WHEN 'THREAD_ACTIVITY_WITH_THREAD_CONTEXT_INTENT' THEN t.ctx AND (t.remote OR t.outside OR t.non_image_exec)
    WHEN 'THREAD_HIJACK_INTENT/thread' THEN t.remote AND t.ctx AND (t.outside OR t.non_image_exec)
    WHEN 'POSSIBLE_PROCESS_HOLLOWING_OR_INJECTION_INTENT_CHAIN'
        THEN t.remote AND (t.outside OR t.non_image_exec) AND t.mem AND (t.ctx OR t.dup)
    WHEN 'POSSIBLE_MANUAL_MAP_OR_HOLLOWING_EXECUTION'
        THEN t.remote AND (t.outside OR t.non_image_exec) AND (t.mem OR t.dup)
  END;

-- The ids of docs/detections.md section 11 over `reconciled`: 1.. in the order ts, trigger, rule order, host,
-- actor, target (live-only rows use their own event id as trigger; a name outside the catalogue sorts after every
-- rule). Without evidence, so `swk analyze --explain ID` finds its row without building every list.
CREATE OR REPLACE VIEW detection_ids AS
SELECT row_number() OVER (ORDER BY ts, trigger_event_id, coalesce(rule_order, 1000), host, actor_pid, target_pid)
           AS id,
       *
FROM reconciled;

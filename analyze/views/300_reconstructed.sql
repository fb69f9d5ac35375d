-- Every reconstructed detection (docs/detections.md sections 1-9) with its catalogue facts, before reconciliation,
-- without its evidence (see `evidence`): the reconciliation reads this twice and never needs the lists, and
-- `swk analyze` keeps it as a table. Reads the rule groups' hit views rather than the det_* views: same rows, and
-- each group is computed once; selecting no evidence column lets DuckDB skip the evidence joins and lists.
-- (trigger_event_id, rule) is unique: one trigger row raises each rule at most once (the mark chains' cooldowns
-- forbid a second emission at the same µs, and one row's controller steps share one key).
CREATE OR REPLACE VIEW reconstructed AS
WITH hits AS (
    SELECT rule, host, actor_pid, target_pid, ts, us, trigger_event_id, corr_flags, corr_access_mask, corr_age_ms,
           marks, reason, CAST(NULL AS VARCHAR) AS attack
    FROM handle_rule_hits
    UNION ALL
    SELECT rule, host, actor_pid, target_pid, ts, us, trigger_event_id, corr_flags, corr_access_mask, corr_age_ms,
           marks, reason, NULL
    FROM apc_monitor
    UNION ALL
    SELECT rule, host, actor_pid, target_pid, ts, us, trigger_event_id, corr_flags, corr_access_mask, corr_age_ms,
           NULL, NULL, NULL
    FROM thread_rule_matches
    UNION ALL
    SELECT rule, host, actor_pid, target_pid, ts, us, trigger_event_id, corr_flags, corr_access_mask, corr_age_ms,
           marks, reason, NULL
    FROM mark_chain_emits
    UNION ALL
    SELECT rule, host, actor_pid, target_pid, ts, us, trigger_event_id, corr_flags, corr_access_mask, corr_age_ms,
           marks, reason, NULL
    FROM ntdll_rule_hits
    UNION ALL
    SELECT rule, host, actor_pid, target_pid, ts, us, trigger_event_id, corr_flags, corr_access_mask, corr_age_ms,
           marks, reason, attack
    FROM det_high_value_registry_activity
)
SELECT h.host, h.rule, c.name, c.severity, coalesce(h.reason, c.reason) AS reason, h.actor_pid, h.target_pid,
       h.ts, h.us, h.corr_flags, h.corr_access_mask, h.corr_age_ms, h.marks,
       coalesce(h.attack, c.attack) AS attack, h.trigger_event_id, c.engine, c.rule_order
FROM hits AS h
JOIN catalogue AS c ON c.rule = h.rule;

-- The handle-operation rules of spec 3.2 / docs/detections.md section 1, one row per (rule, trigger handle row),
-- in the detection shape every rule view shares (rule, host, actor, target, ts, trigger, corr, marks, reason,
-- evidence, first/last ts). Only IOCTL records (and simulated rows) carry `flags`, so only they can show the
-- stack anomaly; a DIRECT class implies the chain, unwind and TEB checks ran, so a clear "valid" bit is a failure.
-- anomaly: STACK_SPOOF_SUSPECT (0x800) set, or any of STACK_VALIDATED 0x400, RETURN_ADDRESS_VALID 0x200,
-- MODULE_CHAIN_SANE 0x4000, UNWIND_METADATA_VALID 0x8000, TEB_STACK_BOUNDS_VALID 0x10000,
-- FRAMES_OUTSIDE_TEB_STACK 0x20000 (together 0x3C600 = 247296) clear.
CREATE OR REPLACE VIEW handle_rule_hits AS
SELECT r.rule, h.host, h.actor_pid, h.target_pid, h.ts, h.us, h.event_id AS trigger_event_id,
       CAST(0 AS BIGINT) AS corr_flags, h.access_mask AS corr_access_mask, CAST(0 AS BIGINT) AS corr_age_ms,
       CAST(NULL AS BIGINT) AS marks, CAST(NULL AS VARCHAR) AS reason,
       [h.event_id] AS evidence,  -- duckdb: list literal (Spark: array(...))
       h.ts AS first_ts, h.ts AS last_ts
FROM handle_ops AS h
CROSS JOIN (VALUES ('DIRECT_SYSCALL_SUSPECT_HANDLE_OPERATION'), ('STACK_INTEGRITY_ANOMALY_ON_HANDLE_OP')) AS r(rule)
WHERE h.class_id = 2
  AND (r.rule = 'DIRECT_SYSCALL_SUSPECT_HANDLE_OPERATION'
       OR (h.flags & 2048 <> 0 OR h.flags & 247296 <> 247296));

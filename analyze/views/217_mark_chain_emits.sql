-- The mark-chain detections in the detection shape (spec 3.6 / 3.11, docs/detections.md sections 4 and 9). Rule by
-- engine: kernel -> KERNEL_PROCESS_HOLLOWING_MARK_CHAIN_STRONG/_MEDIUM with the accumulated (Flags, Mask, Age);
-- controller -> PROCESS_HOLLOWING_TXF_SUSPECT_CHAIN when TXF_SUSPECT (512) is in the accumulated marks, else
-- PROCESS_HOLLOWING_MARK_CHAIN_STRONG, or _MEDIUM, with `marks` and a NULL corr.
-- Corr and evidence are LEFT JOINed on their unique key, so a query that reads neither (a count, the
-- reconciliation) never computes them: DuckDB drops an unused LEFT JOIN whose right side is unique.
CREATE OR REPLACE VIEW mark_chain_emits AS
SELECT CASE
           WHEN e.engine = 'kernel' AND e.is_strong THEN 'KERNEL_PROCESS_HOLLOWING_MARK_CHAIN_STRONG'
           WHEN e.engine = 'kernel' THEN 'KERNEL_PROCESS_HOLLOWING_MARK_CHAIN_MEDIUM'
           WHEN e.is_strong AND e.acc_marks & 512 <> 0 THEN 'PROCESS_HOLLOWING_TXF_SUSPECT_CHAIN'
           WHEN e.is_strong THEN 'PROCESS_HOLLOWING_MARK_CHAIN_STRONG'
           ELSE 'PROCESS_HOLLOWING_MARK_CHAIN_MEDIUM'
       END AS rule,
       e.host, e.key_actor AS actor_pid, e.key_target AS target_pid, e.ts, e.us, e.event_id AS trigger_event_id,
       c.corr_flags, c.corr_access_mask, c.corr_age_ms,
       CASE WHEN e.engine = 'controller' THEN e.acc_marks END AS marks,
       CAST(NULL AS VARCHAR) AS reason,
       v.evidence, v.first_ts, v.last_ts
FROM mark_chain_emitted AS e
LEFT JOIN mark_chain_corr AS c ON c.kid = e.kid AND c.trigger_step = e.step
LEFT JOIN mark_chain_evidence AS v ON v.kid = e.kid AND v.trigger_step = e.step;

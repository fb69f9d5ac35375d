-- The mark-chain detections with their evidence, in the detection shape (spec 3.6 / 3.11, docs/detections.md
-- sections 4 and 9). Rule by engine: kernel -> KERNEL_PROCESS_HOLLOWING_MARK_CHAIN_STRONG/_MEDIUM with the
-- accumulated (Flags, Mask, Age); controller -> PROCESS_HOLLOWING_TXF_SUSPECT_CHAIN when TXF_SUSPECT (512) is in
-- the accumulated marks, else PROCESS_HOLLOWING_MARK_CHAIN_STRONG, or _MEDIUM, with `marks` and a NULL corr.
-- Evidence: the window's contributing steps up to the trigger (the creating step, or the steps after the
-- resetting one), as their rows (a kernel-detection step's row is its trigger row), plus, for the kernel, those
-- thread rows' intents. The join is an equi-join on the window plus `pos <=`, bounded by one window per emission.
CREATE OR REPLACE VIEW mark_chain_emits AS
WITH emitted AS (
    SELECT w.*, true AS is_strong FROM mark_chain_windows AS w WHERE w.pos IN (SELECT pos FROM mark_chain_strong)
    UNION ALL
    SELECT w.*, false FROM mark_chain_windows AS w WHERE w.pos IN (SELECT pos FROM mark_chain_medium)
),
evidence_rows AS (
    SELECT e.pos, s.event_id, s.ts
    FROM emitted AS e
    JOIN mark_chain_windows AS s ON s.window_pos = e.window_pos AND s.pos <= e.pos AND s.contributes
    UNION ALL
    SELECT e.pos, i.event_id, i.ts
    FROM emitted AS e
    JOIN mark_chain_windows AS s ON s.window_pos = e.window_pos AND s.pos <= e.pos AND s.contributes
    JOIN thread_intents AS i ON i.thread_event_id = s.event_id
    WHERE e.engine = 'kernel'
),
evidence AS (
    SELECT pos, array_agg(DISTINCT event_id ORDER BY event_id) AS evidence, min(ts) AS first_ts, max(ts) AS last_ts
    FROM evidence_rows
    GROUP BY pos
)
SELECT CASE
           WHEN e.engine = 'kernel' AND e.is_strong THEN 'KERNEL_PROCESS_HOLLOWING_MARK_CHAIN_STRONG'
           WHEN e.engine = 'kernel' THEN 'KERNEL_PROCESS_HOLLOWING_MARK_CHAIN_MEDIUM'
           WHEN e.is_strong AND e.acc_marks & 512 <> 0 THEN 'PROCESS_HOLLOWING_TXF_SUSPECT_CHAIN'
           WHEN e.is_strong THEN 'PROCESS_HOLLOWING_MARK_CHAIN_STRONG'
           ELSE 'PROCESS_HOLLOWING_MARK_CHAIN_MEDIUM'
       END AS rule,
       e.host, e.key_actor AS actor_pid, e.key_target AS target_pid, e.ts, e.us, e.event_id AS trigger_event_id,
       CASE WHEN e.engine = 'kernel' THEN e.acc_flags END AS corr_flags,
       CASE WHEN e.engine = 'kernel' THEN e.acc_mask END AS corr_access_mask,
       CASE WHEN e.engine = 'kernel' THEN e.acc_age END AS corr_age_ms,
       CASE WHEN e.engine = 'controller' THEN e.acc_marks END AS marks,
       CAST(NULL AS VARCHAR) AS reason,
       v.evidence, v.first_ts, v.last_ts
FROM emitted AS e
JOIN evidence AS v ON v.pos = e.pos;

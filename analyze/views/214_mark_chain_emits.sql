-- The mark-chain detections with their evidence, in the detection shape (spec 3.6 / 3.11, docs/detections.md
-- sections 4 and 9). Rule by engine: kernel -> KERNEL_PROCESS_HOLLOWING_MARK_CHAIN_STRONG/_MEDIUM; controller ->
-- PROCESS_HOLLOWING_TXF_SUSPECT_CHAIN when TXF_SUSPECT (512) is in the accumulated marks, else
-- PROCESS_HOLLOWING_MARK_CHAIN_STRONG, or _MEDIUM, with `marks` and a NULL corr.
-- The window's contributing steps up to the trigger (the creating step, or the steps after the resetting one) give
-- both the evidence (their rows; a kernel-detection step's row is its trigger row; for the kernel also those
-- thread rows' intents) and the kernel's accumulated corr: Flags and Mask OR the non-NULL values (NULL if none),
-- Age is the last non-zero age (0 if ages are known but all 0, NULL if none is known).
-- The join is an equi-join on the window plus `step <=`, bounded by one window per emission.
CREATE OR REPLACE VIEW mark_chain_emits AS
WITH emitted AS (
    SELECT w.*, true AS is_strong FROM mark_chain_windows AS w JOIN mark_chain_strong USING (kid, step)
    UNION ALL
    SELECT w.*, false FROM mark_chain_windows AS w JOIN mark_chain_medium USING (kid, step)
),
window_rows AS (
    SELECT e.kid, e.step AS trigger_step, s.step, s.event_id, s.ts, s.corr_flags, s.corr_access_mask, s.corr_age_ms
    FROM emitted AS e
    JOIN mark_chain_windows AS s
      ON s.kid = e.kid AND s.window_step = e.window_step AND s.step <= e.step AND s.contributes
),
accumulated AS (
    SELECT kid, trigger_step,
           bit_or(corr_flags) AS acc_flags,
           bit_or(corr_access_mask) AS acc_mask,
           coalesce(arg_max(corr_age_ms, step) FILTER (WHERE corr_age_ms <> 0),  -- duckdb: arg_max (Spark: max_by)
                    CASE WHEN count(corr_age_ms) > 0 THEN 0 END) AS acc_age
    FROM window_rows
    GROUP BY kid, trigger_step
),
evidence AS (
    SELECT kid, trigger_step, array_agg(DISTINCT event_id ORDER BY event_id) AS evidence, min(ts) AS first_ts,
           max(ts) AS last_ts
    FROM (
        SELECT kid, trigger_step, event_id, ts FROM window_rows
        UNION ALL
        SELECT w.kid, w.trigger_step, i.event_id, i.ts
        FROM window_rows AS w
        JOIN thread_intents AS i ON i.thread_event_id = w.event_id
        JOIN emitted AS e ON e.kid = w.kid AND e.step = w.trigger_step AND e.engine = 'kernel'
    ) AS rows_
    GROUP BY kid, trigger_step
)
SELECT CASE
           WHEN e.engine = 'kernel' AND e.is_strong THEN 'KERNEL_PROCESS_HOLLOWING_MARK_CHAIN_STRONG'
           WHEN e.engine = 'kernel' THEN 'KERNEL_PROCESS_HOLLOWING_MARK_CHAIN_MEDIUM'
           WHEN e.is_strong AND e.acc_marks & 512 <> 0 THEN 'PROCESS_HOLLOWING_TXF_SUSPECT_CHAIN'
           WHEN e.is_strong THEN 'PROCESS_HOLLOWING_MARK_CHAIN_STRONG'
           ELSE 'PROCESS_HOLLOWING_MARK_CHAIN_MEDIUM'
       END AS rule,
       e.host, e.key_actor AS actor_pid, e.key_target AS target_pid, e.ts, e.us, e.event_id AS trigger_event_id,
       CASE WHEN e.engine = 'kernel' THEN a.acc_flags END AS corr_flags,
       CASE WHEN e.engine = 'kernel' THEN a.acc_mask END AS corr_access_mask,
       CASE WHEN e.engine = 'kernel' THEN a.acc_age END AS corr_age_ms,
       CASE WHEN e.engine = 'controller' THEN e.acc_marks END AS marks,
       CAST(NULL AS VARCHAR) AS reason,
       v.evidence, v.first_ts, v.last_ts
FROM emitted AS e
JOIN accumulated AS a ON a.kid = e.kid AND a.trigger_step = e.step
JOIN evidence AS v ON v.kid = e.kid AND v.trigger_step = e.step;

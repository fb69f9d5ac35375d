-- The evidence of each mark-chain emission (spec 3.6 / 3.11, docs/detections.md sections 4 and 9): the rows of
-- the window's contributing steps up to the trigger (a kernel-detection step's row is its trigger row) and, for the
-- kernel, those thread rows' intents; as a sorted list of distinct event ids with the first and last time.
-- Distinct rows are taken first (one row can be several controller steps, one handle row the intent of several
-- thread rows) so the list aggregate needs no DISTINCT, which would stop DuckDB from dropping this view's LEFT JOIN
-- in mark_chain_emits when a query reads no evidence.
CREATE OR REPLACE VIEW mark_chain_evidence AS
WITH window_rows AS (
    SELECT e.kid, e.step AS trigger_step, e.engine, s.event_id, s.ts
    FROM mark_chain_emitted AS e
    JOIN mark_chain_windows AS s
      ON s.kid = e.kid AND s.window_step = e.window_step AND s.step <= e.step AND s.contributes
)
SELECT kid, trigger_step, array_agg(event_id ORDER BY event_id) AS evidence, min(ts) AS first_ts, max(ts) AS last_ts
FROM (
    SELECT DISTINCT kid, trigger_step, event_id, ts
    FROM (
        SELECT kid, trigger_step, event_id, ts FROM window_rows
        UNION ALL
        SELECT w.kid, w.trigger_step, i.event_id, i.ts
        FROM window_rows AS w JOIN thread_intents AS i ON i.thread_event_id = w.event_id
        WHERE w.engine = 'kernel'
    ) AS all_rows
) AS distinct_rows
GROUP BY kid, trigger_step;

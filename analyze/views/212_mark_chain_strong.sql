-- Which strong-eligible steps of the mark chains emit (spec 3.6 / 3.11, docs/detections.md sections 4 and 9):
-- a step whose window holds the strong marks emits iff no strong was emitted for its key yet, or the last one is
-- at least the cooldown older (`gap_us`: kernel ms >= 3000, controller ms > 3000). LastStrong is kept across
-- window resets, so the candidates are all strong-eligible steps of the key. Same chain formulation as
-- mark_chain_windows: one merged sort of candidates and probes gives next-start pointers, a recursion follows them.
CREATE OR REPLACE VIEW mark_chain_strong AS
WITH RECURSIVE
candidates AS (
    SELECT kid, step, us, gap_us
    FROM mark_chain_windows AS w
    WHERE strong
),
counted AS (
    SELECT *,
           CAST(sum(is_row) OVER (PARTITION BY kid ORDER BY t, is_row, step ROWS UNBOUNDED PRECEDING) AS BIGINT) AS seen
    FROM (SELECT kid, step, us AS t, 1 AS is_row FROM candidates
          UNION ALL
          SELECT kid, step, us + gap_us, 0 FROM candidates) AS merged
),
pointers AS MATERIALIZED (  -- duckdb: MATERIALIZED keeps the recursion from recomputing the sort per iteration
    SELECT r.kid, r.seen AS nth, p.seen + 1 AS nxt
    FROM counted AS r JOIN counted AS p ON p.kid = r.kid AND p.step = r.step AND p.is_row = 0
    WHERE r.is_row = 1
),
emits (kid, nth) AS (
    SELECT DISTINCT kid, 1 FROM candidates
    UNION ALL
    SELECT p.kid, p.nxt FROM emits AS e JOIN pointers AS p ON p.kid = e.kid AND p.nth = e.nth
)
SELECT c.kid, c.step FROM counted AS c JOIN emits AS e ON e.kid = c.kid AND e.nth = c.seen WHERE c.is_row = 1;

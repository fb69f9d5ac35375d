-- Which strong-eligible steps of the mark chains emit (spec 3.6 / 3.11, docs/detections.md sections 4 and 9):
-- a step whose window holds the strong marks emits iff no strong was emitted for its key yet, or the last one is
-- at least the cooldown older (`gap_us`: kernel ms >= 3000, controller ms > 3000). LastStrong is kept across
-- window resets, so the candidates are all strong-eligible steps of the key. Same chain formulation as
-- mark_chain_windows: one merged sort of candidates and probes gives next-emission pointers, and pointer doubling
-- over each key's pointer list follows them from the key's first candidate.
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
jumps AS (  -- per key, the next emission after each candidate (numbered by `seen`), NULL past the last candidate
    SELECT r.kid, array_agg(CASE WHEN p.seen < r.last THEN p.seen + 1 END ORDER BY r.seen) AS jump
    FROM (SELECT *, max(seen) OVER (PARTITION BY kid) AS last FROM counted WHERE is_row = 1) AS r
    JOIN counted AS p ON p.kid = r.kid AND p.step = r.step AND p.is_row = 0
    GROUP BY r.kid
),
emits (kid, jump, reached) AS (  -- pointer doubling, see mark_chain_windows
    SELECT kid, jump, [CAST(1 AS BIGINT)] FROM jumps  -- duckdb: list literal (Spark: array(...))
    UNION ALL
    SELECT kid, list_transform(jump, lambda i: jump[i]),  -- duckdb: list lambda, 1-based subscript (Spark: transform)
           list_concat(reached, list_filter(list_transform(reached, lambda i: jump[i]),  -- duckdb: list lambdas
                                            lambda i: i IS NOT NULL))  -- duckdb: list lambda (Spark: filter)
    FROM emits
    WHERE jump[1] IS NOT NULL  -- duckdb: 1-based subscript
)
SELECT c.kid, c.step
FROM counted AS c
JOIN (SELECT kid, unnest(reached) AS seen FROM emits WHERE jump[1] IS NULL) AS e  -- duckdb: unnest, subscript
  ON e.kid = c.kid AND e.seen = c.seen
WHERE c.is_row = 1;

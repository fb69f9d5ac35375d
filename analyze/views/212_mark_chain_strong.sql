-- Which strong-eligible steps of the mark chains emit (spec 3.6 / 3.11, docs/detections.md sections 4 and 9):
-- a step whose window holds the strong marks emits iff no strong was emitted for its key yet, or the last one is
-- at least the cooldown older (`gap_us`: kernel ms >= 3000, controller ms > 3000). LastStrong is kept across
-- window resets, so the candidates are all strong-eligible steps of the key. Same chain formulation as
-- apc_monitor: bursts, next-start pointers from one merged sort, recursion over emitting steps only.
CREATE OR REPLACE VIEW mark_chain_strong AS
WITH RECURSIVE
ordered AS (
    SELECT pos, us, gap_us,
           row_number() OVER (ORDER BY pos) AS cpos,
           coalesce(us - lag(us) OVER (PARTITION BY key_pos ORDER BY pos) >= gap_us, true) AS sure
    FROM mark_chain_windows
    WHERE strong
),
bursts AS (
    SELECT *, sum(CASE WHEN sure THEN 1 ELSE 0 END) OVER (ORDER BY cpos ROWS UNBOUNDED PRECEDING) AS bid
    FROM ordered
),
probes AS (
    SELECT bid, us AS t, 1 AS is_row, cpos, sure, 0 AS first_pos, 0 AS last_pos FROM bursts
    UNION ALL
    SELECT bid, us + gap_us, 0, cpos, sure, min(cpos) OVER (PARTITION BY bid), max(cpos) OVER (PARTITION BY bid)
    FROM bursts
),
pointers AS MATERIALIZED (  -- duckdb: MATERIALIZED keeps the recursion from re-running the sort per step
    SELECT cpos, sure, CASE WHEN nxt <= last_pos THEN nxt END AS nxt
    FROM (
        SELECT cpos, sure, last_pos, is_row,
               row_number() OVER (PARTITION BY bid ORDER BY t, is_row, cpos) + 2 * first_pos - cpos - 1 AS nxt
        FROM probes
    ) AS ranked
    WHERE is_row = 0
),
emits (cpos) AS (
    SELECT cpos FROM pointers WHERE sure
    UNION ALL
    SELECT p.nxt FROM emits AS e JOIN pointers AS p ON p.cpos = e.cpos WHERE p.nxt IS NOT NULL
)
SELECT o.pos FROM ordered AS o JOIN emits AS e ON e.cpos = o.cpos;

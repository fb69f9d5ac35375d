-- The anchored 30 s windows of both mark chains (spec 3.6 / 3.11, docs/detections.md sections 4 and 9) and what
-- each step sees: the marks (and, for the kernel, corr values) accumulated in its window up to itself, and whether
-- the strong/medium predicate holds.
-- A key's first step creates its entry (FirstSeen = its time, its marks count). A later step with
-- ms(FirstSeen, step) > 30000 (us - first_us >= 30001000) resets the entry: it becomes FirstSeen, its own marks
-- are lost [Q] and it is not evaluated. So window starts form a chain (next start = first step >= 30001000 µs after
-- the current start), which LAG cannot express; it is found as in apc_monitor: bursts (a step >= 30 s after the
-- previous step must start a window), next-start pointers from one merged sort with probe rows, and a recursive
-- CTE over window starts only. `pos` numbers the steps in (key, us, event_id, sub) order; `key_pos` (the pos of
-- the key's first step) names the key and `window_pos` (the pos of the window's start) names the window.
-- Accumulation: Mask and Flags OR only non-NULL values (NULL if all are NULL); Age is the last non-zero age,
-- 0 if some age is known but none is non-zero, NULL if none is known (docs/detections.md section 4).
-- Not followed (section 12): the driver's 256-slot table (stale take-over, eviction); see the `limits` view.
CREATE OR REPLACE VIEW mark_chain_windows AS
WITH RECURSIVE
ordered AS (
    SELECT *,
           row_number() OVER (ORDER BY engine, host, key_actor, key_target, us, event_id, sub) AS pos,
           row_number() OVER k AS step_in_key,
           coalesce(us - lag(us) OVER k >= 30001000, true) AS sure
    FROM mark_chain_steps
    WINDOW k AS (PARTITION BY engine, host, key_actor, key_target ORDER BY us, event_id, sub)
),
bursts AS (
    SELECT pos, us, sure, sum(CASE WHEN sure THEN 1 ELSE 0 END) OVER (ORDER BY pos ROWS UNBOUNDED PRECEDING) AS bid
    FROM ordered
),
probes AS (
    SELECT bid, us AS t, 1 AS is_row, pos, sure, 0 AS first_pos, 0 AS last_pos FROM bursts
    UNION ALL
    SELECT bid, us + 30001000, 0, pos, sure, min(pos) OVER (PARTITION BY bid), max(pos) OVER (PARTITION BY bid)
    FROM bursts
),
pointers AS MATERIALIZED (  -- duckdb: MATERIALIZED keeps the recursion from re-running the sort per step
    SELECT pos, sure, CASE WHEN nxt <= last_pos THEN nxt END AS nxt
    FROM (
        SELECT pos, sure, last_pos, is_row,
               row_number() OVER (PARTITION BY bid ORDER BY t, is_row, pos) + 2 * first_pos - pos - 1 AS nxt
        FROM probes
    ) AS ranked
    WHERE is_row = 0
),
starts (pos) AS (
    SELECT pos FROM pointers WHERE sure
    UNION ALL
    SELECT p.nxt FROM starts AS s JOIN pointers AS p ON p.pos = s.pos WHERE p.nxt IS NOT NULL
),
windowed AS (
    SELECT o.*,
           o.pos - o.step_in_key + 1 AS key_pos,
           max(CASE WHEN s.pos IS NOT NULL THEN o.pos END) OVER (ORDER BY o.pos ROWS UNBOUNDED PRECEDING) AS window_pos,
           o.step_in_key = 1 OR s.pos IS NULL AS contributes
    FROM ordered AS o
    LEFT JOIN starts AS s ON s.pos = o.pos
),
accumulated AS (
    SELECT *,
           bit_or(CASE WHEN contributes THEN marks ELSE 0 END) OVER w AS acc_marks,
           bit_or(CASE WHEN contributes THEN corr_flags END) OVER w AS acc_flags,
           bit_or(CASE WHEN contributes THEN corr_access_mask END) OVER w AS acc_mask,
           last_value(CASE WHEN contributes AND corr_age_ms <> 0 THEN corr_age_ms END IGNORE NULLS) OVER w AS last_age,
           count(CASE WHEN contributes THEN corr_age_ms END) OVER w AS known_ages
    FROM windowed
    WINDOW w AS (PARTITION BY window_pos ORDER BY pos ROWS UNBOUNDED PRECEDING)
)
SELECT engine, host, key_actor, key_target, event_id, ts, us, sub, marks, gap_us, pos, key_pos, window_pos,
       contributes, acc_marks, acc_flags, acc_mask,
       CASE WHEN last_age IS NOT NULL THEN last_age WHEN known_ages > 0 THEN 0 END AS acc_age,
       contributes AND CASE engine
           -- kernel: REMOTE 1 & (OUTSIDE 2 | NON_IMAGE 4) & MEMORY 8 & (CTX 16 | DUP 32)
           WHEN 'kernel' THEN acc_marks & 1 <> 0 AND acc_marks & 6 <> 0 AND acc_marks & 8 <> 0 AND acc_marks & 48 <> 0
           -- controller: SUSPENDED 1 & ALLOC 2 & WRITE 4 & PROTECT 8 & thread (16 | 32) & (CTX 64 | DRIFT 256)
           ELSE acc_marks & 15 = 15 AND acc_marks & 48 <> 0 AND acc_marks & 320 <> 0
       END AS strong,
       contributes AND CASE engine
           -- kernel: REMOTE & suspicious & (MEMORY | CTX | DUP)
           WHEN 'kernel' THEN acc_marks & 1 <> 0 AND acc_marks & 6 <> 0 AND acc_marks & 56 <> 0
           -- controller: (ALLOC & WRITE & PROTECT & thread) | (SUSPENDED & thread & CTX)
           ELSE acc_marks & 48 <> 0 AND (acc_marks & 14 = 14 OR acc_marks & 65 = 65)
       END AS medium
FROM accumulated;

-- The anchored 30 s windows of both mark chains (spec 3.6 / 3.11, docs/detections.md sections 4 and 9) and what
-- each step sees: the marks accumulated in its window up to itself, and whether strong/medium holds.
-- A key's first step creates its entry (FirstSeen = its time, its marks count). A later step with
-- ms(FirstSeen, step) > 30000 (us - first_us >= 30001000) resets the entry: it becomes FirstSeen, its own marks
-- are lost [Q] and it is not evaluated. Window starts therefore form a chain (next start = the first step at
-- least 30001000 µs after the current start) that LAG cannot express. Set-based, with one sort:
--   1. `merged`: every step, plus a probe row at us + 30001000 µs, ordered per key by (time, probe first,
--      event_id, sub); a running count of real rows gives each step its number (`step`) and each probe the
--      number of steps before it, so probe count + 1 is the source step's next-start pointer;
--   2. a recursive CTE from each key's first step along the pointers, one row per window start (all keys advance
--      together; DuckDB keeps the pointer table's hash table across iterations, so a step costs little);
--   3. each window expanded to its steps with range(start, next start), and the marks accumulated as of each step
--      from the first step at which each mark bit appears in the window (a GROUP BY, not a framed window).
-- `kid` names the key (an arbitrary number, stable within one query). Keys whose marks OR-ed over every step never
-- satisfy the medium predicate cannot emit and are left out first (most self-keys: no REMOTE mark). The kernel's
-- corr accumulation (Flags, Mask, Age) is computed for the emitting steps only, in mark_chain_emits.
-- Not followed (section 12): the driver's 256-slot table (stale take-over, eviction); see the `limits` view.
CREATE OR REPLACE VIEW mark_chain_windows AS
WITH RECURSIVE
keys AS (  -- only keys whose marks, all windows together, could ever reach medium: the others never emit
    SELECT engine, host, key_actor, key_target, row_number() OVER () AS kid
    FROM mark_chain_steps
    GROUP BY engine, host, key_actor, key_target
    HAVING CASE engine
        WHEN 'kernel' THEN bit_or(marks) & 1 <> 0 AND bit_or(marks) & 6 <> 0 AND bit_or(marks) & 56 <> 0
        ELSE bit_or(marks) & 48 <> 0 AND (bit_or(marks) & 14 = 14 OR bit_or(marks) & 65 = 65)
    END
),
keyed AS MATERIALIZED (  -- duckdb: MATERIALIZED (read twice below)
    SELECT k.kid, s.* FROM mark_chain_steps AS s JOIN keys AS k USING (engine, host, key_actor, key_target)
),
counted AS MATERIALIZED (  -- duckdb: MATERIALIZED (read twice below); narrow, so the one sort stays cheap
    SELECT kid, is_row, event_id, sub,
           CAST(sum(is_row) OVER (PARTITION BY kid ORDER BY t, is_row, event_id, sub ROWS UNBOUNDED PRECEDING) AS BIGINT)
               AS seen
    FROM (SELECT kid, us AS t, 1 AS is_row, event_id, sub FROM keyed
          UNION ALL
          SELECT kid, us + 30001000, 0, event_id, sub FROM keyed) AS merged
),
steps AS (
    SELECT k.*, c.seen AS step
    FROM counted AS c JOIN keyed AS k ON k.kid = c.kid AND k.event_id = c.event_id AND k.sub = c.sub
    WHERE c.is_row = 1
),
pointers AS MATERIALIZED (  -- duckdb: MATERIALIZED keeps the recursion from recomputing the sort per iteration
    SELECT s.kid, s.step, p.seen + 1 AS nxt
    FROM counted AS p
    JOIN steps AS s ON s.kid = p.kid AND s.event_id = p.event_id AND s.sub = p.sub
    WHERE p.is_row = 0
),
starts (kid, step) AS (
    SELECT kid, 1 FROM keys
    UNION ALL
    SELECT p.kid, p.nxt
    FROM starts AS s JOIN pointers AS p ON p.kid = s.kid AND p.step = s.step
),
members AS (
    SELECT kid, step AS window_step, unnest(range(step, nxt)) AS step  -- duckdb: unnest(range) (Spark: explode)
    FROM (SELECT s.kid, s.step, p.nxt FROM starts AS s JOIN pointers AS p ON p.kid = s.kid AND p.step = s.step) AS w
),
windowed AS (
    SELECT s.*, m.window_step, s.step = 1 OR s.step <> m.window_step AS contributes
    FROM steps AS s JOIN members AS m ON m.kid = s.kid AND m.step = s.step
),
firsts AS (
    SELECT kid, window_step,
           min(CASE WHEN marks & 1 <> 0 THEN step END) AS f1, min(CASE WHEN marks & 2 <> 0 THEN step END) AS f2,
           min(CASE WHEN marks & 4 <> 0 THEN step END) AS f4, min(CASE WHEN marks & 8 <> 0 THEN step END) AS f8,
           min(CASE WHEN marks & 16 <> 0 THEN step END) AS f16, min(CASE WHEN marks & 32 <> 0 THEN step END) AS f32,
           min(CASE WHEN marks & 64 <> 0 THEN step END) AS f64,
           min(CASE WHEN marks & 128 <> 0 THEN step END) AS f128,
           min(CASE WHEN marks & 256 <> 0 THEN step END) AS f256,
           min(CASE WHEN marks & 512 <> 0 THEN step END) AS f512
    FROM windowed
    WHERE contributes
    GROUP BY kid, window_step
),
accumulated AS (
    SELECT w.*,
           CASE WHEN f.f1 <= w.step THEN 1 ELSE 0 END | CASE WHEN f.f2 <= w.step THEN 2 ELSE 0 END
         | CASE WHEN f.f4 <= w.step THEN 4 ELSE 0 END | CASE WHEN f.f8 <= w.step THEN 8 ELSE 0 END
         | CASE WHEN f.f16 <= w.step THEN 16 ELSE 0 END | CASE WHEN f.f32 <= w.step THEN 32 ELSE 0 END
         | CASE WHEN f.f64 <= w.step THEN 64 ELSE 0 END | CASE WHEN f.f128 <= w.step THEN 128 ELSE 0 END
         | CASE WHEN f.f256 <= w.step THEN 256 ELSE 0 END | CASE WHEN f.f512 <= w.step THEN 512 ELSE 0 END
               AS acc_marks
    FROM windowed AS w
    LEFT JOIN firsts AS f ON f.kid = w.kid AND f.window_step = w.window_step
)
SELECT engine, host, key_actor, key_target, event_id, ts, us, sub, marks, corr_flags, corr_access_mask, corr_age_ms,
       gap_us, kid, step, window_step, contributes, acc_marks,
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

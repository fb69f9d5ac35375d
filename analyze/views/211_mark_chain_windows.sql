-- The anchored 30 s windows of both mark chains (spec 3.6 / 3.11, docs/detections.md sections 4 and 9) and what
-- each step sees: the marks accumulated in its window up to itself, and whether strong/medium holds.
-- A key's first step creates its entry (FirstSeen = its time, its marks count). A later step with
-- ms(FirstSeen, step) > 30000 (us - first_us >= 30001000) resets the entry: it becomes FirstSeen, its own marks
-- are lost [Q] and it is not evaluated. Window starts therefore form a chain (next start = the first step at
-- least 30001000 µs after the current start) that LAG cannot express. Set-based, with one sort:
--   1. `merged`: every step, plus a probe row at us + 30001000 µs, ordered per key by (time, probe first,
--      event_id, sub); a running count of real rows gives each step its number (`step`) and each probe the
--      number of steps before it, so probe count + 1 is the source step's next-start pointer;
--   2. the window starts: the chain from each key's first step along the pointers, by pointer doubling over the
--      key's pointer list (`jump`): after k rounds `jump` holds each step's 2^k-th successor and `reached` the
--      first 2^k starts, so a key with w windows needs log2(w) rounds, not w (all keys advance together; a row-by-row
--      recursion is w rounds, which Spark runs one job each and caps at 100);
--   3. each step's window is the last start at or before it (a running max over the key's steps), and the marks
--      accumulated as of each step come from the first step at which each mark bit appears in the window (a
--      GROUP BY, not a framed window).
-- `kid` names the key (an arbitrary number, stable within one query). Keys whose marks OR-ed over every step never
-- satisfy the medium predicate cannot emit and are left out first (most self-keys: no REMOTE mark). The kernel's
-- corr accumulation (Flags, Mask, Age) is computed for the emitting steps only, in mark_chain_emits.
-- Not followed (section 12): the driver's 256-slot table (stale take-over, eviction); see the `limits` view.
CREATE OR REPLACE VIEW mark_chain_windows AS
WITH RECURSIVE
keys AS (  -- only keys whose marks, all windows together, could ever reach medium: the others never emit
    SELECT engine, host, key_actor, key_target,
           row_number() OVER (ORDER BY engine, host, key_actor, key_target) AS kid  -- Spark numbers ordered rows only
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
pointers AS (
    SELECT s.kid, s.step, p.seen + 1 AS nxt
    FROM counted AS p
    JOIN steps AS s ON s.kid = p.kid AND s.event_id = p.event_id AND s.sub = p.sub
    WHERE p.is_row = 0
),
jumps AS (  -- per key, each step's next window start, NULL past the last step
    SELECT kid, array_agg(CASE WHEN nxt <= last THEN nxt END ORDER BY step) AS jump
    FROM (SELECT *, max(step) OVER (PARTITION BY kid) AS last FROM pointers) AS p
    GROUP BY kid
),
doubling (kid, jump, reached) AS (
    SELECT kid, jump, [CAST(1 AS BIGINT)] FROM jumps  -- duckdb: list literal (Spark: array(...))
    UNION ALL
    SELECT kid, list_transform(jump, lambda i: jump[i]),  -- duckdb: list lambda, 1-based subscript (Spark: transform)
           list_concat(reached, list_filter(list_transform(reached, lambda i: jump[i]),  -- duckdb: list lambdas
                                            lambda i: i IS NOT NULL))  -- duckdb: list lambda (Spark: filter)
    FROM doubling
    WHERE jump[1] IS NOT NULL  -- duckdb: 1-based subscript
),
starts AS (
    SELECT kid, unnest(reached) AS step FROM doubling WHERE jump[1] IS NULL  -- duckdb: unnest, subscript
),
windowed AS (  -- each step's window is the last start at or before it
    SELECT *, step = 1 OR step <> window_step AS contributes
    FROM (
        SELECT s.*, max(w.step) OVER (PARTITION BY s.kid ORDER BY s.step ROWS UNBOUNDED PRECEDING) AS window_step
        FROM steps AS s LEFT JOIN starts AS w ON w.kid = s.kid AND w.step = s.step
    ) AS t
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

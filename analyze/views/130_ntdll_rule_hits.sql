-- The image monitor's ntdll checks (spec 3.7, docs/detections.md section 5), both rules, in the detection shape.
-- SUSPICIOUS_NTDLL_IMAGE_PATH: only `\knowndlls\ntdll.dll` counts as known-good, because the driver's
-- `\system32\ntdll.dll` needle is compared with its NUL and never matches [Q].
-- MULTIPLE_NTDLL_IMAGE_MAPPINGS: the 512-slot counter, slot = (pid >> 2) mod 512 (written `& 511`, equal for any
-- sign), followed exactly: a load by another pid resets the slot, so a slot's rows form runs of one pid (gaps and
-- islands: a LAG marks each pid change, a running SUM numbers the runs) and the k-th load of a run fires for k > 1.
-- The table starts empty at the first row of the case and is never cleared on process exit [Q].
-- Evidence of MULTIPLE: the run's rows up to the trigger (a running list over the run).
CREATE OR REPLACE VIEW ntdll_rule_hits AS
WITH loads AS (
    SELECT *,
           lag(target_pid) OVER (PARTITION BY host, slot ORDER BY us, event_id) AS previous_pid
    FROM (SELECT *, (target_pid >> 2) & 511 AS slot FROM image_loads WHERE is_ntdll AND target_pid IS NOT NULL) AS l
),
runs AS (
    SELECT *,
           sum(CASE WHEN previous_pid IS NULL OR previous_pid <> target_pid THEN 1 ELSE 0 END)
               OVER (PARTITION BY host, slot ORDER BY us, event_id ROWS UNBOUNDED PRECEDING) AS run
    FROM loads
),
counted AS (
    SELECT *,
           row_number() OVER w AS load_count,
           list_sort(array_agg(event_id) OVER w) AS evidence,  -- duckdb: list_sort (Spark: array_sort)
           min(ts) OVER w AS first_ts
    FROM runs
    WINDOW w AS (PARTITION BY host, slot, run ORDER BY us, event_id ROWS UNBOUNDED PRECEDING)
)
SELECT 'SUSPICIOUS_NTDLL_IMAGE_PATH' AS rule, host, target_pid AS actor_pid, target_pid, ts, us,
       event_id AS trigger_event_id, CAST(0 AS BIGINT) AS corr_flags, CAST(0 AS BIGINT) AS corr_access_mask,
       CAST(0 AS BIGINT) AS corr_age_ms, CAST(NULL AS BIGINT) AS marks, image_path AS reason,
       [event_id] AS evidence,  -- duckdb: list literal (Spark: array(...))
       ts AS first_ts, ts AS last_ts
FROM image_loads
WHERE is_ntdll AND position('\knowndlls\ntdll.dll' IN lower(image_path)) = 0
UNION ALL
SELECT 'MULTIPLE_NTDLL_IMAGE_MAPPINGS', host, target_pid, target_pid, ts, us, event_id,
       CAST(0 AS BIGINT), CAST(0 AS BIGINT), CAST(0 AS BIGINT), CAST(NULL AS BIGINT), CAST(NULL AS VARCHAR),
       evidence, first_ts, ts
FROM counted
WHERE load_count > 1;

-- HIGH_VALUE_REGISTRY_ACTIVITY (spec 3.8, docs/detections.md section 6): a registry row whose key path contains a
-- high-value needle (case-insensitive). Judged from `key_path`, never from the carried `is_high_value`, so every
-- source is judged alike. The ATT&CK technique is the first matching needle's (`attack` here overrides the
-- catalogue's); the reason is the key path; targetPid is 0.
CREATE OR REPLACE VIEW det_high_value_registry_activity AS
SELECT 'HIGH_VALUE_REGISTRY_ACTIVITY' AS rule, host, actor_pid, CAST(0 AS BIGINT) AS target_pid, ts, us,
       event_id AS trigger_event_id, CAST(0 AS BIGINT) AS corr_flags, CAST(0 AS BIGINT) AS corr_access_mask,
       CAST(0 AS BIGINT) AS corr_age_ms, CAST(NULL AS BIGINT) AS marks, key_path AS reason,
       [event_id] AS evidence,  -- duckdb: list literal (Spark: array(...))
       ts AS first_ts, ts AS last_ts, attack
FROM (
    SELECT r.*,
           (SELECT min_by(n.attack, n.needle_order)
            FROM high_value_needles AS n
            WHERE position(n.needle IN r.lower_key) > 0) AS attack
    FROM (SELECT *, lower(key_path) AS lower_key
          FROM registry_ops
          -- one case-insensitive regular expression first: registry rows are often half a case, and this halves
          -- the cost of testing each needle on every one of them
          WHERE regexp_matches(key_path, '(?i)\\currentversion\\run|\\image file execution options|\\system\\currentcontrolset\\services\\')
         ) AS r
) AS matched
WHERE attack IS NOT NULL;

-- The kernel mark chain's accumulated corr at each emission (spec 3.6, docs/detections.md section 4): over the
-- window's contributing steps up to the trigger (the creating step, or the steps after the resetting one), Flags
-- and Mask OR the non-NULL values (NULL if none), Age is the last non-zero age (0 if ages are known but all 0,
-- NULL if none is known). An equi-join on the window plus `step <=`, bounded by one window per emission.
CREATE OR REPLACE VIEW mark_chain_corr AS
SELECT e.kid, e.step AS trigger_step,
       bit_or(s.corr_flags) AS corr_flags,
       bit_or(s.corr_access_mask) AS corr_access_mask,
       coalesce(arg_max(s.corr_age_ms, s.step) FILTER (WHERE s.corr_age_ms <> 0),  -- duckdb: arg_max (Spark: max_by)
                CASE WHEN count(s.corr_age_ms) > 0 THEN 0 END) AS corr_age_ms
FROM mark_chain_emitted AS e
JOIN mark_chain_windows AS s
  ON s.kid = e.kid AND s.window_step = e.window_step AND s.step <= e.step AND s.contributes
WHERE e.engine = 'kernel'
GROUP BY e.kid, e.step;

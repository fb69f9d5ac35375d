-- The inputs of both mark chains, in one relation so one set of window, cooldown and evidence views serves the
-- kernel engine (spec 3.6, docs/detections.md section 4) and the controller (spec 3.11, section 9): they have the
-- same shape (per-key anchored 30 s window whose resetting step loses its marks, then strong/medium with
-- cooldowns kept across windows) and differ only in marks, predicates and the cooldown bound.
--   kernel: thread rows with marks and a non-zero target; key (host, actor or target if 0, target); the row's
--           corr values accumulate into the emitted (Flags, Mask, Age).
--   controller: controller_steps; key (host, actor or target if 0, target); no corr.
-- `gap_us` is the cooldown in µs under the floor-ms rule: kernel `ms >= 3000` is 3000000 µs, controller
-- `ms > 3000` is 3001000 µs.
CREATE OR REPLACE VIEW mark_chain_steps AS
SELECT 'kernel' AS engine, host, coalesce(nullif(actor_pid, 0), target_pid) AS key_actor, target_pid AS key_target,
       event_id, ts, us, 0 AS sub, marks, corr_flags, corr_access_mask, corr_age_ms, 3000000 AS gap_us
FROM thread_starts
WHERE marks <> 0 AND target_pid <> 0
UNION ALL
SELECT 'controller', host, coalesce(nullif(actor, 0), target), target,
       event_id, ts, us, sub, marks, CAST(NULL AS BIGINT), CAST(NULL AS BIGINT), CAST(NULL AS BIGINT), 3001000
FROM controller_steps;

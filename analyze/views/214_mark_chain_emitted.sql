-- The mark-chain steps that emit (spec 3.6 / 3.11, docs/detections.md sections 4 and 9): the strong and the
-- medium emissions with their window, the input of the corr, evidence and detection views that follow.
CREATE OR REPLACE VIEW mark_chain_emitted AS
SELECT w.*, true AS is_strong FROM mark_chain_windows AS w JOIN mark_chain_strong USING (kid, step)
UNION ALL
SELECT w.*, false FROM mark_chain_windows AS w JOIN mark_chain_medium USING (kid, step);

-- PROCESS_HOLLOWING_MARK_CHAIN_STRONG (spec 3.11, docs/detections.md section 9): the controller chain's strong level
-- without a transaction mark; cooldown 3000 ms (>), shared with the TXF variant.
CREATE OR REPLACE VIEW det_process_hollowing_mark_chain_strong AS
SELECT * FROM mark_chain_emits WHERE rule = 'PROCESS_HOLLOWING_MARK_CHAIN_STRONG';

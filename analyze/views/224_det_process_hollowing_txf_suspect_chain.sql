-- PROCESS_HOLLOWING_TXF_SUSPECT_CHAIN (spec 3.11, docs/detections.md section 9): the controller chain's strong level with
-- TXF_SUSPECT in the window (a transacted-hollowing hint from the TI event name).
CREATE OR REPLACE VIEW det_process_hollowing_txf_suspect_chain AS
SELECT * FROM mark_chain_emits WHERE rule = 'PROCESS_HOLLOWING_TXF_SUSPECT_CHAIN';

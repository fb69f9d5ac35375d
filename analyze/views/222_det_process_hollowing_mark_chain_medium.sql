-- PROCESS_HOLLOWING_MARK_CHAIN_MEDIUM (spec 3.11, docs/detections.md section 9): the controller chain's medium level:
-- alloc+write+protect with a thread mark, or suspended+thread+context; cooldown 3000 ms (>).
CREATE OR REPLACE VIEW det_process_hollowing_mark_chain_medium AS
SELECT * FROM mark_chain_emits WHERE rule = 'PROCESS_HOLLOWING_MARK_CHAIN_MEDIUM';

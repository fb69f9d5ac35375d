-- KERNEL_PROCESS_HOLLOWING_MARK_CHAIN_STRONG (spec 3.6, docs/detections.md section 4): the kernel mark chain's strong level: remote,
-- a suspicious start, memory intent and context or duplicate intent in the window; cooldown 3000 ms (>=).
CREATE OR REPLACE VIEW det_kernel_process_hollowing_mark_chain_strong AS
SELECT * FROM mark_chain_emits WHERE rule = 'KERNEL_PROCESS_HOLLOWING_MARK_CHAIN_STRONG';

-- KERNEL_PROCESS_HOLLOWING_MARK_CHAIN_MEDIUM (spec 3.6, docs/detections.md section 4): the kernel mark chain's medium level: remote,
-- a suspicious start and any intent accumulated in the key's 30 s window; cooldown 3000 ms (>=).
CREATE OR REPLACE VIEW det_kernel_process_hollowing_mark_chain_medium AS
SELECT * FROM mark_chain_emits WHERE rule = 'KERNEL_PROCESS_HOLLOWING_MARK_CHAIN_MEDIUM';

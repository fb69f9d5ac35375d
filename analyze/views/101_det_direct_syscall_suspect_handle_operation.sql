-- DIRECT_SYSCALL_SUSPECT_HANDLE_OPERATION (spec 3.2, docs/detections.md section 1): a handle row of class 2.
CREATE OR REPLACE VIEW det_direct_syscall_suspect_handle_operation AS
SELECT * FROM handle_rule_hits WHERE rule = 'DIRECT_SYSCALL_SUSPECT_HANDLE_OPERATION';

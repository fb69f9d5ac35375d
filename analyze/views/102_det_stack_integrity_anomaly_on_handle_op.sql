-- STACK_INTEGRITY_ANOMALY_ON_HANDLE_OP (spec 3.2, docs/detections.md section 1): class 2 and a stack anomaly in
-- the IOCTL flags (a NULL `flags` is unknown and never fires).
CREATE OR REPLACE VIEW det_stack_integrity_anomaly_on_handle_op AS
SELECT * FROM handle_rule_hits WHERE rule = 'STACK_INTEGRITY_ANOMALY_ON_HANDLE_OP';

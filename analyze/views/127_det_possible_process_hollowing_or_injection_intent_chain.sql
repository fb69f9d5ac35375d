-- POSSIBLE_PROCESS_HOLLOWING_OR_INJECTION_INTENT_CHAIN (spec 3.6, docs/detections.md section 3) rule 6: remote, suspicious start, memory intent and
-- thread-context or duplicate intent.
CREATE OR REPLACE VIEW det_possible_process_hollowing_or_injection_intent_chain AS
SELECT * FROM thread_rule_hits WHERE rule = 'POSSIBLE_PROCESS_HOLLOWING_OR_INJECTION_INTENT_CHAIN';

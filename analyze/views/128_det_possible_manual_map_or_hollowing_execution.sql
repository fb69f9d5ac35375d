-- POSSIBLE_MANUAL_MAP_OR_HOLLOWING_EXECUTION (spec 3.6, docs/detections.md section 3) rule 7: remote, suspicious start, memory or duplicate intent.
CREATE OR REPLACE VIEW det_possible_manual_map_or_hollowing_execution AS
SELECT * FROM thread_rule_hits WHERE rule = 'POSSIBLE_MANUAL_MAP_OR_HOLLOWING_EXECUTION';

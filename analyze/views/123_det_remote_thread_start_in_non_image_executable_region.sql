-- REMOTE_THREAD_START_IN_NON_IMAGE_EXECUTABLE_REGION (spec 3.6, docs/detections.md section 3) rule 2: a remote start in executable non-image memory
-- (needs the start-region columns: ETW and simulated rows only).
CREATE OR REPLACE VIEW det_remote_thread_start_in_non_image_executable_region AS
SELECT * FROM thread_rule_hits WHERE rule = 'REMOTE_THREAD_START_IN_NON_IMAGE_EXECUTABLE_REGION';

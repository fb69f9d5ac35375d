-- REMOTE_THREAD_OUTSIDE_MAIN_IMAGE (spec 3.6, docs/detections.md section 3) rule 3: remote and outside the main image (the header-page ImageSize [Q] makes
-- this fire for nearly every remote thread).
CREATE OR REPLACE VIEW det_remote_thread_outside_main_image AS
SELECT * FROM thread_rule_hits WHERE rule = 'REMOTE_THREAD_OUTSIDE_MAIN_IMAGE';

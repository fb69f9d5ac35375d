-- SUSPICIOUS_NTDLL_IMAGE_PATH (spec 3.7, docs/detections.md section 5): a user-mode ntdll load from anywhere but
-- \KnownDlls (so every normal System32 load fires [Q][INF]); the reason is the image path.
CREATE OR REPLACE VIEW det_suspicious_ntdll_image_path AS
SELECT * FROM ntdll_rule_hits WHERE rule = 'SUSPICIOUS_NTDLL_IMAGE_PATH';

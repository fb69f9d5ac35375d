-- MULTIPLE_NTDLL_IMAGE_MAPPINGS (spec 3.7, docs/detections.md section 5): the second and later ntdll load of a pid
-- in its 512-slot counter since the slot was last reset (WOW64 processes trigger it [INF]).
CREATE OR REPLACE VIEW det_multiple_ntdll_image_mappings AS
SELECT * FROM ntdll_rule_hits WHERE rule = 'MULTIPLE_NTDLL_IMAGE_MAPPINGS';

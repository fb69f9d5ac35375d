-- The high-value registry needles (spec 3.8, docs/detections.md section 6) with the ATT&CK technique each means,
-- in match order. A copy of kernel/catalogue.py HIGH_VALUE_REGISTRY_NEEDLES (a test asserts they are equal).
-- Backslashes are literal here: DuckDB string literals do not escape them.
CREATE OR REPLACE VIEW high_value_needles AS
SELECT * FROM (VALUES
    (1, '\currentversion\run', 'T1547.001'),
    (2, '\currentversion\runonce', 'T1547.001'),
    (3, '\image file execution options', 'T1546.012'),
    (4, '\system\currentcontrolset\services\', 'T1543.003')
) AS n(needle_order, needle, attack);

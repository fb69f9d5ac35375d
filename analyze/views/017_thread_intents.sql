-- intents(t) of docs/detections.md "Derived facts per row": the handle rows of the same host, actor and target
-- before the thread row in (ts, event_id) order and at most 5000 ms older (floor ms), for thread rows whose
-- recorded correlation is non-zero. The driver's 256-entry intent ring is not recomputed: the thread row already
-- carries the correlation it found; these rows are its evidence. A Sysmon 8 row records no correlation: its rows
-- here are what thread_starts derives it from (no row, no correlation), so they are exactly its evidence too.
-- ms(h, t) <= 5000 with ms = floor(µs / 1000) is t.us - h.us < 5001000, i.e. h.us >= t.us - 5000999.
-- A band join: an equi-join on (host, actor, target) alone pairs every thread row of a busy pair with all its
-- handle rows; so each handle row is also put in 5001000 µs time buckets (its own and the next), and the join adds
-- the thread row's bucket: every handle row within 5000 ms (floor) of the thread row is in exactly one of them.
-- Where both rows carry process GUIDs (Sysmon), they must name the same processes too: a pid is reused, a GUID is
-- not. Sleepwalker rows carry none, so for them this is the pid join alone. `access_mask` and `us` are the handle
-- row's, for thread_starts' derived correlation.
CREATE OR REPLACE VIEW thread_intents AS
SELECT t.event_id AS thread_event_id, h.event_id, h.ts, h.access_mask, h.us
FROM thread_rows AS t
JOIN (
    SELECT h.*, h.us // 5001000 + s.shift AS bucket  -- duckdb: // is integer division (Spark: DIV)
    FROM handle_ops AS h CROSS JOIN (VALUES (0), (1)) AS s(shift)
) AS h
  ON h.host = t.host
 AND h.actor_pid = t.actor_pid
 AND h.target_pid = t.target_pid
 AND h.bucket = t.us // 5001000  -- duckdb: // (Spark: DIV)
 AND h.us >= t.us - 5000999
 AND (h.us < t.us OR (h.us = t.us AND h.event_id < t.event_id))
 AND (h.actor_guid = t.actor_guid OR h.actor_guid IS NULL OR t.actor_guid IS NULL)
 AND (h.target_guid = t.target_guid OR h.target_guid IS NULL OR t.target_guid IS NULL)
WHERE t.sysmon OR coalesce(t.corr_flags, 0) <> 0;

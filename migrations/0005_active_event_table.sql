-- One active event per (alarm, dedupe_key), enforced in a narrow table of
-- the engine's own instead of by expression indexes on the dashboard's
-- `entry`. While any index of `entry` reads `data`, every write of `data`
-- (the `last_seen` bump of each continuing event, every tick) is a
-- non-HOT update that inserts into all of `entry`'s indexes; without
-- them, and with room left in each page, most of those updates are HOT.
--
-- A row here means: this event is the alarm's active event for this key.
-- The engine writes it in the same transaction as the event row, and
-- removes it when the event clears. An event the dashboard archives,
-- deletes or clears by hand leaves its row behind; the next tick of that
-- alarm sees the event is no longer active and removes it.

CREATE TABLE IF NOT EXISTS swf_alarms_active_event (
    alarm      text        NOT NULL,   -- the events' data.entry_id: event_<name>
    dedupe_key text        NOT NULL,
    event_id   varchar(36) NOT NULL,   -- entry.id
    PRIMARY KEY (alarm, dedupe_key)
);

-- Events that cleared after an email carried them, whose recovery notice
-- (notify_on_clear) has not been sent yet. Usually empty: a row lives from
-- the clear to the email of the same tick, longer only when that send
-- failed.
CREATE TABLE IF NOT EXISTS swf_alarms_pending_recovery (
    event_id   varchar(36)      PRIMARY KEY,
    alarm      text             NOT NULL,
    cleared_at double precision NOT NULL
);
CREATE INDEX IF NOT EXISTS swf_alarms_pending_recovery_alarm
    ON swf_alarms_pending_recovery (alarm);

-- Today's active events, from the rows the unique index kept unique.
INSERT INTO swf_alarms_active_event (alarm, dedupe_key, event_id)
SELECT data->>'entry_id', COALESCE(data->>'dedupe_key', ''), id
FROM entry
WHERE kind = 'event'
  AND context_id = 'swf-alarms'
  AND archived = false
  AND deleted_at IS NULL
  AND (data->>'clear_time') IS NULL
  AND (data->>'entry_id') IS NOT NULL
ON CONFLICT DO NOTHING;

-- Recovery notices still owed (the last week), for alarms that send them.
-- (Nested CASEs: a plain cast would fail the statement on one row
-- holding text or 1e400, and an AND has no promised order.)
INSERT INTO swf_alarms_pending_recovery (event_id, alarm, cleared_at)
SELECT id, alarm, cleared_at
FROM (
    SELECT e.id, e.data->>'entry_id' AS alarm,
           CASE WHEN jsonb_typeof(e.data->'clear_time') = 'number' THEN
               CASE WHEN abs((e.data->'clear_time')::numeric) < 1e300
                    THEN (e.data->'clear_time')::numeric::double precision END
           END AS cleared_at,
           CASE WHEN jsonb_typeof(e.data->'last_notified') = 'number' THEN
               CASE WHEN abs((e.data->'last_notified')::numeric) < 1e300
                    THEN (e.data->'last_notified')::numeric::double precision END
           END AS notified_at
    FROM entry e
    WHERE e.kind = 'event'
      AND e.context_id = 'swf-alarms'
      AND e.archived = false
      AND e.deleted_at IS NULL
      AND e.data->'clear_notified' IS NULL
      AND (e.data->>'entry_id') LIKE 'event\_%'
      AND EXISTS (
          SELECT 1 FROM entry a
          WHERE a.kind = 'alarm' AND a.context_id = 'swf-alarms' AND a.deleted_at IS NULL
            AND a.data->>'entry_id' = 'alarm_' || substr(e.data->>'entry_id', 7)
            AND a.data->'notify_on_clear' = 'true'::jsonb)
) owed
WHERE cleared_at > extract(epoch FROM now()) - 7 * 86400
  AND notified_at > 0
ON CONFLICT DO NOTHING;

-- The engine's expression indexes over `data` go: the table above
-- replaces them. (The dashboard's own indexes are left alone.)
DROP INDEX IF EXISTS entry_swf_alarms_one_active_event;
DROP INDEX IF EXISTS entry_swf_alarms_events_by_alarm;

-- Room in each page for the updated version of a row, so that an update
-- can stay on its page (HOT). Applies to pages written from now on.
ALTER TABLE entry SET (fillfactor = 70);

ANALYZE swf_alarms_active_event;

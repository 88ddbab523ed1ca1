-- swf-alarms: no transaction
-- (Each statement runs by itself: the indexes are built CONCURRENTLY, so
-- the dashboard keeps writing `entry` meanwhile.)
--
-- At most one active event per (alarm, dedupe_key), enforced by the
-- database. The old engine did not enforce it, so its databases can hold
-- duplicates: keep the newest (by fire_time, then creation), clear the
-- others, and report each one (the rows this file returns are logged).

WITH active AS (
    SELECT id,
           row_number() OVER (
               PARTITION BY data->>'entry_id', data->>'dedupe_key'
               ORDER BY CASE WHEN jsonb_typeof(data->'fire_time') = 'number'
                             THEN (data->>'fire_time')::double precision END DESC NULLS LAST,
                        timestamp_created DESC,
                        id DESC
           ) AS rank
    FROM entry
    WHERE kind = 'event'
      AND context_id = 'swf-alarms'
      AND archived = false
      AND deleted_at IS NULL
      AND data IS NOT NULL
      AND (data->>'clear_time') IS NULL
),
cleared AS (
    UPDATE entry e
    SET data = e.data || jsonb_build_object(
                   'clear_time', extract(epoch FROM now())::double precision,
                   'cleared_by', 'swf-alarms migration 0002: duplicate active event'),
        timestamp_modified = extract(epoch FROM now())::double precision
    FROM active a
    WHERE e.id = a.id AND a.rank > 1
    RETURNING e.id, e.data->>'entry_id' AS alarm, e.data->>'dedupe_key' AS dedupe_key
)
SELECT 'cleared duplicate active event' AS action, id, alarm, dedupe_key FROM cleared;

CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS entry_swf_alarms_one_active_event
    ON entry ((data->>'entry_id'), (data->>'dedupe_key'))
    WHERE kind = 'event'
      AND context_id = 'swf-alarms'
      AND archived = false
      AND deleted_at IS NULL
      AND (data->>'clear_time') IS NULL;

-- Alarm rows are few among many events: a small index of their own, so
-- that the planner is never tempted to scan every event through it.
CREATE INDEX CONCURRENTLY IF NOT EXISTS entry_swf_alarms_alarms
    ON entry (context_id)
    WHERE kind = 'alarm' AND deleted_at IS NULL;

-- All events of one alarm, cleared ones included (recovery notices,
-- status); the unique index above serves the active ones.
CREATE INDEX CONCURRENTLY IF NOT EXISTS entry_swf_alarms_events_by_alarm
    ON entry ((data->>'entry_id'))
    WHERE kind = 'event' AND context_id = 'swf-alarms';

-- Fresh statistics, so that the first ticks already use these indexes.
ANALYZE entry;

-- swf-alarms: no transaction
-- (The index is built CONCURRENTLY, so the dashboard keeps writing.)
--
-- `entry.parent_id` references `entry.id`, so deleting a row makes
-- Postgres look for rows whose parent it is, once per deleted row, at
-- commit. The dashboard's own schema indexes `parent_id` (Django indexes
-- every foreign key); the tables 0001 creates where there is no dashboard
-- did not, and there each of those look-ups read all of `entry`: `prune`
-- deleting 10 events from a table of two million rows spent 12.9 s in its
-- COMMIT, so a batch of 500 would have taken about ten minutes.
--
-- Partial, so that it holds only the rows that have a parent (the engine
-- writes none): next to the dashboard's full index it costs nothing to
-- keep, and a look-up for a parent (`parent_id = $1`) can use it.
CREATE INDEX CONCURRENTLY IF NOT EXISTS entry_swf_alarms_parent
    ON entry (parent_id)
    WHERE parent_id IS NOT NULL;

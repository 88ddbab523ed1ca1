-- swf-alarms: no transaction
-- (The indexes are built CONCURRENTLY, so the dashboard keeps writing.)
--
-- The engine's own rows among the events: run records (one per tick) and
-- silences. `status`, the status page and retention look for the newest
-- runs, the runs of the last week and the silences in force; without an
-- index of their own each of those reads every row of `entry` (2.6 GB
-- with a million events). Both are partial on columns no tick changes, so
-- the updates of event rows stay HOT.

CREATE INDEX CONCURRENTLY IF NOT EXISTS entry_swf_alarms_runs
    ON entry (timestamp_created)
    WHERE kind = 'engine_run' AND context_id = 'swf-alarms';

CREATE INDEX CONCURRENTLY IF NOT EXISTS entry_swf_alarms_silences
    ON entry (context_id)
    WHERE kind = 'silence';

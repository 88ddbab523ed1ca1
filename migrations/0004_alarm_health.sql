-- Each alarm's failing streak: since when its detector has failed on
-- every tick, how many ticks in a row, and the last error. One narrow row
-- per alarm, written by the tick in the alarm's own transaction; the
-- dashboard never reads it. A row is written only while a streak runs
-- and once when it ends (failing_since NULL: the detector succeeded).
CREATE TABLE IF NOT EXISTS swf_alarms_alarm_health (
    alarm_entry_id       varchar(255) PRIMARY KEY,
    failing_since        double precision,
    consecutive_failures integer NOT NULL DEFAULT 0,
    last_error           text,
    updated_at           double precision NOT NULL
);

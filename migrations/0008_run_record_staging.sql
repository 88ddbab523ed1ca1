-- The run record's per-alarm entries on their way into the run row. The
-- tick streams them in with COPY and merges them into `entry` with one
-- UPDATE in the same transaction, which also deletes them: outside a
-- tick the table is empty. (A million bundled events make a record of
-- tens of MB; sent as one statement parameter, the driver's buffers held
-- about four times that.) Unlogged, and the entries kept as uncompressed
-- JSON text: its rows never outlive a transaction, and the server parses
-- the whole record once, when it is merged.
CREATE UNLOGGED TABLE IF NOT EXISTS swf_alarms_run_alarm (
    run_id varchar(36) NOT NULL,   -- the run row's entry.id
    ord    integer     NOT NULL,   -- the order of per_alarm (a later entry wins)
    alarm  text        NOT NULL,   -- the alarm's entry_id
    record text        NOT NULL,   -- the entry, as JSON
    PRIMARY KEY (run_id, ord)
);
ALTER TABLE swf_alarms_run_alarm ALTER COLUMN record SET STORAGE EXTERNAL;

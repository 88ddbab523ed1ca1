-- The notification ledger: one row per bundle the engine tries to send,
-- written before the send ('sending') and completed after it ('sent' or
-- 'failed'). A row still 'sending' when the next tick starts belongs to a
-- tick killed between the send and its record: that tick reports it as
-- possibly sent ('possibly_sent') and sends the events again.
CREATE TABLE IF NOT EXISTS swf_alarms_ledger (
    id           bigserial        PRIMARY KEY,
    alarm        varchar(255)     NOT NULL,   -- the alarm's entry_id
    run_id       varchar(36)      NOT NULL,   -- the tick's engine_run row
    recipients   text[]           NOT NULL,
    subject      text             NOT NULL,
    event_ids    text[]           NOT NULL,   -- NEW, CONTINUING and RESOLVED events in it
    provider     varchar(20)      NOT NULL,
    state        varchar(20)      NOT NULL,   -- sending, sent, failed, possibly_sent
    attempts     integer          NOT NULL DEFAULT 0,
    message_id   text,                        -- SES MessageId, the SMTP relay's reply
    error        text,
    sending_at   double precision NOT NULL,
    sent_at      double precision,
    failed_at    double precision,
    reported_at  double precision             -- when a later tick reported it possibly sent
);
-- The last N sends of an alarm.
CREATE INDEX IF NOT EXISTS swf_alarms_ledger_alarm_recent
    ON swf_alarms_ledger (alarm, sending_at DESC);
-- Pruning by age, and listing every alarm's sends since a time.
CREATE INDEX IF NOT EXISTS swf_alarms_ledger_sending_at
    ON swf_alarms_ledger (sending_at);
-- Rows a killed tick left behind (usually none).
CREATE INDEX IF NOT EXISTS swf_alarms_ledger_sending
    ON swf_alarms_ledger (id) WHERE state = 'sending';

//! The notification ledger, `swf_alarms_ledger`: one row per bundle the
//! engine tries to send, written before the send and completed after it.
//!
//! The row exists before the provider is asked, so a tick killed between
//! a send and its record leaves a row in state `sending`; the next tick
//! reports it ([`claim_unfinished`]) and, since the tick wrote its events
//! only after the send (with their notified stamps), it makes and sends
//! them again: delivery is at least once.

use deadpool_postgres::GenericClient;
use serde::Serialize;

use super::{ctx, StoreError};

/// Rows deleted per statement when pruning: keeps each delete short.
const PRUNE_BATCH: i64 = 1000;
/// Statements per tick at most; what is left waits for the next tick.
const PRUNE_BATCHES: usize = 20;

/// A send about to be attempted.
#[derive(Debug, Clone)]
pub(crate) struct NewSend<'a> {
    pub alarm: &'a str,
    pub run_id: &'a str,
    pub recipients: &'a [String],
    pub subject: &'a str,
    pub event_ids: &'a [String],
    pub provider: &'a str,
}

/// How a send ended.
#[derive(Debug, Clone)]
pub(crate) enum Finished {
    /// Delivered; the provider's message id when it gave one.
    Sent { message_id: Option<String> },
    /// Not delivered (the last attempt's error).
    Failed { error: String },
}

/// One ledger row, as `sends` and `status` show it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Send {
    pub id: i64,
    pub alarm: String,
    pub run_id: String,
    pub recipients: Vec<String>,
    pub subject: String,
    pub event_ids: Vec<String>,
    pub provider: String,
    /// `sending`, `sent`, `failed` or `possibly_sent`.
    pub state: String,
    pub attempts: i32,
    pub message_id: Option<String>,
    pub error: Option<String>,
    pub sending_at: f64,
    pub sent_at: Option<f64>,
    pub failed_at: Option<f64>,
    pub reported_at: Option<f64>,
}

/// Writes the row of a send about to start (state `sending`); its id.
pub(crate) async fn begin(
    client: &impl GenericClient,
    send: &NewSend<'_>,
    now: f64,
) -> Result<i64, StoreError> {
    let row = client
        .query_one(
            "INSERT INTO swf_alarms_ledger
                 (alarm, run_id, recipients, subject, event_ids, provider, state, sending_at)
             VALUES ($1, $2, $3, $4, $5, $6, 'sending', $7) RETURNING id",
            &[
                &send.alarm,
                &send.run_id,
                &send.recipients,
                &send.subject,
                &send.event_ids,
                &send.provider,
                &now,
            ],
        )
        .await
        .map_err(ctx("writing the ledger row of a send"))?;
    Ok(row.get(0))
}

/// Completes a send's row.
pub(crate) async fn finish(
    client: &impl GenericClient,
    id: i64,
    attempts: u32,
    finished: &Finished,
    now: f64,
) -> Result<(), StoreError> {
    let attempts = i32::try_from(attempts).unwrap_or(i32::MAX);
    let (state, message_id, error) = match finished {
        Finished::Sent { message_id } => ("sent", message_id.as_deref(), None),
        Finished::Failed { error } => ("failed", None, Some(error.as_str())),
    };
    client
        .execute(
            "UPDATE swf_alarms_ledger
             SET state = $2::text, attempts = $3, message_id = $4, error = $5,
                 sent_at = CASE WHEN $2::text = 'sent' THEN $6::float8 END,
                 failed_at = CASE WHEN $2::text = 'failed' THEN $6::float8 END
             WHERE id = $1",
            &[&id, &state, &attempts, &message_id, &error, &now],
        )
        .await
        .map_err(ctx("completing the ledger row of a send"))?;
    Ok(())
}

/// Rows left `sending` by a tick that was killed, now marked
/// `possibly_sent` so that each is reported once. Called under the tick
/// lock, so no other tick is sending.
pub(crate) async fn claim_unfinished(
    client: &impl GenericClient,
    now: f64,
) -> Result<Vec<Send>, StoreError> {
    let rows = client
        .query(
            &format!(
                "UPDATE swf_alarms_ledger SET state = 'possibly_sent', reported_at = $1
                 WHERE state = 'sending' RETURNING {COLUMNS}"
            ),
            &[&now],
        )
        .await
        .map_err(ctx("claiming unfinished sends"))?;
    Ok(rows.iter().map(send).collect())
}

/// Deletes rows older than `before`, in bounded batches; how many.
pub(crate) async fn prune(client: &impl GenericClient, before: f64) -> Result<u64, StoreError> {
    let mut deleted = 0;
    for _ in 0..PRUNE_BATCHES {
        let n = client
            .execute(
                "DELETE FROM swf_alarms_ledger WHERE id IN (
                     SELECT id FROM swf_alarms_ledger WHERE sending_at < $1
                     ORDER BY sending_at LIMIT $2)",
                &[&before, &PRUNE_BATCH],
            )
            .await
            .map_err(ctx("pruning the ledger"))?;
        deleted += n;
        if n < PRUNE_BATCH as u64 {
            break;
        }
    }
    Ok(deleted)
}

/// The newest sends, newest first: of one alarm or all, since a time.
pub(crate) async fn list(
    client: &impl GenericClient,
    alarm: Option<&str>,
    since: Option<f64>,
    limit: i64,
) -> Result<Vec<Send>, StoreError> {
    let rows = client
        .query(
            &format!(
                "SELECT {COLUMNS} FROM swf_alarms_ledger
                 WHERE ($1::text IS NULL OR alarm = $1)
                   AND ($2::float8 IS NULL OR sending_at >= $2)
                 ORDER BY sending_at DESC, id DESC LIMIT $3"
            ),
            &[&alarm, &since, &limit],
        )
        .await
        .map_err(ctx("reading the ledger"))?;
    Ok(rows.iter().map(send).collect())
}

const COLUMNS: &str = "id, alarm::text, run_id::text, recipients, subject, event_ids,
    provider::text, state::text, attempts, message_id, error, sending_at, sent_at, failed_at,
    reported_at";

fn send(r: &tokio_postgres::Row) -> Send {
    Send {
        id: r.get(0),
        alarm: r.get(1),
        run_id: r.get(2),
        recipients: r.get(3),
        subject: r.get(4),
        event_ids: r.get(5),
        provider: r.get(6),
        state: r.get(7),
        attempts: r.get(8),
        message_id: r.get(9),
        error: r.get(10),
        sending_at: r.get(11),
        sent_at: r.get(12),
        failed_at: r.get(13),
        reported_at: r.get(14),
    }
}

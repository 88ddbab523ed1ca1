//! The tick's side of the notification ledger (`store::ledger`): report
//! the sends a killed tick left unfinished, and prune old rows. Neither
//! ever fails the tick: a problem is logged and lands in the run record.

use deadpool_postgres::GenericClient;

use crate::{error_chain, store::ledger, time};

/// Claims the rows a killed tick left in state `sending` and describes
/// each (`possibly sent: …`) for the log and the run record. Their events
/// were never stamped, so this tick sends them again.
pub(crate) async fn report_unfinished(client: &impl GenericClient, now: f64) -> Vec<String> {
    match ledger::claim_unfinished(client, now).await {
        Ok(rows) => rows
            .iter()
            .map(|row| {
                let line = format!(
                    "possibly sent: [{}] {:?} to {} (ledger row {}, tick {}, sending since {}); \
                     the tick stopped before recording the outcome, its events are sent again",
                    row.alarm,
                    row.subject,
                    row.recipients.join(", "),
                    row.id,
                    row.run_id,
                    time::utc_label(row.sending_at)
                );
                tracing::warn!(alarm = %row.alarm, ledger_row = row.id, "{line}");
                line
            })
            .collect(),
        Err(error) => {
            let line = format!(
                "the ledger could not be checked for unfinished sends: {}",
                error_chain(&error, ": ")
            );
            tracing::warn!("{line}");
            vec![line]
        }
    }
}

/// Deletes ledger rows sent before `now - retention`, in bounded batches.
pub(crate) async fn prune(
    client: &impl GenericClient,
    now: f64,
    retention: std::time::Duration,
) -> Option<String> {
    match ledger::prune(client, now - retention.as_secs_f64()).await {
        Ok(0) => None,
        Ok(deleted) => {
            tracing::debug!(deleted, "Old ledger rows pruned.");
            None
        }
        Err(error) => {
            let line = format!("pruning the ledger failed: {}", error_chain(&error, ": "));
            tracing::warn!("{line}");
            Some(line)
        }
    }
}

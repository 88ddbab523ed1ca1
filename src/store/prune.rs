//! Retention: run rows and cleared events older than
//! `engine.retention_days` are deleted, a bounded batch at a time, so a
//! prune never holds many row locks or runs long beside the dashboard.

use deadpool_postgres::GenericClient;

use super::{ctx, keys, StoreError};

/// Rows deleted per statement.
pub(crate) const BATCH: i64 = 500;

/// What pruning found, or removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pruned {
    /// `engine_run` rows.
    pub runs: u64,
    /// Cleared events.
    pub events: u64,
}

impl Pruned {
    /// Rows in all.
    pub fn total(&self) -> u64 {
        self.runs + self.events
    }
}

/// Rows of the engine's context older than `cutoff` (Unix seconds): run
/// rows by creation, events by clear time (an active event is never old).
const OLD_RUNS: &str = "kind = $1 AND context_id = $2 AND timestamp_created < $3";
const OLD_EVENTS: &str = "kind = $1 AND context_id = $2
      AND jsonb_typeof(data->'clear_time') = 'number'
      AND (data->>'clear_time')::double precision < $3";

/// Counts what a prune at `cutoff` would delete.
pub(crate) async fn count(client: &impl GenericClient, cutoff: f64) -> Result<Pruned, StoreError> {
    let count = |filter: &'static str, kind: &'static str| async move {
        let row = client
            .query_one(
                &format!("SELECT count(*) FROM entry WHERE {filter}"),
                &[&kind, &keys::CONTEXT, &cutoff],
            )
            .await
            .map_err(ctx("counting rows to prune"))?;
        Ok::<u64, StoreError>(row.get::<_, i64>(0).max(0) as u64)
    };
    Ok(Pruned {
        runs: count(OLD_RUNS, keys::KIND_RUN).await?,
        events: count(OLD_EVENTS, keys::KIND_EVENT).await?,
    })
}

/// Deletes at most `max_batches` batches of each kind older than `cutoff`;
/// what is left goes with the next call.
pub(crate) async fn delete(
    client: &impl GenericClient,
    cutoff: f64,
    max_batches: usize,
) -> Result<Pruned, StoreError> {
    let mut pruned = Pruned::default();
    for (filter, kind) in [(OLD_RUNS, keys::KIND_RUN), (OLD_EVENTS, keys::KIND_EVENT)] {
        let sql = format!(
            "DELETE FROM entry WHERE id IN (
                 SELECT id FROM entry WHERE {filter} LIMIT {BATCH} FOR UPDATE SKIP LOCKED)"
        );
        for _ in 0..max_batches {
            let deleted = client
                .execute(&sql, &[&kind, &keys::CONTEXT, &cutoff])
                .await
                .map_err(ctx("pruning old rows"))?;
            if kind == keys::KIND_RUN {
                pruned.runs += deleted;
            } else {
                pruned.events += deleted;
            }
            if deleted < BATCH as u64 {
                break;
            }
        }
    }
    Ok(pruned)
}

//! The tick lock: a Postgres advisory lock held on a dedicated connection
//! for the whole tick, so overlapping cron starts never both work.
//!
//! Session-level advisory locks die with their connection, so a killed
//! tick releases it by itself.

use tokio_postgres::Client;

use super::{ctx, StoreError};
use crate::config::DbConfig;

/// Advisory lock key of the tick ("swfalarm" as bytes).
const TICK_LOCK_KEY: i64 = 0x7377_6661_6c61_726d;

/// Held while a tick runs; dropping it closes the connection and so
/// releases the lock, but [`TickLock::release`] does so at once (the
/// server may notice a closed connection only a moment later, and the
/// next cron start should not find the lock still taken).
pub(crate) struct TickLock {
    client: Client,
}

impl TickLock {
    /// Releases the lock now.
    pub(crate) async fn release(self) {
        if let Err(error) = self
            .client
            .query_one("SELECT pg_advisory_unlock($1)", &[&TICK_LOCK_KEY])
            .await
        {
            tracing::warn!(error = %error, "Releasing the tick lock failed; it goes with the connection.");
        }
    }
}

/// Takes the tick lock, or returns `None` when another tick holds it.
pub(crate) async fn try_acquire(db: &DbConfig) -> Result<Option<TickLock>, StoreError> {
    let client = super::connect(db).await?;
    let row = client
        .query_one("SELECT pg_try_advisory_lock($1)", &[&TICK_LOCK_KEY])
        .await
        .map_err(ctx("taking the tick lock"))?;
    let got: bool = row.get(0);
    Ok(got.then_some(TickLock { client }))
}

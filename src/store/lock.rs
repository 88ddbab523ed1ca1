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
/// releases the lock.
pub(crate) struct TickLock {
    _client: Client,
}

/// Takes the tick lock, or returns `None` when another tick holds it.
pub(crate) async fn try_acquire(db: &DbConfig) -> Result<Option<TickLock>, StoreError> {
    let client = super::connect(db).await?;
    let row = client
        .query_one("SELECT pg_try_advisory_lock($1)", &[&TICK_LOCK_KEY])
        .await
        .map_err(ctx("taking the tick lock"))?;
    let got: bool = row.get(0);
    Ok(got.then_some(TickLock { _client: client }))
}

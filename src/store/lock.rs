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

/// The session holding the tick lock, as `pg_stat_activity` shows it.
///
/// The lock lives on a connection opened for it alone, so the session's
/// start is when the lock was taken, give or take a connect.
#[derive(Debug, Clone, PartialEq)]
pub struct LockHolder {
    /// The holder's server process id.
    pub pid: i32,
    /// Its `application_name` (`swf-alarms` for the engine).
    pub application: String,
    /// Its client address, or `local` for a Unix socket.
    pub client: String,
    /// When its session started (Unix seconds); `None` when the role may
    /// not see other sessions' details.
    pub since: Option<f64>,
    /// Its state (`idle`, `active`, ...), and what it runs or ran last.
    pub state: String,
    /// The statement it runs or ran last, cut short.
    pub query: String,
}

/// What asking for the tick lock gave.
pub(crate) enum Attempt {
    /// The lock is ours.
    Acquired(TickLock),
    /// Another session holds it; `None` when it could not be identified
    /// (it let go meanwhile, or the role cannot see it).
    Held(Option<LockHolder>),
}

/// Takes the tick lock, or says who holds it.
pub(crate) async fn try_acquire(db: &DbConfig) -> Result<Attempt, StoreError> {
    let client = super::connect(db).await?;
    let row = client
        .query_one("SELECT pg_try_advisory_lock($1)", &[&TICK_LOCK_KEY])
        .await
        .map_err(ctx("taking the tick lock"))?;
    let got: bool = row.get(0);
    if got {
        return Ok(Attempt::Acquired(TickLock { client }));
    }
    Ok(Attempt::Held(holder(&client).await?))
}

/// The session holding the tick lock, if any.
async fn holder(client: &Client) -> Result<Option<LockHolder>, StoreError> {
    // A bigint advisory key shows in pg_locks as classid (high half),
    // objid (low half) and objsubid 1.
    let high = TICK_LOCK_KEY >> 32;
    let low = TICK_LOCK_KEY & 0xffff_ffff;
    let row = client
        .query_opt(
            "SELECT a.pid, COALESCE(a.application_name, ''),
                    COALESCE(host(a.client_addr), 'local'),
                    extract(epoch FROM a.backend_start)::float8,
                    COALESCE(a.state, ''), left(COALESCE(a.query, ''), 200)
             FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
             WHERE l.locktype = 'advisory' AND l.granted
               AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
               AND l.classid::bigint = $1 AND l.objid::bigint = $2 AND l.objsubid = 1
             LIMIT 1",
            &[&high, &low],
        )
        .await
        .map_err(ctx("finding who holds the tick lock"))?;
    Ok(row.map(|r| LockHolder {
        pid: r.get(0),
        application: r.get(1),
        client: r.get(2),
        since: r.get(3),
        state: r.get(4),
        query: r.get(5),
    }))
}

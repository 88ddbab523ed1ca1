//! The engine's side of the detector sources: what `alarms::Ctx` hands to
//! detectors. One set per tick, so nothing is cached across ticks.

pub(crate) mod db;
pub(crate) mod history;
mod once;
pub(crate) mod panda;
pub(crate) mod probe;
pub(crate) mod snapshots;

use std::sync::Arc;

use alarms::Ctx;
use deadpool_postgres::Pool;

use crate::config::Config;

/// Every source of one tick, ready to hand to detectors.
pub(crate) struct Sources {
    pub panda: Option<Arc<panda::PandaClient>>,
    pub db: Arc<db::DbReader>,
    pub snapshots: Arc<snapshots::SnapshotReader>,
    pub prober: Arc<probe::NetProber>,
}

impl Sources {
    /// Sets up the tick's sources; none of them connects yet.
    pub(crate) fn new(config: &Config, pool: Pool) -> Result<Sources, String> {
        let panda = match &config.engine.service_base_url {
            Some(base) => Some(Arc::new(panda::PandaClient::new(
                base,
                &config.engine.panda_task_url,
                config.engine.request_timeout,
                config.engine.max_read_bytes,
            )?)),
            None => None,
        };
        Ok(Sources {
            panda,
            db: Arc::new(db::DbReader::new(
                pool,
                config.engine.request_timeout,
                config.engine.db_check_tables.clone(),
            )),
            snapshots: Arc::new(snapshots::SnapshotReader::new(
                config.engine.ops_snapshot_dir.clone(),
                config.engine.max_read_bytes,
            )),
            prober: Arc::new(probe::NetProber::new(config.engine.probe_public_only)?),
        })
    }

    /// The context a detector runs with.
    pub(crate) fn ctx(&self, now: f64, alarm: &str) -> Ctx {
        let ctx = Ctx::new(now, alarm)
            .with_db(self.db.clone())
            .with_snapshots(self.snapshots.clone())
            .with_prober(self.prober.clone());
        match &self.panda {
            Some(panda) => ctx.with_panda(panda.clone()),
            None => ctx,
        }
    }
}

//! `ops_collector_stale`: the ops monitor itself has stopped — its newest
//! snapshot is older than `max_age_minutes` by this engine's clock (never
//! by the snapshot's own), or there is no snapshot at all.
//!
//! Upstream: the ops snapshot files. Dedupe key: `ops_collector_stale`.
//! Example params: `{"max_age_minutes": 20}`.

use serde::Deserialize;
use serde_json::Value;

use crate::support::ops;
use crate::{parse_params, Ctx, DetectFuture, ParamSchema, Registration};

/// The params of `ops_collector_stale`.
#[derive(Debug, Deserialize, ParamSchema)]
#[serde(deny_unknown_fields)]
struct Params {
    /// Older than this fires.
    #[serde(default = "twenty")]
    max_age_minutes: f64,
    /// Snapshot directory; `engine.ops_snapshot_dir` when absent.
    #[serde(default)]
    snapshot_dir: Option<String>,
}

fn twenty() -> f64 {
    20.0
}

fn detect(ctx: Ctx, params: Value) -> DetectFuture {
    Box::pin(async move {
        let p: Params = parse_params(params)?;
        let latest = ctx.snapshots()?.latest(p.snapshot_dir.as_deref()).await?;
        Ok(ops::collector_stale(
            latest.as_deref(),
            ctx.now,
            p.max_age_minutes,
        ))
    })
}

inventory::submit!(Registration {
    name: "ops_collector_stale",
    aliases: &[],
    summary: "The ops monitor's newest snapshot is too old, or missing.",
    params: <Params as ParamSchema>::param_specs,
    validate: crate::validate::<Params>,
    example: r#"{"max_age_minutes": 20}"#,
    detect,
});
inventory::submit!(crate::ReportsUptime("ops_collector_stale"));

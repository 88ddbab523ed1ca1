//! `ops_archive`: `archive:health_red` when the archive health level is
//! red; `transfer:mirror_manifest_stale` when the mirror summary is not
//! recent.
//!
//! Upstream: the ops snapshot files. Example params: `{}`.

use serde::Deserialize;
use serde_json::Value;

use crate::support::ops;
use crate::{parse_params, Ctx, DetectFuture, ParamSchema, Registration};

/// The params of `ops_archive`.
#[derive(Debug, Deserialize, ParamSchema)]
#[serde(deny_unknown_fields)]
struct Params {
    /// Snapshot directory; `engine.ops_snapshot_dir` when absent.
    #[serde(default)]
    snapshot_dir: Option<String>,
}

fn detect(ctx: Ctx, params: Value) -> DetectFuture {
    Box::pin(async move {
        let p: Params = parse_params(params)?;
        let snapshot = ops::load(&ctx, p.snapshot_dir.as_deref()).await?;
        Ok(ops::archive(&snapshot.record))
    })
}

inventory::submit!(Registration {
    name: "ops_archive",
    aliases: &[],
    summary: "Archive health red, or the mirror verification summary not recent.",
    params: <Params as ParamSchema>::param_specs,
    validate: crate::validate::<Params>,
    example: "{}",
    detect,
});
inventory::submit!(crate::ReportsUptime("ops_archive"));

//! `ops_storage`: a filesystem of the platform at or above `threshold_pct`
//! full (any `<prefix>_used_pct` of the newest snapshot); two mounts of
//! the same disk are reported once.
//!
//! Upstream: the ops snapshot files. Dedupe key: `storage:<prefix>`.
//! Example params: `{"threshold_pct": 80}`.

use serde::Deserialize;
use serde_json::Value;

use crate::support::ops;
use crate::{parse_params, Ctx, DetectFuture, ParamSchema, Registration};

/// The params of `ops_storage`.
#[derive(Debug, Deserialize, ParamSchema)]
#[serde(deny_unknown_fields)]
struct Params {
    /// Fire at or above this percentage.
    #[serde(default = "eighty")]
    threshold_pct: f64,
    /// Snapshot directory; `engine.ops_snapshot_dir` when absent.
    #[serde(default)]
    snapshot_dir: Option<String>,
}

fn eighty() -> f64 {
    80.0
}

fn detect(ctx: Ctx, params: Value) -> DetectFuture {
    Box::pin(async move {
        let p: Params = parse_params(params)?;
        let snapshot = ops::load(&ctx, p.snapshot_dir.as_deref()).await?;
        Ok(ops::storage(&snapshot.record, p.threshold_pct))
    })
}

inventory::submit!(Registration {
    name: "ops_storage",
    aliases: &[],
    summary: "Platform filesystems that are nearly full.",
    params: <Params as ParamSchema>::param_specs,
    validate: crate::validate::<Params>,
    example: r#"{"threshold_pct": 80}"#,
    detect,
});
inventory::submit!(crate::ReportsUptime("ops_storage"));

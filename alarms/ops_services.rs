//! `ops_services`: a unit the platform alerter watches reports unhealthy —
//! exactly its 26 `*_service_healthy_state` keys over nine streams (see
//! [`crate::support::ops::STREAMS`]), a flag that rounds (half to even) to
//! 0; null, NaN and non-numbers are skipped. Units outside that table
//! raise nothing.
//!
//! Upstream: the ops snapshot files. Dedupe key: `stream:<prefix>:<key>`,
//! the alerter's alert id.
//! Example params: `{"streams": ["radar", "power"]}`.

use serde::Deserialize;
use serde_json::Value;

use crate::support::ops;
use crate::{parse_params, Ctx, DetectFuture, ParamSchema, Registration};

/// The params of `ops_services`.
#[derive(Debug, Deserialize, ParamSchema)]
#[serde(deny_unknown_fields)]
struct Params {
    /// Stream prefixes to watch (cl61, radar, hatpro, vaisalamet,
    /// asfs_logger, asfs_fast_sonic, power, pdu, wxcam); all when absent.
    #[serde(default)]
    streams: Option<Vec<String>>,
    /// Snapshot directory; `engine.ops_snapshot_dir` when absent.
    #[serde(default)]
    snapshot_dir: Option<String>,
}

fn detect(ctx: Ctx, params: Value) -> DetectFuture {
    Box::pin(async move {
        let p: Params = parse_params(params)?;
        let snapshot = ops::load(&ctx, p.snapshot_dir.as_deref()).await?;
        let streams = ops::select_streams(p.streams)?;
        Ok(ops::services(&snapshot.record, &streams))
    })
}

inventory::submit!(Registration {
    name: "ops_services",
    aliases: &[],
    summary: "Unhealthy source-sync, append or quicklook units of the data streams.",
    params: <Params as ParamSchema>::param_specs,
    validate: crate::validate::<Params>,
    example: r#"{"streams": ["radar", "power"]}"#,
    detect,
});
inventory::submit!(crate::ReportsUptime("ops_services"));

//! `ops_services`: a stream's source-sync, append or quicklook systemd
//! unit reports unhealthy (`<prefix>_<kind>_service_healthy_state` = 0).
//!
//! Upstream: the ops snapshot files. Dedupe key: `stream:<prefix>:<key>`.
//! Example params: `{"streams": ["radar", "power"]}`.

use serde::Deserialize;
use serde_json::Value;

use crate::support::ops;
use crate::{parse_params, Ctx, DetectFuture, ParamSchema, Registration};

/// The params of `ops_services`.
#[derive(Debug, Deserialize, ParamSchema)]
#[serde(deny_unknown_fields)]
struct Params {
    /// Stream prefixes to watch; all known streams when absent.
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
        Ok(ops::services(
            &snapshot.record,
            &ops::streams_or_default(p.streams),
        ))
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

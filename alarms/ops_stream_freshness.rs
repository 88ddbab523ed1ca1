//! `ops_stream_freshness`: a stream's newest source data is at least
//! `max_age_minutes` old — skipped while the mirror itself is stale or
//! the instrument's outlet is off (`<prefix>_outlet_on_state` = 0).
//!
//! Only the older snapshot format (before 2026-07-25) carries per-stream
//! source ages; on a newer snapshot this detector fails, saying so, rather
//! than pretending all is well. Dedupe key: `stream:<prefix>:source_stale`.
//! Example params: `{"max_age_minutes": 180}`.

use serde::Deserialize;
use serde_json::Value;

use crate::support::ops::{self, StreamFreshness};
use crate::{parse_params, Ctx, DetectError, DetectFuture, ParamSchema, Registration};

/// The params of `ops_stream_freshness`.
#[derive(Debug, Deserialize, ParamSchema)]
#[serde(deny_unknown_fields)]
struct Params {
    /// Source data at least this old fires.
    #[serde(default = "three_hours")]
    max_age_minutes: f64,
    /// Stream prefixes to watch; all known streams when absent.
    #[serde(default)]
    streams: Option<Vec<String>>,
    /// Snapshot directory; `engine.ops_snapshot_dir` when absent.
    #[serde(default)]
    snapshot_dir: Option<String>,
}

fn three_hours() -> f64 {
    180.0
}

fn detect(ctx: Ctx, params: Value) -> DetectFuture {
    Box::pin(async move {
        let p: Params = parse_params(params)?;
        let snapshot = ops::load(&ctx, p.snapshot_dir.as_deref()).await?;
        let streams = ops::select_streams(p.streams)?;
        match ops::stream_freshness(&snapshot.record, &streams, p.max_age_minutes) {
            StreamFreshness::Judged(detections) => Ok(detections),
            StreamFreshness::NoFields => Err(DetectError::BadResponse {
                source_name: snapshot.file.clone(),
                message: "this snapshot has no per-stream source ages (<stream>_source_age_min); \
                          the collector stopped writing them on 2026-07-25, so stream freshness cannot be judged"
                    .into(),
            }),
        }
    })
}

inventory::submit!(Registration {
    name: "ops_stream_freshness",
    aliases: &[],
    summary: "Data streams whose newest source data is too old (older snapshot format).",
    params: <Params as ParamSchema>::param_specs,
    validate: crate::validate::<Params>,
    example: r#"{"max_age_minutes": 180}"#,
    detect,
});
inventory::submit!(crate::ReportsUptime("ops_stream_freshness"));

//! `aurora_ops`: every ops check of the platform in one alarm, so that one
//! email per tick carries them all, as the platform's own alerter does:
//! collector staleness, storage, power, archive, services and (on the
//! older snapshot format) stream freshness.
//!
//! As the alerter does, archive, mirror and service alerts are held
//! `hold_minutes` (180) before they are emailed — they often heal by
//! themselves — while storage, power, stale streams (whose age limit is
//! the wait) and a stopped collector email at once. A stale snapshot is still
//! judged (its alerts are the last known state), next to the collector
//! alert. With no readable record at all, the collector alert fires and
//! the detector fails for the rest, so the last known alerts are kept
//! rather than cleared. Dedupe keys are those of the single-family detectors. Example
//! params: `{"threshold_pct": 80, "hold_minutes": 180}`.

use serde::Deserialize;
use serde_json::Value;

use crate::support::ops::{self, PowerLimits, StreamFreshness};
use crate::{parse_params, Ctx, DetectError, DetectFuture, ParamSchema, Registration};

/// The params of `aurora_ops`.
#[derive(Debug, Deserialize, ParamSchema)]
#[serde(deny_unknown_fields)]
struct Params {
    /// Storage: fire at or above this fill percentage.
    #[serde(default = "eighty")]
    threshold_pct: f64,
    /// Power thresholds.
    #[serde(flatten)]
    power: PowerLimits,
    /// Collector: its newest snapshot older than this fires.
    #[serde(default = "twenty")]
    collector_max_age_minutes: f64,
    /// Streams: source data at least this old fires.
    #[serde(default = "three_hours")]
    stream_max_age_minutes: f64,
    /// Hold for archive, mirror and service alerts.
    #[serde(default = "three_hours")]
    hold_minutes: f64,
    /// Stream prefixes to watch; all known streams when absent.
    #[serde(default)]
    streams: Option<Vec<String>>,
    /// Snapshot directory; `engine.ops_snapshot_dir` when absent.
    #[serde(default)]
    snapshot_dir: Option<String>,
}

fn eighty() -> f64 {
    80.0
}
fn twenty() -> f64 {
    20.0
}
fn three_hours() -> f64 {
    180.0
}

fn detect(ctx: Ctx, params: Value) -> DetectFuture {
    Box::pin(async move {
        let p: Params = parse_params(params)?;
        // No readable record: the collector is reported stale, and the
        // other rules, which have nothing to judge, fail — so their
        // events stay as last known instead of clearing.
        let stale_only = |message: String| DetectError::Partial {
            detections: ops::hold(
                ops::collector_stale(None, ctx.now, p.collector_max_age_minutes),
                0.0,
            ),
            message,
        };
        let latest = match ctx.snapshots()?.latest(p.snapshot_dir.as_deref()).await {
            Ok(latest) => latest,
            Err(error @ DetectError::InvalidParams(_)) => return Err(error),
            Err(error) => {
                return Err(stale_only(format!(
                    "{error}; storage, power, archive, service and stream alerts not judged, kept as they were"
                )))
            }
        };
        let Some(snapshot) = latest else {
            return Err(stale_only(
                "no complete snapshot record; storage, power, archive, service and stream alerts not judged, kept as they were"
                    .into(),
            ));
        };
        let mut detections = ops::hold(
            ops::collector_stale(Some(&snapshot), ctx.now, p.collector_max_age_minutes),
            0.0,
        );
        let record = &snapshot.record;
        let streams = ops::select_streams(p.streams)?;
        detections.extend(ops::hold(ops::storage(record, p.threshold_pct), 0.0));
        detections.extend(ops::hold(ops::power(record, &p.power), 0.0));
        detections.extend(ops::hold(ops::archive(record), p.hold_minutes));
        detections.extend(ops::hold(ops::services(record, &streams), p.hold_minutes));
        if let StreamFreshness::Judged(stale) =
            ops::stream_freshness(record, &streams, p.stream_max_age_minutes)
        {
            // The age limit is the alerter's wait already: no further hold.
            detections.extend(ops::hold(stale, 0.0));
        }
        Ok(detections)
    })
}

inventory::submit!(Registration {
    name: "aurora_ops",
    aliases: &[],
    summary: "Every ops-monitor check of the AURORA platform in one alarm (one email per tick).",
    params: <Params as ParamSchema>::param_specs,
    validate: crate::validate::<Params>,
    example: r#"{"threshold_pct": 80, "hold_minutes": 180}"#,
    detect,
});
inventory::submit!(crate::ReportsUptime("aurora_ops"));

//! `ops_power`: battery and enclosure conditions of the platform's power
//! system: `power:battery_soc` (SOC ≤ 40 %), `power:battery_voltage`
//! (< 50 V), `power:internal_temp` (≥ 45 °C), `power:internal_temp_low`
//! (< 5 °C), `power:internal_dewpoint` (margin ≤ 0 °C, only with humidity).
//!
//! Upstream: the ops snapshot files. Example params:
//! `{"soc_min_pct": 40, "voltage_min_v": 50, "temp_max_c": 45}`.

use serde::Deserialize;
use serde_json::Value;

use crate::support::ops::{self, PowerLimits};
use crate::{parse_params, Ctx, DetectFuture, ParamSpec, ParamType, Registration};

/// The params of `ops_power`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Params {
    #[serde(flatten)]
    limits: PowerLimits,
    /// Snapshot directory; `engine.ops_snapshot_dir` when absent.
    #[serde(default)]
    snapshot_dir: Option<String>,
}

pub(crate) const PARAMS: &[ParamSpec] = &[
    ParamSpec {
        name: "soc_min_pct",
        kind: ParamType::Number,
        default: Some("40"),
        description: "Battery state of charge at or below this fires.",
    },
    ParamSpec {
        name: "voltage_min_v",
        kind: ParamType::Number,
        default: Some("50"),
        description: "Battery voltage below this fires.",
    },
    ParamSpec {
        name: "temp_max_c",
        kind: ParamType::Number,
        default: Some("45"),
        description: "Enclosure temperature at or above this fires.",
    },
    ParamSpec {
        name: "temp_min_c",
        kind: ParamType::Number,
        default: Some("5"),
        description: "Enclosure temperature below this fires.",
    },
    ParamSpec {
        name: "dewpoint_margin_min_c",
        kind: ParamType::Number,
        default: Some("0"),
        description: "Dew-point margin at or below this fires (only when humidity is measured).",
    },
    ParamSpec {
        name: "snapshot_dir",
        kind: ParamType::String,
        default: Some("null"),
        description: "Snapshot directory; engine.ops_snapshot_dir when absent.",
    },
];

fn detect(ctx: Ctx, params: Value) -> DetectFuture {
    Box::pin(async move {
        let p: Params = parse_params(params)?;
        let snapshot = ops::load(&ctx, p.snapshot_dir.as_deref()).await?;
        Ok(ops::power(&snapshot.record, &p.limits))
    })
}

inventory::submit!(Registration {
    name: "ops_power",
    aliases: &[],
    summary: "Battery charge, voltage and enclosure temperature or dew point out of bounds.",
    params: PARAMS,
    example: r#"{"soc_min_pct": 40, "voltage_min_v": 50, "temp_max_c": 45}"#,
    detect,
});

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
use crate::{parse_params, Ctx, DetectFuture, ParamSchema, Registration};

/// The params of `ops_power`.
#[derive(Debug, Deserialize, ParamSchema)]
#[serde(deny_unknown_fields)]
struct Params {
    #[serde(flatten)]
    limits: PowerLimits,
    /// Snapshot directory; `engine.ops_snapshot_dir` when absent.
    #[serde(default)]
    snapshot_dir: Option<String>,
}

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
    params: <Params as ParamSchema>::param_specs,
    validate: crate::validate::<Params>,
    example: r#"{"soc_min_pct": 40, "voltage_min_v": 50, "temp_max_c": 45}"#,
    detect,
});
inventory::submit!(crate::ReportsUptime("ops_power"));

//! `delivery_record_freshness`: no delivery record for 30 hours — the
//! newest `snapper_system_snap.snap_time` with `scope='epicprod'` and
//! `capture_policy` in `backfill-v1`, `delivery-daily-v1`.
//!
//! A `db_freshness` instance: every `db_freshness` param may be given to
//! override its default. Dedupe keys: `delivery_record:stale`,
//! `delivery_record:never`. Example params: `{"max_age_hours": 30}`.

use serde_json::{json, Value};

use crate::support::dbcheck::{freshness, preset_specs, with_defaults, FreshnessParams};
use crate::{parse_params, Ctx, DetectError, DetectFuture, ParamSchema, ParamSpec, Registration};

fn defaults() -> Value {
    json!({
        "name": "delivery_record",
        "table": "snapper_system_snap",
        "time_column": "snap_time",
        "filters": {"scope": "epicprod", "capture_policy": ["backfill-v1", "delivery-daily-v1"]},
        "max_age_hours": 30,
    })
}

/// The base detector's params, with this preset's defaults under them.
fn parse(params: Value) -> Result<FreshnessParams, DetectError> {
    parse_params(with_defaults(defaults(), params))
}

fn validate(params: Value) -> Result<(), DetectError> {
    parse(params).map(drop)
}

fn param_specs() -> Vec<ParamSpec> {
    preset_specs(FreshnessParams::param_specs(), &defaults())
}

fn detect(ctx: Ctx, params: Value) -> DetectFuture {
    Box::pin(async move {
        let p = parse(params)?;
        freshness(&ctx, &p).await
    })
}

inventory::submit!(Registration {
    name: "delivery_record_freshness",
    aliases: &[],
    summary: "No recent epicprod delivery snapshot.",
    params: param_specs,
    validate,
    example: r#"{"max_age_hours": 30}"#,
    detect,
});

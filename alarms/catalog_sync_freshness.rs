//! `catalog_sync_freshness`: the nightly catalog sync has not succeeded
//! for 30 hours — the newest `swf_applog` row with `app_name='epicprod'`,
//! `extra_data.action='catalog_sync'` and `extra_data.outcome='ok'`.
//!
//! A `db_freshness` instance: every `db_freshness` param may be given to
//! override its default. Dedupe keys: `catalog_sync:stale`,
//! `catalog_sync:never`. Example params: `{"max_age_hours": 36}`.

use serde_json::{json, Value};

use crate::support::dbcheck::{freshness, preset_specs, with_defaults, FreshnessParams};
use crate::{parse_params, Ctx, DetectError, DetectFuture, ParamSchema, ParamSpec, Registration};

fn defaults() -> Value {
    json!({
        "name": "catalog_sync",
        "table": "swf_applog",
        "time_column": "timestamp",
        "filters": {"app_name": "epicprod", "extra_data.action": "catalog_sync", "extra_data.outcome": "ok"},
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
    name: "catalog_sync_freshness",
    aliases: &[],
    summary: "The nightly epicprod catalog sync has not succeeded recently.",
    params: param_specs,
    validate,
    example: r#"{"max_age_hours": 30}"#,
    detect,
});

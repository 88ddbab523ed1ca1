//! `payload_fetch_rate`: more than 60 payload-log fetches in the last 60
//! minutes — `swf_applog` rows with `extra_data.action='payload_log_fetch'`.
//!
//! A `db_rate` instance: every `db_rate` param may be given to override
//! its default. Dedupe key: `payload_fetch:rate`. Example params:
//! `{"max_count": 120}`.

use serde_json::{json, Value};

use crate::support::dbcheck::{preset_specs, rate, with_defaults, RateParams};
use crate::{parse_params, Ctx, DetectError, DetectFuture, ParamSchema, ParamSpec, Registration};

fn defaults() -> Value {
    json!({
        "name": "payload_fetch",
        "table": "swf_applog",
        "time_column": "timestamp",
        "filters": {"extra_data.action": "payload_log_fetch"},
        "window_minutes": 60,
        "max_count": 60,
    })
}

/// The base detector's params, with this preset's defaults under them.
fn parse(params: Value) -> Result<RateParams, DetectError> {
    parse_params(with_defaults(defaults(), params))
}

fn validate(params: Value) -> Result<(), DetectError> {
    parse(params).map(drop)
}

fn param_specs() -> Vec<ParamSpec> {
    preset_specs(RateParams::param_specs(), &defaults())
}

fn detect(ctx: Ctx, params: Value) -> DetectFuture {
    Box::pin(async move {
        let p = parse(params)?;
        rate(&ctx, &p).await
    })
}

inventory::submit!(Registration {
    name: "payload_fetch_rate",
    aliases: &[],
    summary: "Unusually many payload-log fetches in the last hour.",
    params: param_specs,
    validate,
    example: r#"{"max_count": 60}"#,
    detect,
});

//! `catalog_sync_freshness`: the nightly catalog sync has not succeeded
//! for 30 hours — the newest `swf_applog` row with `app_name='epicprod'`,
//! `extra_data.action='catalog_sync'` and `extra_data.outcome='ok'`.
//!
//! A `db_freshness` instance: every `db_freshness` param may be given to
//! override its default. Dedupe keys: `catalog_sync:stale`,
//! `catalog_sync:never`. Example params: `{"max_age_hours": 36}`.

use serde_json::{json, Value};

use crate::support::dbcheck::{freshness, with_defaults, FreshnessParams};
use crate::{parse_params, Ctx, DetectFuture, ParamSpec, ParamType, Registration};

fn defaults() -> Value {
    json!({
        "name": "catalog_sync",
        "table": "swf_applog",
        "time_column": "timestamp",
        "filters": {"app_name": "epicprod", "extra_data.action": "catalog_sync", "extra_data.outcome": "ok"},
        "max_age_hours": 30,
    })
}

const PARAMS: &[ParamSpec] = &[
    ParamSpec {
        name: "name",
        kind: ParamType::String,
        default: Some(r#""catalog_sync""#),
        description: "Prefix of the dedupe keys.",
    },
    ParamSpec {
        name: "table",
        kind: ParamType::String,
        default: Some(r#""swf_applog""#),
        description: "Table to look in.",
    },
    ParamSpec {
        name: "time_column",
        kind: ParamType::String,
        default: Some(r#""timestamp""#),
        description: "Timestamp column.",
    },
    ParamSpec {
        name: "filters",
        kind: ParamType::Object,
        default: Some(
            r#"{"app_name": "epicprod", "extra_data.action": "catalog_sync", "extra_data.outcome": "ok"}"#,
        ),
        description: "Equality filters.",
    },
    ParamSpec {
        name: "max_age_hours",
        kind: ParamType::Number,
        default: Some("30"),
        description: "Fire when the last successful sync is older than this.",
    },
];

fn detect(ctx: Ctx, params: Value) -> DetectFuture {
    Box::pin(async move {
        let p: FreshnessParams = parse_params(with_defaults(defaults(), params))?;
        freshness(&ctx, &p).await
    })
}

inventory::submit!(Registration {
    name: "catalog_sync_freshness",
    aliases: &[],
    summary: "The nightly epicprod catalog sync has not succeeded recently.",
    params: PARAMS,
    example: r#"{"max_age_hours": 30}"#,
    detect,
});

//! `payload_fetch_rate`: more than 60 payload-log fetches in the last 60
//! minutes — `swf_applog` rows with `extra_data.action='payload_log_fetch'`.
//!
//! A `db_rate` instance: every `db_rate` param may be given to override
//! its default. Dedupe key: `payload_fetch:rate`. Example params:
//! `{"max_count": 120}`.

use serde_json::{json, Value};

use crate::support::dbcheck::{rate, with_defaults, RateParams};
use crate::{parse_params, Ctx, DetectFuture, ParamSpec, ParamType, Registration};

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

const PARAMS: &[ParamSpec] = &[
    ParamSpec {
        name: "name",
        kind: ParamType::String,
        default: Some(r#""payload_fetch""#),
        description: "Prefix of the dedupe key.",
    },
    ParamSpec {
        name: "table",
        kind: ParamType::String,
        default: Some(r#""swf_applog""#),
        description: "Table to count in.",
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
        default: Some(r#"{"extra_data.action": "payload_log_fetch"}"#),
        description: "Equality filters.",
    },
    ParamSpec {
        name: "window_minutes",
        kind: ParamType::Number,
        default: Some("60"),
        description: "Trailing window.",
    },
    ParamSpec {
        name: "max_count",
        kind: ParamType::Number,
        default: Some("60"),
        description: "Fire when more fetches than this happen in the window.",
    },
];

fn detect(ctx: Ctx, params: Value) -> DetectFuture {
    Box::pin(async move {
        let p: RateParams = parse_params(with_defaults(defaults(), params))?;
        rate(&ctx, &p).await
    })
}

inventory::submit!(Registration {
    name: "payload_fetch_rate",
    aliases: &[],
    summary: "Unusually many payload-log fetches in the last hour.",
    params: PARAMS,
    example: r#"{"max_count": 60}"#,
    detect,
});

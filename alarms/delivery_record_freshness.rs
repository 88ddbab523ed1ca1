//! `delivery_record_freshness`: no delivery record for 30 hours — the
//! newest `snapper_system_snap.snap_time` with `scope='epicprod'` and
//! `capture_policy` in `backfill-v1`, `delivery-daily-v1`.
//!
//! A `db_freshness` instance: every `db_freshness` param may be given to
//! override its default. Dedupe keys: `delivery_record:stale`,
//! `delivery_record:never`. Example params: `{"max_age_hours": 30}`.

use serde_json::{json, Value};

use crate::support::dbcheck::{freshness, with_defaults, FreshnessParams};
use crate::{parse_params, Ctx, DetectFuture, ParamSpec, ParamType, Registration};

fn defaults() -> Value {
    json!({
        "name": "delivery_record",
        "table": "snapper_system_snap",
        "time_column": "snap_time",
        "filters": {"scope": "epicprod", "capture_policy": ["backfill-v1", "delivery-daily-v1"]},
        "max_age_hours": 30,
    })
}

const PARAMS: &[ParamSpec] = &[
    ParamSpec {
        name: "name",
        kind: ParamType::String,
        default: Some(r#""delivery_record""#),
        description: "Prefix of the dedupe keys.",
    },
    ParamSpec {
        name: "table",
        kind: ParamType::String,
        default: Some(r#""snapper_system_snap""#),
        description: "Table to look in.",
    },
    ParamSpec {
        name: "time_column",
        kind: ParamType::String,
        default: Some(r#""snap_time""#),
        description: "Timestamp column.",
    },
    ParamSpec {
        name: "filters",
        kind: ParamType::Object,
        default: Some(
            r#"{"scope": "epicprod", "capture_policy": ["backfill-v1", "delivery-daily-v1"]}"#,
        ),
        description: "Equality filters.",
    },
    ParamSpec {
        name: "max_age_hours",
        kind: ParamType::Number,
        default: Some("30"),
        description: "Fire when the newest delivery record is older than this.",
    },
];

fn detect(ctx: Ctx, params: Value) -> DetectFuture {
    Box::pin(async move {
        let p: FreshnessParams = parse_params(with_defaults(defaults(), params))?;
        freshness(&ctx, &p).await
    })
}

inventory::submit!(Registration {
    name: "delivery_record_freshness",
    aliases: &[],
    summary: "No recent epicprod delivery snapshot.",
    params: PARAMS,
    example: r#"{"max_age_hours": 30}"#,
    detect,
});

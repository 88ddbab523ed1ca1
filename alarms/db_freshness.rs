//! `db_freshness`: the newest row of a table (matching equality filters on
//! columns or JSON paths) is older than `max_age_hours`, or there is none.
//!
//! Upstream: the engine's database, read-only, under a statement timeout.
//! Dedupe keys: `<name>:stale`, `<name>:never`. Example params:
//!
//! ```json
//! {"name": "nightly_export", "table": "swf_applog", "time_column": "timestamp",
//!  "filters": {"app_name": "exporter", "extra_data.outcome": "ok"}, "max_age_hours": 26}
//! ```

use serde_json::Value;

use crate::support::dbcheck::{freshness, FreshnessParams};
use crate::{parse_params, Ctx, DetectFuture, ParamSpec, ParamType, Registration};

pub(crate) const PARAMS: &[ParamSpec] = &[
    ParamSpec {
        name: "name",
        kind: ParamType::String,
        default: None,
        description: "Prefix of the dedupe keys: <name>:stale, <name>:never.",
    },
    ParamSpec {
        name: "table",
        kind: ParamType::String,
        default: None,
        description: "Table (or schema.table) to look in.",
    },
    ParamSpec {
        name: "time_column",
        kind: ParamType::String,
        default: None,
        description: "Timestamp column (a timestamp type or Unix seconds).",
    },
    ParamSpec {
        name: "filters",
        kind: ParamType::Object,
        default: Some("{}"),
        description: "Equality filters: column or column.json.path → value or list of values.",
    },
    ParamSpec {
        name: "max_age_hours",
        kind: ParamType::Number,
        default: None,
        description: "Fire when the newest matching row is older than this.",
    },
];

fn detect(ctx: Ctx, params: Value) -> DetectFuture {
    Box::pin(async move {
        let p: FreshnessParams = parse_params(params)?;
        freshness(&ctx, &p).await
    })
}

inventory::submit!(Registration {
    name: "db_freshness",
    aliases: &[],
    summary: "The newest matching row of a table is too old, or there is none.",
    params: PARAMS,
    example: r#"{"name": "nightly_export", "table": "swf_applog", "time_column": "timestamp", "filters": {"app_name": "exporter"}, "max_age_hours": 26}"#,
    detect,
});

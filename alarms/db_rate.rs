//! `db_rate`: more than `max_count` rows of a table (matching equality
//! filters) in the trailing `window_minutes`.
//!
//! Upstream: the engine's database, read-only, under a statement timeout.
//! Dedupe key: `<name>:rate`. Example params:
//!
//! ```json
//! {"name": "retries", "table": "swf_applog", "time_column": "timestamp",
//!  "filters": {"extra_data.action": "retry"}, "window_minutes": 60, "max_count": 100}
//! ```

use serde_json::Value;

use crate::support::dbcheck::{rate, RateParams};
use crate::{parse_params, Ctx, DetectFuture, ParamSpec, ParamType, Registration};

pub(crate) const PARAMS: &[ParamSpec] = &[
    ParamSpec {
        name: "name",
        kind: ParamType::String,
        default: None,
        description: "Prefix of the dedupe key: <name>:rate.",
    },
    ParamSpec {
        name: "table",
        kind: ParamType::String,
        default: None,
        description: "Table (or schema.table) to count in.",
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
        name: "window_minutes",
        kind: ParamType::Number,
        default: None,
        description: "Trailing window to count in.",
    },
    ParamSpec {
        name: "max_count",
        kind: ParamType::Number,
        default: None,
        description: "Fire when more rows than this match in the window.",
    },
];

fn detect(ctx: Ctx, params: Value) -> DetectFuture {
    Box::pin(async move {
        let p: RateParams = parse_params(params)?;
        rate(&ctx, &p).await
    })
}

inventory::submit!(Registration {
    name: "db_rate",
    aliases: &[],
    summary: "Too many matching rows of a table in a trailing window.",
    params: PARAMS,
    example: r#"{"name": "retries", "table": "swf_applog", "time_column": "timestamp", "filters": {"extra_data.action": "retry"}, "window_minutes": 60, "max_count": 100}"#,
    detect,
});

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
use crate::{parse_params, Ctx, DetectFuture, ParamSchema, Registration};

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
    params: <RateParams as ParamSchema>::param_specs,
    validate: crate::support::dbcheck::validate_rate,
    example: r#"{"name": "retries", "table": "swf_applog", "time_column": "timestamp", "filters": {"extra_data.action": "retry"}, "window_minutes": 60, "max_count": 100}"#,
    detect,
});

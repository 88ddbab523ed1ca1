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
use crate::{parse_params, Ctx, DetectFuture, ParamSchema, Registration};

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
    params: <FreshnessParams as ParamSchema>::param_specs,
    validate: crate::support::dbcheck::validate_freshness,
    example: r#"{"name": "nightly_export", "table": "swf_applog", "time_column": "timestamp", "filters": {"app_name": "exporter"}, "max_age_hours": 26}"#,
    detect,
});

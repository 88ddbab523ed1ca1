//! `catalog_sync_freshness`: the nightly catalog sync has not succeeded
//! for 30 hours — the newest `swf_applog` row with `app_name='epicprod'`,
//! `extra_data.action='catalog_sync'` and `extra_data.outcome='ok'`.
//!
//! A `db_freshness` instance: every `db_freshness` param may be given to
//! override its default. Dedupe keys: `catalog_sync:stale`,
//! `catalog_sync:never`. Example params: `{"max_age_hours": 36}`.
//!
//! Subjects, bodies and `data` keys (`max_age_hours`, `age_hours`,
//! `last_success`) are the old engine's.

use serde_json::{json, Value};

use crate::support::dbcheck::{
    newest, preset_specs, py_g, py_isoformat, py_round1, with_defaults, FreshnessParams,
};
use crate::{
    parse_params, Ctx, DetectError, DetectFuture, Detection, ParamSchema, ParamSpec, Registration,
};

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

/// The old engine's detections, word for word; `table` and `filters`
/// are this engine's additions to `data`.
fn judge(p: &FreshnessParams, now: f64, newest: Option<f64>) -> Vec<Detection> {
    let max_age = p.max_age_hours;
    let mut extra = json!({"max_age_hours": max_age, "table": p.table, "filters": p.filters});
    let Some(newest) = newest else {
        return vec![Detection {
            dedupe_key: format!("{}:never", p.name),
            subject: "catalog sync has never recorded a successful run".into(),
            body:
                "No successful catalog_sync summary record exists in the epicprod action stream. \
                   The nightly catalog synchronization (cron 02:15 -> ops agent) is not running or \
                   not completing."
                    .into(),
            extra: crate::fields(extra),
            notify_after_minutes: None,
        }];
    };
    let age_hours = (now - newest) / 3600.0;
    if age_hours <= max_age {
        return Vec::new();
    }
    extra["age_hours"] = json!(py_round1(age_hours));
    extra["last_success"] = json!(py_isoformat(newest));
    vec![Detection {
        dedupe_key: format!("{}:stale", p.name),
        subject: format!(
            "catalog sync stale: last success {age_hours:.1} h ago (max {} h)",
            py_g(max_age)
        ),
        body: format!(
            "The nightly catalog_sync chain has not completed successfully in {age_hours:.1} hours. \
             Check the ops agent and the epicprod action stream (Logs page, app_name=epicprod) for \
             step failures; run manually with scripts/enqueue-ops-message.py catalog_sync."
        ),
        extra: crate::fields(extra),
        notify_after_minutes: None,
    }]
}

fn detect(ctx: Ctx, params: Value) -> DetectFuture {
    Box::pin(async move {
        let p = parse(params)?;
        let newest = newest(&ctx, &p).await?;
        Ok(judge(&p, ctx.now, newest))
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

#[cfg(test)]
mod tests {
    use super::*;

    fn params() -> FreshnessParams {
        serde_json::from_value(defaults()).expect("the defaults are valid params")
    }

    /// Expected words are the old engine's (alarms/catalog_sync_freshness.py).
    #[test]
    fn detections_read_as_the_old_engines() {
        let p = params();
        let never = judge(&p, 1e9, None);
        assert_eq!(never.len(), 1);
        assert_eq!(never[0].dedupe_key, "catalog_sync:never");
        assert_eq!(
            never[0].subject,
            "catalog sync has never recorded a successful run"
        );
        assert_eq!(
            never[0].body,
            "No successful catalog_sync summary record exists in the epicprod action stream. \
             The nightly catalog synchronization (cron 02:15 -> ops agent) is not running or not completing."
        );
        assert_eq!(never[0].extra["max_age_hours"], json!(30.0));

        let now = 1_795_428_000.0;
        assert!(
            judge(&p, now, Some(now - 30.0 * 3600.0)).is_empty(),
            "at the limit is fresh"
        );
        let stale = judge(&p, now, Some(now - 40.6 * 3600.0));
        assert_eq!(stale[0].dedupe_key, "catalog_sync:stale");
        assert_eq!(
            stale[0].subject,
            "catalog sync stale: last success 40.6 h ago (max 30 h)"
        );
        assert_eq!(
            stale[0].body,
            "The nightly catalog_sync chain has not completed successfully in 40.6 hours. \
             Check the ops agent and the epicprod action stream (Logs page, app_name=epicprod) \
             for step failures; run manually with scripts/enqueue-ops-message.py catalog_sync."
        );
        assert_eq!(stale[0].extra["age_hours"], json!(40.6));
        assert_eq!(stale[0].extra["max_age_hours"], json!(30.0));
        assert_eq!(
            stale[0].extra["last_success"],
            json!("2026-11-21T17:24:00+00:00")
        );
    }
}

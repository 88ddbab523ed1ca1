//! `delivery_record_freshness`: no delivery record for 30 hours — the
//! newest `snapper_system_snap.snap_time` with `scope='epicprod'` and
//! `capture_policy` in `backfill-v1`, `delivery-daily-v1`.
//!
//! A `db_freshness` instance: every `db_freshness` param may be given to
//! override its default. Dedupe keys: `delivery_record:stale`,
//! `delivery_record:never`. Example params: `{"max_age_hours": 30}`.
//!
//! Subjects, bodies and `data` keys (`max_age_hours`, `age_hours`,
//! `newest_snap`) are the old engine's.

use serde_json::{json, Value};

use crate::support::dbcheck::{
    newest, preset_specs, py_g, py_isoformat, py_round1, with_defaults, FreshnessParams,
};
use crate::{
    parse_params, Ctx, DetectError, DetectFuture, Detection, ParamSchema, ParamSpec, Registration,
};

fn defaults() -> Value {
    json!({
        "name": "delivery_record",
        "table": "snapper_system_snap",
        "time_column": "snap_time",
        "filters": {"scope": "epicprod", "capture_policy": ["backfill-v1", "delivery-daily-v1"]},
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
            subject: "campaign delivery daily record has never been built".into(),
            body: "No daily delivery snap exists in the epicprod Snapper scope. The Snapper \
                   campaign view has no curve data. Run the delivery_daily_rebuild step \
                   (enqueue-ops-message.py delivery_daily_rebuild) or the full catalog_sync chain."
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
    extra["newest_snap"] = json!(py_isoformat(newest));
    vec![Detection {
        dedupe_key: format!("{}:stale", p.name),
        subject: format!(
            "campaign delivery record stale: newest daily snap {age_hours:.1} h old (max {} h)",
            py_g(max_age)
        ),
        body: "The daily delivered-data record behind the Snapper campaign view has not \
               advanced. The nightly delivery_daily_rebuild step of the catalog_sync chain \
               (prod-ops agent, ~02:47 ET) is not running or not completing. Check the epicprod \
               action stream (Logs page, app_name=epicprod, action=delivery_daily_rebuild) for \
               step failures; run manually with scripts/enqueue-ops-message.py \
               delivery_daily_rebuild."
            .into(),
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
    name: "delivery_record_freshness",
    aliases: &[],
    summary: "No recent epicprod delivery snapshot.",
    params: param_specs,
    validate,
    example: r#"{"max_age_hours": 30}"#,
    detect,
});

#[cfg(test)]
mod tests {
    use super::*;

    /// Expected words are the old engine's (alarms/delivery_record_freshness.py).
    #[test]
    fn detections_read_as_the_old_engines() {
        let p: FreshnessParams =
            serde_json::from_value(with_defaults(defaults(), json!({"max_age_hours": 36.5})))
                .expect("valid params");
        let never = judge(&p, 1e9, None);
        assert_eq!(never[0].dedupe_key, "delivery_record:never");
        assert_eq!(
            never[0].subject,
            "campaign delivery daily record has never been built"
        );
        assert_eq!(
            never[0].body,
            "No daily delivery snap exists in the epicprod Snapper scope. The Snapper campaign \
             view has no curve data. Run the delivery_daily_rebuild step (enqueue-ops-message.py \
             delivery_daily_rebuild) or the full catalog_sync chain."
        );
        let now = 1_795_428_000.0;
        assert!(judge(&p, now, Some(now - 36.5 * 3600.0)).is_empty());
        let stale = judge(&p, now, Some(now - 48.0 * 3600.0 - 0.5));
        assert_eq!(stale[0].dedupe_key, "delivery_record:stale");
        assert_eq!(
            stale[0].subject,
            "campaign delivery record stale: newest daily snap 48.0 h old (max 36.5 h)"
        );
        assert!(stale[0]
            .body
            .starts_with("The daily delivered-data record behind the Snapper campaign view has not advanced. The nightly delivery_daily_rebuild step"));
        assert_eq!(stale[0].extra["age_hours"], json!(48.0));
        assert_eq!(stale[0].extra["max_age_hours"], json!(36.5));
        assert_eq!(
            stale[0].extra["newest_snap"],
            json!("2026-11-21T09:59:59.500000+00:00")
        );
    }
}

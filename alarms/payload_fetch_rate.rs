//! `payload_fetch_rate`: more than 60 payload-log fetches in the last 60
//! minutes — `swf_applog` rows with `app_name='epicprod'` and
//! `extra_data.action='payload_log_fetch'`.
//!
//! A `db_rate` instance: every `db_rate` param may be given to override
//! its default; `max_fetches` (the old engine's name) is read as
//! `max_count`. Dedupe key: `payload_fetch_rate` (the old engine's; it is
//! `name`). Subject, body and `data` keys (`count`, `window_minutes`,
//! `max_fetches`) are the old engine's. Example params: `{"max_fetches": 120}`.

use serde_json::{json, Value};

use crate::support::dbcheck::{count, preset_specs, whole_or_float, with_defaults, RateParams};
use crate::{
    parse_params, Ctx, DetectError, DetectFuture, Detection, ParamSchema, ParamSpec, Registration,
};

fn defaults() -> Value {
    json!({
        "name": "payload_fetch_rate",
        "table": "swf_applog",
        "time_column": "timestamp",
        "filters": {"app_name": "epicprod", "extra_data.action": "payload_log_fetch"},
        "window_minutes": 60,
        "max_count": 60,
    })
}

/// The base detector's params, with this preset's defaults under them.
fn parse(params: Value) -> Result<RateParams, DetectError> {
    parse_params(with_defaults(defaults(), rename_old_cap(params)?))
}

fn validate(params: Value) -> Result<(), DetectError> {
    parse(params).map(drop)
}

fn param_specs() -> Vec<ParamSpec> {
    preset_specs(RateParams::param_specs(), &defaults())
}

/// The old engine called the cap `max_fetches`; its rows keep working.
fn rename_old_cap(params: Value) -> Result<Value, DetectError> {
    let Value::Object(mut map) = params else {
        return Ok(params);
    };
    if let Some(cap) = map.remove("max_fetches") {
        if map.contains_key("max_count") {
            return Err(DetectError::InvalidParams(
                "give max_count or max_fetches, not both".into(),
            ));
        }
        map.insert("max_count".into(), cap);
    }
    Ok(Value::Object(map))
}

/// The old engine's detection, word for word; `table`, `filters` and
/// `max_count` are this engine's additions to `data`.
fn judge(p: &RateParams, count: f64) -> Vec<Detection> {
    if count <= p.max_count {
        return Vec::new();
    }
    let (n, window, cap) = (
        whole_or_float(count),
        whole_or_float(p.window_minutes),
        whole_or_float(p.max_count),
    );
    let extra = json!({"count": n, "window_minutes": window, "max_fetches": cap,
                       "max_count": cap, "table": p.table, "filters": p.filters});
    vec![Detection {
        dedupe_key: p.name.clone(),
        subject: format!("payload-log fetch rate high: {n} in {window} min (cap {cap})"),
        body: "Payload-log fetches trigger credentialed agent work. A rate above the cap \
               suggests a crawler or runaway script on the open face. Check the action stream \
               (Logs page, app_name=epicprod, action=payload_log_fetch) and the devcloud proxy \
               logs for the client; robots.txt and the proxy 403 govern crawler access."
            .into(),
        extra: crate::fields(extra),
        notify_after_minutes: None,
    }]
}

fn detect(ctx: Ctx, params: Value) -> DetectFuture {
    Box::pin(async move {
        let p = parse(params)?;
        let n = count(&ctx, &p).await?;
        Ok(judge(&p, n))
    })
}

inventory::submit!(Registration {
    name: "payload_fetch_rate",
    aliases: &[],
    summary: "Unusually many payload-log fetches in the last hour.",
    params: param_specs,
    validate,
    example: r#"{"window_minutes": 60, "max_count": 60}"#,
    detect,
});

#[cfg(test)]
mod tests {
    use super::*;

    /// Expected words are the old engine's (alarms/payload_fetch_rate.py),
    /// and its rows (`max_fetches`) keep working.
    #[test]
    fn detection_reads_as_the_old_engines() {
        let merged = with_defaults(
            defaults(),
            rename_old_cap(json!({"window_minutes": 30, "max_fetches": 40})).expect("renamed"),
        );
        let p: RateParams = serde_json::from_value(merged).expect("valid params");
        assert!(judge(&p, 40.0).is_empty(), "at the cap is quiet");
        let d = judge(&p, 41.0);
        assert_eq!(d[0].dedupe_key, "payload_fetch_rate");
        assert_eq!(
            d[0].subject,
            "payload-log fetch rate high: 41 in 30 min (cap 40)"
        );
        assert!(d[0].body.starts_with(
            "Payload-log fetches trigger credentialed agent work. A rate above the cap suggests"
        ));
        for (key, value) in [("count", 41), ("window_minutes", 30), ("max_fetches", 40)] {
            assert_eq!(d[0].extra[key], json!(value), "{key}");
        }
        assert_eq!(
            p.filters.get("app_name"),
            Some(&json!("epicprod")),
            "only epicprod's fetches count"
        );
        assert!(rename_old_cap(json!({"max_fetches": 1, "max_count": 2})).is_err());
    }
}

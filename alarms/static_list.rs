//! `static_list`: detections read straight from the alarm's params.
//!
//! No upstream at all, which makes it the detector for the quickstart,
//! for tests, and for trying a recipient list or an email layout. It is
//! also the template for a new detector file: module doc, `Params`, the
//! `ParamSchema` derive on it (each param stated once), `detect`, one
//! `inventory::submit!`, tests.
//!
//! Dedupe keys are whatever the params say. Example params:
//!
//! ```json
//! {"detections": [{"dedupe_key": "demo:1", "subject": "Demo is down", "body": "since 09:00"}]}
//! ```
//!
//! For benchmarks, `{"generate": {"count": 10000, "prefix": "task:", "offset": 0}}`
//! reports `count` made-up detections with keys `task:0` … `task:9999`
//! (shift `offset` and some clear while others fire) without storing them
//! in the alarm row.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::{
    parse_params, Ctx, DetectError, DetectFuture, Detection, ParamKind, ParamSchema, ParamType,
    Registration,
};

/// The params of `static_list`.
#[derive(Debug, Deserialize, ParamSchema)]
#[serde(deny_unknown_fields)]
struct Params {
    /// What to report as firing.
    #[serde(default)]
    detections: Vec<Item>,
    /// Return an error instead of detections, as an unreachable upstream would.
    #[serde(default)]
    fail: bool,
    /// Panic instead of returning, to exercise the engine's isolation.
    #[serde(default)]
    panic: bool,
    /// Wait this long before answering, to exercise the per-alarm timeout.
    #[serde(default)]
    delay_ms: u64,
    /// Made-up detections for benchmarks, added after `detections`: an
    /// object with count, prefix (default "task:") and offset (default 0).
    #[serde(default)]
    generate: Option<Generate>,
}

/// `count` detections keyed `<prefix><offset + i>` (`Serialize` only so
/// that the schema can show the default).
#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct Generate {
    count: u64,
    #[serde(default = "default_prefix")]
    prefix: String,
    #[serde(default)]
    offset: u64,
}

fn default_prefix() -> String {
    "task:".into()
}

impl ParamKind for Generate {
    const KIND: ParamType = ParamType::Object;
}

impl Generate {
    fn detections(&self) -> impl Iterator<Item = Detection> + '_ {
        (self.offset..self.offset.saturating_add(self.count)).map(|n| {
            let percent = n % 40;
            let mut extra = Map::new();
            extra.insert("rate".into(), Value::from(percent as f64 / 100.0));
            let mut detection = Detection::new(
                format!("{}{n}", self.prefix),
                format!("Task {n} failing at {percent}%"),
                format!("owner: user{n}\nfailed {percent} of 100 jobs"),
            );
            detection.extra = extra;
            detection
        })
    }
}

/// One detection as written in the params (`Serialize` only so that the
/// schema can show the empty default).
#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct Item {
    dedupe_key: String,
    #[serde(default)]
    subject: Option<String>,
    #[serde(default)]
    body: String,
    #[serde(default)]
    extra: Map<String, Value>,
    #[serde(default)]
    notify_after_minutes: Option<f64>,
}

fn detect(_ctx: Ctx, params: Value) -> DetectFuture {
    Box::pin(async move {
        let params: Params = parse_params(params)?;
        if params.delay_ms > 0 {
            tokio::time::sleep(Duration::from_millis(params.delay_ms)).await;
        }
        if params.panic {
            panic!("static_list was asked to panic");
        }
        if params.fail {
            return Err(DetectError::Upstream {
                source_name: "static_list".into(),
                message: "asked to fail by its params".into(),
            });
        }
        let generated = params.generate.as_ref().map(Generate::detections);
        Ok(params
            .detections
            .into_iter()
            .map(|item| Detection {
                subject: item.subject.unwrap_or_else(|| item.dedupe_key.clone()),
                dedupe_key: item.dedupe_key,
                body: item.body,
                extra: item.extra,
                notify_after_minutes: item.notify_after_minutes,
            })
            .chain(generated.into_iter().flatten())
            .collect())
    })
}

inventory::submit!(Registration {
    name: "static_list",
    aliases: &[],
    summary: "Reports the detections listed in its params; for tests and demos.",
    params: <Params as ParamSchema>::param_specs,
    validate: crate::validate::<Params>,
    example: r#"{"detections": [{"dedupe_key": "demo:1", "subject": "Demo is down", "body": "since 09:00"}]}"#,
    detect,
});

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ctx() -> Ctx {
        Ctx::new(0.0, "alarm_static_list")
    }

    #[tokio::test]
    async fn lists_its_detections_in_order() {
        let params = json!({"detections": [
            {"dedupe_key": "a", "subject": "A", "body": "first", "extra": {"n": 1}},
            {"dedupe_key": "b"}
        ]});
        let got = detect(ctx(), params).await.expect("detects");
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].subject, "A");
        assert_eq!(got[0].extra["n"], 1);
        assert_eq!(got[1].subject, "b", "subject defaults to the key");
    }

    #[tokio::test]
    async fn generates_keys_from_the_offset() {
        let params = json!({"generate": {"count": 3, "offset": 10}});
        let got = detect(ctx(), params).await.expect("detects");
        let keys: Vec<&str> = got.iter().map(|d| d.dedupe_key.as_str()).collect();
        assert_eq!(keys, ["task:10", "task:11", "task:12"]);
        assert_eq!(got[0].subject, "Task 10 failing at 10%");
        let params = json!({"generate": {"count": 2, "prefix": "job/"}});
        let got = detect(ctx(), params).await.expect("detects");
        assert_eq!(got[1].dedupe_key, "job/1");
        let err = detect(ctx(), json!({"generate": {"cnt": 2}}))
            .await
            .unwrap_err();
        assert!(err.to_string().contains("cnt"), "{err}");
    }

    #[tokio::test]
    async fn fail_is_an_upstream_error() {
        let err = detect(ctx(), json!({"fail": true})).await.unwrap_err();
        assert!(matches!(err, DetectError::Upstream { .. }), "{err:?}");
    }

    #[tokio::test]
    async fn a_typo_names_the_field() {
        let err = detect(ctx(), json!({"detection": []})).await.unwrap_err();
        assert!(err.to_string().contains("detection"), "{err}");
    }
}

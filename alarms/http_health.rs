//! `http_health`: HTTP endpoints that do not answer as they should — a
//! real GET, not a port check. Each target fails for a reason: refused,
//! timeout, TLS, an unexpected status, or a body without the expected text;
//! the detection says which, with the latency.
//!
//! Dedupe key: `http:<name>`. Example params:
//!
//! ```json
//! {"targets": [{"name": "dashboard", "url": "https://example.org/health",
//!               "expect_status": [200], "body_contains": "ok", "timeout_seconds": 5}]}
//! ```

use serde::Deserialize;

use crate::support::probe::{side_by_side, timeout};
use serde_json::{json, Value};

use crate::{
    parse_params, Ctx, DetectError, DetectFuture, Detection, HttpAnswer, ParamSchema, ProbeFailure,
    Probed, Prober, Registration,
};

/// The params of `http_health`.
#[derive(Debug, Deserialize, ParamSchema)]
#[serde(deny_unknown_fields)]
struct Params {
    /// The endpoints to probe.
    targets: Vec<Target>,
}

/// One endpoint.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Target {
    /// Short name, used in the dedupe key.
    name: String,
    /// URL to GET.
    url: String,
    /// Acceptable status codes; 200–399 when absent.
    #[serde(default)]
    expect_status: Option<Vec<u16>>,
    /// Text the body must contain.
    #[serde(default)]
    body_contains: Option<String>,
    /// Seconds to wait.
    #[serde(default = "ten")]
    timeout_seconds: f64,
}

fn ten() -> f64 {
    10.0
}

fn failure_word(kind: ProbeFailure) -> &'static str {
    match kind {
        ProbeFailure::Refused => "connection refused",
        ProbeFailure::Timeout => "timed out",
        ProbeFailure::Tls => "TLS failure",
        ProbeFailure::Other => "request failed",
    }
}

/// Probes one target.
async fn probe<'a>(
    prober: &dyn Prober,
    t: &'a Target,
) -> Result<(&'a Target, Probed<HttpAnswer>), DetectError> {
    let limit = timeout(&t.name, t.timeout_seconds)?;
    prober.http(&t.url, limit).await.map(|probed| (t, probed))
}

fn detect(ctx: Ctx, params: Value) -> DetectFuture {
    Box::pin(async move {
        let p: Params = parse_params(params)?;
        let prober = ctx.prober()?;
        for t in &p.targets {
            timeout(&t.name, t.timeout_seconds)?;
        }
        let probes = side_by_side(p.targets.iter().map(|t| probe(prober, t)).collect()).await;
        let mut detections = Vec::new();
        for probed in probes {
            let (t, probed) = probed?;
            let problem = match &probed.result {
                Err((kind, message)) => Some((failure_word(*kind), message.clone(), None)),
                Ok(answer) => {
                    let status_ok = match &t.expect_status {
                        Some(codes) => codes.contains(&answer.status),
                        None => (200..400).contains(&answer.status),
                    };
                    if !status_ok {
                        Some((
                            "unexpected status",
                            format!("HTTP {}", answer.status),
                            Some(answer.status),
                        ))
                    } else {
                        t.body_contains
                            .as_deref()
                            .filter(|text| !answer.body.contains(*text))
                            .map(|text| {
                                (
                                    "unexpected body",
                                    format!("the body does not contain {text:?}"),
                                    Some(answer.status),
                                )
                            })
                    }
                }
            };
            if let Some((reason, detail, status)) = problem {
                let extra = json!({"target": t.name, "url": t.url, "reason": reason, "status": status,
                                   "latency_ms": probed.latency_ms.round()});
                detections.push(Detection {
                    dedupe_key: format!("http:{}", t.name),
                    subject: format!(
                        "{} is down: {reason} after {:.0} ms",
                        t.name, probed.latency_ms
                    ),
                    body: format!(
                        "GET {}\n{reason}: {detail}\nLatency: {:.0} ms",
                        t.url, probed.latency_ms
                    ),
                    extra: crate::fields(extra),
                    notify_after_minutes: None,
                });
            }
        }
        Ok(detections)
    })
}

inventory::submit!(Registration {
    name: "http_health",
    aliases: &[],
    summary: "HTTP endpoints that are down, slow, or answer wrongly.",
    params: <Params as ParamSchema>::param_specs,
    validate: crate::validate::<Params>,
    example: r#"{"targets": [{"name": "dashboard", "url": "http://127.0.0.1:8000/health", "body_contains": "ok", "timeout_seconds": 5}]}"#,
    detect,
});
inventory::submit!(crate::ReportsUptime("http_health"));

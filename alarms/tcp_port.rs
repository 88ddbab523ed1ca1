//! `tcp_port`: services without HTTP whose port does not accept a
//! connection (refused or timed out).
//!
//! Dedupe key: `tcp:<name>`. Example params:
//!
//! ```json
//! {"targets": [{"name": "broker", "host": "127.0.0.1", "port": 61613, "timeout_seconds": 3}]}
//! ```

use serde::Deserialize;

use crate::support::probe::{side_by_side, timeout};
use serde_json::{json, Value};

use crate::{
    parse_params, Ctx, DetectError, DetectFuture, Detection, ParamSchema, Probed, Prober,
    Registration,
};

/// The params of `tcp_port`.
#[derive(Debug, Deserialize, ParamSchema)]
#[serde(deny_unknown_fields)]
struct Params {
    /// The services to probe.
    targets: Vec<Target>,
}

/// One service.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Target {
    name: String,
    host: String,
    port: u16,
    #[serde(default = "five")]
    timeout_seconds: f64,
}

fn five() -> f64 {
    5.0
}

/// Probes one target.
async fn probe<'a>(
    prober: &dyn Prober,
    t: &'a Target,
) -> Result<(&'a Target, Probed<()>), DetectError> {
    let limit = timeout(&t.name, t.timeout_seconds)?;
    prober
        .tcp(&t.host, t.port, limit)
        .await
        .map(|probed| (t, probed))
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
            if let Err((kind, message)) = probed.result {
                let extra = json!({"target": t.name, "host": t.host, "port": t.port,
                                   "reason": format!("{kind:?}"), "latency_ms": probed.latency_ms.round()});
                detections.push(Detection {
                    dedupe_key: format!("tcp:{}", t.name),
                    subject: format!(
                        "{} ({}:{}) does not accept connections",
                        t.name, t.host, t.port
                    ),
                    body: format!("{message}\nLatency: {:.0} ms", probed.latency_ms),
                    extra: crate::fields(extra),
                    notify_after_minutes: None,
                });
            }
        }
        Ok(detections)
    })
}

inventory::submit!(Registration {
    name: "tcp_port",
    aliases: &[],
    summary: "TCP services whose port does not accept a connection.",
    params: <Params as ParamSchema>::param_specs,
    validate: crate::validate::<Params>,
    example: r#"{"targets": [{"name": "broker", "host": "127.0.0.1", "port": 61613}]}"#,
    detect,
});
inventory::submit!(crate::ReportsUptime("tcp_port"));

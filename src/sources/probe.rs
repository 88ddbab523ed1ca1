//! Network probes for `http_health` and `tcp_port`: a real request or a
//! real connect, timed.

use std::time::{Duration, Instant};

use alarms::{HttpAnswer, ProbeFailure, Probed, Prober, SourceFuture};

/// Body bytes kept for `body_contains`.
const MAX_BODY: usize = 64 * 1024;

/// The tick's prober.
pub(crate) struct NetProber {
    http: reqwest::Client,
}

impl NetProber {
    pub(crate) fn new() -> Result<Self, String> {
        let http = reqwest::Client::builder()
            .user_agent(concat!(
                "swf-alarms/",
                env!("CARGO_PKG_VERSION"),
                " (health probe)"
            ))
            .pool_max_idle_per_host(0)
            .build()
            .map_err(|e| format!("cannot set up the HTTP prober: {e}"))?;
        Ok(NetProber { http })
    }
}

/// Sorts a failed request into refused, timeout, TLS or other by the
/// types in its cause chain.
fn classify(error: &reqwest::Error) -> ProbeFailure {
    if error.is_timeout() {
        return ProbeFailure::Timeout;
    }
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(e) = cause {
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            match io.kind() {
                std::io::ErrorKind::ConnectionRefused => return ProbeFailure::Refused,
                std::io::ErrorKind::TimedOut => return ProbeFailure::Timeout,
                std::io::ErrorKind::InvalidData => return ProbeFailure::Tls,
                _ => {}
            }
        }
        if e.downcast_ref::<rustls::Error>().is_some() {
            return ProbeFailure::Tls;
        }
        cause = e.source();
    }
    ProbeFailure::Other
}

impl Prober for NetProber {
    fn http<'a>(&'a self, url: &'a str, timeout: Duration) -> SourceFuture<'a, Probed<HttpAnswer>> {
        Box::pin(async move {
            let started = Instant::now();
            let request = async {
                let response = self.http.get(url).send().await?;
                let status = response.status().as_u16();
                let mut body = Vec::new();
                let mut response = response;
                while let Some(chunk) = response.chunk().await? {
                    body.extend_from_slice(&chunk);
                    if body.len() >= MAX_BODY {
                        break;
                    }
                }
                Ok::<_, reqwest::Error>(HttpAnswer {
                    status,
                    body: String::from_utf8_lossy(&body).into_owned(),
                })
            };
            let result = match tokio::time::timeout(timeout, request).await {
                Ok(Ok(answer)) => Ok(answer),
                Ok(Err(e)) => Err((classify(&e), crate::error_chain(&e, ": "))),
                Err(_) => Err((
                    ProbeFailure::Timeout,
                    format!("no answer within {timeout:?}"),
                )),
            };
            Ok(Probed {
                result,
                latency_ms: started.elapsed().as_secs_f64() * 1000.0,
            })
        })
    }

    fn tcp<'a>(
        &'a self,
        host: &'a str,
        port: u16,
        timeout: Duration,
    ) -> SourceFuture<'a, Probed<()>> {
        Box::pin(async move {
            let started = Instant::now();
            let result =
                match tokio::time::timeout(timeout, tokio::net::TcpStream::connect((host, port)))
                    .await
                {
                    Ok(Ok(_stream)) => Ok(()),
                    Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
                        Err((ProbeFailure::Refused, format!("connection refused: {e}")))
                    }
                    Ok(Err(e)) => Err((ProbeFailure::Other, e.to_string())),
                    Err(_) => Err((
                        ProbeFailure::Timeout,
                        format!("no connection within {timeout:?}"),
                    )),
                };
            Ok(Probed {
                result,
                latency_ms: started.elapsed().as_secs_f64() * 1000.0,
            })
        })
    }
}

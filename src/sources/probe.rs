//! Network probes for `http_health` and `tcp_port`: a real request or a
//! real connect, timed.

use std::time::{Duration, Instant};

use alarms::{HttpAnswer, ProbeFailure, Probed, Prober, SourceFuture};

/// Body bytes kept for `body_contains`.
const MAX_BODY: usize = 64 * 1024;

/// Redirects a probe follows at most.
const MAX_REDIRECTS: usize = 10;

/// The tick's prober.
pub(crate) struct NetProber {
    http: reqwest::Client,
    /// `engine.probe_public_only`: refuse private, loopback and link-local
    /// addresses, literal or resolved, redirects included.
    public_only: bool,
}

/// Whether `ip` is not on the public internet: private, loopback,
/// link-local (cloud metadata lives there), unspecified, shared (CGNAT),
/// broadcast, or an IPv6 unique-local or IPv4-mapped such address.
pub(crate) fn is_internal(ip: std::net::IpAddr) -> bool {
    use std::net::IpAddr;
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            v4.is_private()
                || v4.is_loopback()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || (a == 100 && (64..128).contains(&b))
        }
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => is_internal(IpAddr::V4(v4)),
            None => {
                let first = v6.segments()[0];
                v6.is_loopback()
                    || v6.is_unspecified()
                    || (first & 0xfe00) == 0xfc00
                    || (first & 0xffc0) == 0xfe80
            }
        },
    }
}

/// Why a URL's literal host may not be probed, if it may not.
fn refused_literal(url: &reqwest::Url) -> Option<String> {
    let host = url.host_str()?;
    let ip: std::net::IpAddr = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse()
        .ok()?;
    is_internal(ip).then(|| {
        format!("{ip} is a private, loopback or link-local address (engine.probe_public_only)")
    })
}

/// Resolves names to public addresses only.
struct PublicOnly;

impl reqwest::dns::Resolve for PublicOnly {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let public = public_addrs(&host, 0).await?;
            Ok(Box::new(public.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// The public addresses `host` resolves to; an error when it resolves to
/// internal ones only.
async fn public_addrs(host: &str, port: u16) -> std::io::Result<Vec<std::net::SocketAddr>> {
    let public: Vec<std::net::SocketAddr> = tokio::net::lookup_host((host, port))
        .await?
        .filter(|a| !is_internal(a.ip()))
        .collect();
    if public.is_empty() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::PermissionDenied,
            format!(
                "{host} resolves only to private, loopback or link-local addresses (engine.probe_public_only)"
            ),
        ));
    }
    Ok(public)
}

impl NetProber {
    pub(crate) fn new(public_only: bool) -> Result<Self, String> {
        // Only http(s) redirects are followed: a redirect to file:, ftp:
        // or anything else is the probe's failure, never a healthy 3xx.
        let redirects = reqwest::redirect::Policy::custom(move |attempt| {
            let url = attempt.url().clone();
            if !matches!(url.scheme(), "http" | "https") {
                let message = format!("redirect to {url}: not an http(s) URL; not followed");
                return attempt.error(message);
            }
            if public_only {
                if let Some(reason) = refused_literal(&url) {
                    return attempt.error(format!("redirect to {url}: {reason}"));
                }
            }
            if attempt.previous().len() >= MAX_REDIRECTS {
                return attempt.error(format!("more than {MAX_REDIRECTS} redirects"));
            }
            attempt.follow()
        });
        let mut builder = reqwest::Client::builder()
            .user_agent(concat!(
                "swf-alarms/",
                env!("CARGO_PKG_VERSION"),
                " (health probe)"
            ))
            .pool_max_idle_per_host(0)
            .redirect(redirects);
        if public_only {
            builder = builder.dns_resolver(std::sync::Arc::new(PublicOnly));
        }
        let http = builder
            .build()
            .map_err(|e| format!("cannot set up the HTTP prober: {e}"))?;
        Ok(NetProber { http, public_only })
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
            if self.public_only {
                let refused = match reqwest::Url::parse(url) {
                    Ok(parsed) => refused_literal(&parsed),
                    Err(_) => None,
                };
                if let Some(reason) = refused {
                    return Ok(Probed {
                        result: Err((ProbeFailure::Other, reason)),
                        latency_ms: 0.0,
                    });
                }
            }
            let request = async {
                let response = self.http.get(url).send().await?;
                if response.status().is_redirection() {
                    // http(s) redirects are followed; one left standing
                    // points elsewhere (file:, ftp:, no Location at all).
                    let to = response
                        .headers()
                        .get(reqwest::header::LOCATION)
                        .map(|l| String::from_utf8_lossy(l.as_bytes()).into_owned())
                        .unwrap_or_else(|| "nowhere".into());
                    return Ok(Err(format!(
                        "HTTP {} redirect to {to}: not an http(s) URL; not followed",
                        response.status().as_u16()
                    )));
                }
                let status = response.status().as_u16();
                let mut body = Vec::new();
                let mut response = response;
                while let Some(chunk) = response.chunk().await? {
                    body.extend_from_slice(&chunk);
                    if body.len() >= MAX_BODY {
                        break;
                    }
                }
                Ok::<_, reqwest::Error>(Ok(HttpAnswer {
                    status,
                    body: String::from_utf8_lossy(&body).into_owned(),
                }))
            };
            let result = match tokio::time::timeout(timeout, request).await {
                Ok(Ok(Ok(answer))) => Ok(answer),
                Ok(Ok(Err(refused))) => Err((ProbeFailure::Other, refused)),
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
            let connect = async {
                if self.public_only {
                    let addrs = public_addrs(host, port).await?;
                    tokio::net::TcpStream::connect(&addrs[..]).await
                } else {
                    tokio::net::TcpStream::connect((host, port)).await
                }
            };
            let result = match tokio::time::timeout(timeout, connect).await {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_addresses_are_recognised() {
        for ip in [
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "127.0.0.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "::1",
            "fd00::1",
            "fe80::1",
            "::ffff:10.0.0.1",
        ] {
            assert!(is_internal(ip.parse().expect("ip")), "{ip}");
        }
        for ip in ["8.8.8.8", "130.199.3.1", "2001:4860::8888"] {
            assert!(!is_internal(ip.parse().expect("ip")), "{ip}");
        }
        let url = reqwest::Url::parse("http://[fe80::1]:8080/x").expect("url");
        assert!(refused_literal(&url).is_some());
        let url = reqwest::Url::parse("http://example.org/").expect("url");
        assert!(refused_literal(&url).is_none());
    }
}

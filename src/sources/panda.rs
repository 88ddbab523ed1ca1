//! The PanDA REST client: one per tick, sharing identical requests.
//!
//! Several alarms often ask the same question (the same status, window
//! and owner). Each distinct URL is fetched once per tick: the first
//! caller sends it, concurrent callers wait for that answer, later
//! callers get it at once. The answer — or the error — is kept only for
//! this tick.

use std::{
    collections::HashSet,
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc, Mutex,
    },
    time::{Duration, Instant},
};

use alarms::{DetectError, PandaApi, SourceFuture};
use serde_json::Value;

use super::once::PerTick;

/// Characters of an error body kept in messages.
const BODY_PREVIEW: usize = 200;

/// Why a PanDA request failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum PandaError {
    #[error("cannot connect: {0}")]
    Connect(String),
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    #[error("HTTP {status} {reason}: {body}")]
    Status {
        status: u16,
        reason: &'static str,
        body: String,
    },
    #[error("the body is not JSON ({error}): {body}")]
    NotJson { error: String, body: String },
    #[error("the body is larger than {0} bytes (engine.max_read_mib); not read further")]
    TooLarge(usize),
    #[error("{0}")]
    Other(String),
}

/// The pause before the one retry of a page.
const RETRY_PAUSE: Duration = Duration::from_millis(200);

/// A retry is not worth starting with less time than this left.
const RETRY_MIN_TIME: Duration = Duration::from_secs(1);

impl PandaError {
    /// A failure that a second try a moment later often gets past: no
    /// connection, or a gateway in front of PanDA that could not reach it.
    fn worth_a_retry(&self) -> bool {
        matches!(
            self,
            PandaError::Connect(_)
                | PandaError::Status {
                    status: 502..=504,
                    ..
                }
        )
    }

    fn into_detect(self, url: &str) -> DetectError {
        let source_name = url.to_owned();
        let message = self.to_string();
        match self {
            PandaError::Status {
                status,
                reason,
                body,
            } => DetectError::HttpStatus {
                status,
                reason: reason.to_owned(),
                url: source_name,
                excerpt: body,
            },
            PandaError::NotJson { .. } => DetectError::BadResponse {
                source_name,
                message,
            },
            _ => DetectError::Upstream {
                source_name,
                message,
            },
        }
    }
}

fn preview(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let text = text.trim();
    match text.char_indices().nth(BODY_PREVIEW) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_owned(),
    }
}

enum ReadError {
    TooLarge,
    Http(reqwest::Error),
}

/// Reads a body of at most `max` bytes: an announced larger length fails
/// at once, an endless or lying one as soon as it passes `max`.
async fn read_capped(mut response: reqwest::Response, max: usize) -> Result<Vec<u8>, ReadError> {
    if response.content_length().is_some_and(|n| n > max as u64) {
        return Err(ReadError::TooLarge);
    }
    let mut body = Vec::with_capacity(response.content_length().unwrap_or(0) as usize);
    while let Some(chunk) = response.chunk().await.map_err(ReadError::Http)? {
        if body.len() + chunk.len() > max {
            return Err(ReadError::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// The tick's PanDA client.
pub(crate) struct PandaClient {
    http: reqwest::Client,
    base: String,
    task_url: String,
    timeout: Duration,
    max_bytes: usize,
    answers: PerTick<Result<Arc<Value>, DetectError>>,
    warned: Mutex<HashSet<String>>,
    sent: AtomicUsize,
}

impl PandaClient {
    /// A client for `base` (no trailing slash); `task_url` holds
    /// `{jeditaskid}` where the task id goes.
    pub(crate) fn new(
        base: &str,
        task_url: &str,
        timeout: Duration,
        max_bytes: usize,
    ) -> Result<Self, String> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(10)))
            .pool_idle_timeout(Duration::from_secs(30))
            .user_agent(concat!("swf-alarms/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| format!("cannot set up the HTTP client: {e}"))?;
        Ok(PandaClient {
            http,
            base: base.to_owned(),
            task_url: task_url.to_owned(),
            timeout,
            max_bytes,
            answers: PerTick::new(),
            warned: Mutex::new(HashSet::new()),
            sent: AtomicUsize::new(0),
        })
    }

    /// Requests actually sent this tick.
    pub(crate) fn requests_sent(&self) -> usize {
        self.sent.load(Ordering::Relaxed)
    }

    /// Fetches a page; a connect error or a 502/503/504 gets one more try,
    /// within the same `request_timeout`.
    async fn fetch(&self, url: &reqwest::Url) -> Result<Arc<Value>, PandaError> {
        let deadline = Instant::now() + self.timeout;
        let error = match self.fetch_once(url, self.timeout).await {
            Err(error) if error.worth_a_retry() => error,
            other => return other,
        };
        let left = deadline.saturating_duration_since(Instant::now());
        if left < RETRY_PAUSE + RETRY_MIN_TIME {
            return Err(error);
        }
        tracing::debug!(url = %url, error = %error, "PanDA request failed; trying once more.");
        tokio::time::sleep(RETRY_PAUSE).await;
        self.fetch_once(url, left - RETRY_PAUSE).await
    }

    async fn fetch_once(
        &self,
        url: &reqwest::Url,
        timeout: Duration,
    ) -> Result<Arc<Value>, PandaError> {
        self.sent.fetch_add(1, Ordering::Relaxed);
        tracing::debug!(url = %url, "PanDA request.");
        let response = self
            .http
            .get(url.clone())
            .timeout(timeout)
            .send()
            .await
            .map_err(|e| {
                if e.is_timeout() {
                    PandaError::Timeout(self.timeout)
                } else if e.is_connect() {
                    PandaError::Connect(crate::error_chain(&e, ": "))
                } else {
                    PandaError::Other(crate::error_chain(&e, ": "))
                }
            })?;
        let status = response.status();
        let body = read_capped(response, self.max_bytes)
            .await
            .map_err(|e| match e {
                ReadError::TooLarge => PandaError::TooLarge(self.max_bytes),
                ReadError::Http(e) if e.is_timeout() => PandaError::Timeout(self.timeout),
                ReadError::Http(e) => PandaError::Other(format!(
                    "reading the body: {}",
                    crate::error_chain(&e, ": ")
                )),
            })?;
        if !status.is_success() {
            return Err(PandaError::Status {
                status: status.as_u16(),
                reason: status.canonical_reason().unwrap_or(""),
                body: preview(&body),
            });
        }
        serde_json::from_slice(&body)
            .map(Arc::new)
            .map_err(|e| PandaError::NotJson {
                error: e.to_string(),
                body: preview(&body),
            })
    }
}

impl PandaApi for PandaClient {
    fn get_json<'a>(
        &'a self,
        path: &'a str,
        query: &'a [(String, String)],
    ) -> SourceFuture<'a, Arc<Value>> {
        Box::pin(async move {
            let mut url = reqwest::Url::parse(&format!("{}{}", self.base, path)).map_err(|e| {
                DetectError::Upstream {
                    source_name: format!("{}{}", self.base, path),
                    message: format!("not a valid URL: {e}"),
                }
            })?;
            if !query.is_empty() {
                url.query_pairs_mut().extend_pairs(query);
            }
            self.answers
                .get_or_fetch(url.to_string(), || async {
                    self.fetch(&url)
                        .await
                        .map_err(|e| e.into_detect(url.as_str()))
                })
                .await
        })
    }

    fn task_url(&self, jeditaskid: i64) -> String {
        self.task_url
            .replace("{jeditaskid}", &jeditaskid.to_string())
    }

    fn warn_once(&self, key: &str, message: &str) {
        let first = self
            .warned
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(key.to_owned());
        if first {
            tracing::warn!("{message}");
        }
    }
}

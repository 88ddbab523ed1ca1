//! The PanDA REST client: one per tick, sharing identical requests.
//!
//! Several alarms often ask the same question (the same status, window
//! and owner). Each distinct URL is fetched once per tick: the first
//! caller sends it, concurrent callers wait for that answer, later
//! callers get it at once. The answer — or the error — is kept only for
//! this tick.

use std::{
    collections::HashSet,
    fmt,
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc, Mutex,
    },
    time::{Duration, Instant},
};

use alarms::{DetectError, PandaApi, SourceFuture};
use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};

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

/// A JSON document read for its verdict only: it accepts exactly what
/// `serde_json::Value` accepts, with the same error text, because it makes
/// the same `deserialize_any` calls (the same depth limit, UTF-8 checks of
/// strings and keys, number ranges), but builds nothing. The callers read
/// the body again into typed structs, which skip what they do not know
/// without checking it: this is the check. (`serde::de::IgnoredAny` would
/// skip strings and numbers unchecked and has no depth limit.)
struct JsonCheck;

impl<'de> Deserialize<'de> for JsonCheck {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(JsonCheck)
    }
}

impl<'de> Visitor<'de> for JsonCheck {
    type Value = JsonCheck;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<JsonCheck, E> {
        Ok(JsonCheck)
    }

    fn visit_i64<E>(self, _: i64) -> Result<JsonCheck, E> {
        Ok(JsonCheck)
    }

    fn visit_u64<E>(self, _: u64) -> Result<JsonCheck, E> {
        Ok(JsonCheck)
    }

    fn visit_f64<E>(self, _: f64) -> Result<JsonCheck, E> {
        Ok(JsonCheck)
    }

    fn visit_str<E>(self, _: &str) -> Result<JsonCheck, E> {
        Ok(JsonCheck)
    }

    fn visit_unit<E>(self) -> Result<JsonCheck, E> {
        Ok(JsonCheck)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<JsonCheck, A::Error> {
        while seq.next_element::<JsonCheck>()?.is_some() {}
        Ok(JsonCheck)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<JsonCheck, A::Error> {
        while map.next_entry::<JsonCheck, JsonCheck>()?.is_some() {}
        Ok(JsonCheck)
    }
}

/// Checks that `body` is one JSON document, with `Value`'s verdict and
/// words. The UTF-8 check is one pass over the whole body, so that the
/// JSON reading need not check each string again (that was half of the
/// check's cost); a body that is not UTF-8 is never JSON, and is read
/// as bytes only for the words of its error.
fn check_json(body: &[u8]) -> Result<(), serde_json::Error> {
    match std::str::from_utf8(body) {
        Ok(text) => serde_json::from_str::<JsonCheck>(text).map(drop),
        Err(_) => serde_json::from_slice::<JsonCheck>(body).map(drop),
    }
}

/// The body as the answer, when it is JSON.
fn json_body(body: Vec<u8>) -> Result<Arc<[u8]>, PandaError> {
    match check_json(&body) {
        Ok(()) => Ok(body.into()),
        Err(e) => Err(PandaError::NotJson {
            error: e.to_string(),
            body: preview(&body),
        }),
    }
}

/// The tick's PanDA client.
pub(crate) struct PandaClient {
    http: reqwest::Client,
    base: String,
    task_url: String,
    timeout: Duration,
    max_bytes: usize,
    answers: PerTick<Result<Arc<[u8]>, DetectError>>,
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
    async fn fetch(&self, url: &reqwest::Url) -> Result<Arc<[u8]>, PandaError> {
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
    ) -> Result<Arc<[u8]>, PandaError> {
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
        json_body(body)
    }
}

impl PandaApi for PandaClient {
    fn get_json_body<'a>(
        &'a self,
        path: &'a str,
        query: &'a [(String, String)],
    ) -> SourceFuture<'a, Arc<[u8]>> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The check's verdict and error text, and `Value`'s.
    fn verdicts(body: &[u8]) -> (Result<(), String>, Result<(), String>) {
        let check = check_json(body).map_err(|e| e.to_string());
        let value = serde_json::from_slice::<serde_json::Value>(body)
            .map(drop)
            .map_err(|e| e.to_string());
        (check, value)
    }

    #[test]
    fn the_check_rejects_what_value_rejects_in_the_same_words() {
        let deep = format!("{}{}", "[".repeat(200), "]".repeat(200));
        let bodies: Vec<&[u8]> = vec![
            br#"{"items": [], "has_more": false}"#,
            b"",
            b"   ",
            b"{\"a\": \"\xff\"}",
            b"{\"\xc3\": 1}",
            br#"{"a": "\ud800"}"#,
            br#"{"a": "\ud800\u0041"}"#,
            br#"["\uDBFF\uDFFF", "\u00e9\n\t"]"#,
            b"{\"a\": \"line\nbreak\"}",
            b"1e400",
            b"-1e400",
            b"1e-400",
            b"18446744073709551616",
            b"-9223372036854775809",
            b"01",
            b"1.",
            b"[1,]",
            b"{\"a\":1,}",
            b"{\"a\" 1}",
            b"{1: 2}",
            b"[1] x",
            b"nul",
            b"tru",
            br#"{"items": [{"jeditaskid": 1, "status": "run"#,
            deep.as_bytes(),
            &deep.as_bytes()[..300],
        ];
        for body in bodies {
            let (check, value) = verdicts(body);
            assert_eq!(check, value, "{}", String::from_utf8_lossy(body));
        }
    }

    fn token() -> impl Strategy<Value = &'static str> {
        prop::sample::select(vec![
            "{", "}", "[", "]", ",", ":", " ", "\"", "\"k\"", "\\", "\\u", "d800", "00e9", "1",
            "-", ".", "e", "400", "0", "null", "true", "\n", "\u{e9}",
        ])
    }

    proptest! {
        #[test]
        fn the_check_agrees_with_value_on_any_text(
            tokens in prop::collection::vec(token(), 0..24),
            cut in any::<prop::sample::Index>(),
        ) {
            let text = tokens.concat();
            let bytes = text.as_bytes();
            // A cut inside a UTF-8 sequence gives invalid UTF-8 too.
            let body = &bytes[..cut.index(bytes.len() + 1)];
            let (check, value) = verdicts(body);
            prop_assert_eq!(check, value);
        }
    }
}

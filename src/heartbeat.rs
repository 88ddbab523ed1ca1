//! The dead-man's switch: after every tick, one request to a URL that
//! someone outside watches (healthchecks.io, a cron monitor, an
//! Alertmanager Watchdog receiver), so that a dead cron, a broken host or
//! a lost database is noticed by the silence that follows.
//!
//! Which URL a tick pings is a pure decision ([`beat_for`]); sending is a
//! single bounded request whose failure is only logged: a heartbeat never
//! fails the tick it reports on.

use crate::{
    config::HeartbeatConfig,
    tick::{TickError, TickOutcome},
};

/// What a tick tells the watcher.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Beat {
    /// Every alarm ran.
    Success(String),
    /// Some alarm failed, or the tick could not run; the text says why.
    Fail(String),
}

/// The ping a tick's result calls for; `None` for a dry run, and when
/// another tick holds the lock (that tick pings for itself) — unless it
/// has held it past `engine.stuck_after`.
pub(crate) fn beat_for(result: &Result<TickOutcome, TickError>, dry_run: bool) -> Option<Beat> {
    if dry_run {
        return None;
    }
    match result {
        Ok(TickOutcome::AlreadyRunning(report)) if report.stuck => Some(Beat::Fail(
            "the tick lock is held past engine.stuck_after: a tick is stuck".into(),
        )),
        Ok(TickOutcome::AlreadyRunning(_)) => None,
        Ok(TickOutcome::Done(s)) => {
            let mut line = format!(
                "run {}: alarms_run={} errors={} detections={} new={} cleared={} emails_sent={} emails_failed={}",
                s.run_id,
                s.alarms_run,
                s.alarms_errored,
                s.detections,
                s.new_events,
                s.cleared,
                s.emails_sent,
                s.emails_failed
            );
            if let Some(why) = &s.unrecorded {
                line.push_str(&format!("; the run record was not written: {why}"));
            }
            Some(if s.failed() {
                Beat::Fail(line)
            } else {
                Beat::Success(line)
            })
        }
        Err(error) => Some(Beat::Fail(format!(
            "the tick did not run: {}",
            crate::error_chain(error, ": ")
        ))),
    }
}

/// Why a ping did not get through.
#[derive(Debug, thiserror::Error)]
pub(crate) enum HeartbeatError {
    #[error("the HTTP client cannot be set up")]
    Client(#[source] reqwest::Error),
    #[error("request failed")]
    Request(#[source] reqwest::Error),
    #[error("no answer within {0:?}")]
    Timeout(std::time::Duration),
    #[error("HTTP {status} {reason} from {url}: {excerpt}")]
    Status {
        status: u16,
        reason: &'static str,
        url: String,
        excerpt: String,
    },
}

/// Characters of an error answer's body kept for the log.
const EXCERPT_CHARS: usize = 200;

/// The start of an error answer's body: at most a few KiB are read (under
/// the request's timeout), a line of it is kept.
async fn excerpt(mut response: reqwest::Response) -> String {
    let mut bytes = Vec::new();
    while bytes.len() < 4096 {
        match response.chunk().await {
            Ok(Some(chunk)) => bytes.extend_from_slice(&chunk),
            Ok(None) | Err(_) => break,
        }
    }
    let text = String::from_utf8_lossy(&bytes);
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if text.is_empty() {
        return "(empty body)".into();
    }
    match text.char_indices().nth(EXCERPT_CHARS) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text,
    }
}

/// Sends one ping: to the success or the fail URL, by the beat.
pub(crate) async fn send(config: &HeartbeatConfig, beat: &Beat) -> Result<(), HeartbeatError> {
    let (url, text) = match beat {
        Beat::Success(text) => (&config.url, text),
        Beat::Fail(text) => (&config.fail_url, text),
    };
    let client = reqwest::Client::builder()
        .timeout(config.timeout)
        .connect_timeout(config.timeout)
        .user_agent(concat!("swf-alarms/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(HeartbeatError::Client)?;
    let request = if config.post {
        // healthchecks.io keeps the body as the ping's log: make it useful
        // and small.
        let body: String = text.chars().take(10_000).collect();
        client.post(url).body(body)
    } else {
        client.get(url)
    };
    // reqwest's own timeout covers the request; the outer one also bounds
    // anything before it (name resolution included).
    let response = tokio::time::timeout(config.timeout, request.send())
        .await
        .map_err(|_| HeartbeatError::Timeout(config.timeout))?
        .map_err(|e| {
            if e.is_timeout() {
                HeartbeatError::Timeout(config.timeout)
            } else {
                HeartbeatError::Request(e)
            }
        })?;
    let status = response.status();
    if !status.is_success() {
        return Err(HeartbeatError::Status {
            status: status.as_u16(),
            reason: status.canonical_reason().unwrap_or("(no reason phrase)"),
            url: url.to_string(),
            excerpt: excerpt(response).await,
        });
    }
    Ok(())
}

/// Pings for a tick's result when a heartbeat is configured, logging the
/// outcome; never fails.
pub(crate) async fn after_tick(
    config: Option<&HeartbeatConfig>,
    result: &Result<TickOutcome, TickError>,
    dry_run: bool,
) {
    let (Some(config), Some(beat)) = (config, beat_for(result, dry_run)) else {
        return;
    };
    let kind = match beat {
        Beat::Success(_) => "success",
        Beat::Fail(_) => "fail",
    };
    match send(config, &beat).await {
        Ok(()) => tracing::debug!(kind, "Heartbeat sent."),
        Err(error) => tracing::warn!(
            kind,
            error = %crate::error_chain(&error, ": "),
            "Heartbeat ping failed; the tick itself is unaffected."
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{store::StoreError, tick::TickSummary};

    fn done(errored: usize) -> Result<TickOutcome, TickError> {
        Ok(TickOutcome::Done(TickSummary {
            run_id: "r1".into(),
            alarms_run: 3,
            alarms_errored: errored,
            ..TickSummary::default()
        }))
    }

    #[test]
    fn which_ping_a_tick_sends() {
        assert!(
            matches!(beat_for(&done(0), false), Some(Beat::Success(t)) if t.contains("alarms_run=3 errors=0"))
        );
        assert!(matches!(beat_for(&done(1), false), Some(Beat::Fail(t)) if t.contains("errors=1")));
        assert_eq!(beat_for(&done(0), true), None, "dry run");
        assert_eq!(beat_for(&done(2), true), None, "dry run");
        let mut held = crate::tick::LockReport {
            holder: None,
            held_for: None,
            stuck: false,
        };
        assert_eq!(
            beat_for(&Ok(TickOutcome::AlreadyRunning(held.clone())), false),
            None
        );
        held.stuck = true;
        assert!(
            matches!(beat_for(&Ok(TickOutcome::AlreadyRunning(held)), false), Some(Beat::Fail(t)) if t.contains("stuck"))
        );
        let lost = Err(TickError::Store(StoreError::Schema("gone".into())));
        assert!(matches!(beat_for(&lost, false), Some(Beat::Fail(t)) if t.contains("gone")));
    }
}

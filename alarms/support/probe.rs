//! What the probing detectors (`http_health`, `tcp_port`) share.

use std::{future::Future, time::Duration};

use futures_util::stream::{self, StreamExt};

use crate::DetectError;

/// How many targets of one alarm are probed at the same time: a dozen
/// dead targets then cost about one timeout, not twelve.
pub const PROBES_AT_ONCE: usize = 16;

/// Awaits every probe, at most [`PROBES_AT_ONCE`] at a time; the results
/// come back in the probes' order.
pub async fn side_by_side<F: Future>(probes: Vec<F>) -> Vec<F::Output> {
    stream::iter(probes)
        .buffered(PROBES_AT_ONCE)
        .collect()
        .await
}

/// The longest `timeout_seconds` a probe may have: the alarm's own
/// timeout ends it long before, and a duration must stay representable.
pub const MAX_TIMEOUT_SECONDS: f64 = 3600.0;

/// A target's `timeout_seconds` as a duration; zero, negative, non-finite
/// or over-long values are invalid params naming the target.
pub fn timeout(target: &str, seconds: f64) -> Result<Duration, DetectError> {
    if seconds.is_finite() && seconds > 0.0 && seconds <= MAX_TIMEOUT_SECONDS {
        Ok(Duration::from_secs_f64(seconds))
    } else {
        Err(DetectError::InvalidParams(format!(
            "{target}: timeout_seconds must be a number of seconds above 0 and at most {MAX_TIMEOUT_SECONDS}, got {seconds}"
        )))
    }
}

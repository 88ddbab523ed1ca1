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

/// A target's `timeout_seconds` as a duration; zero, negative or
/// non-finite values are invalid params naming the target.
pub fn timeout(target: &str, seconds: f64) -> Result<Duration, DetectError> {
    if seconds.is_finite() && seconds > 0.0 {
        Ok(Duration::from_secs_f64(seconds))
    } else {
        Err(DetectError::InvalidParams(format!(
            "{target}: timeout_seconds must be positive"
        )))
    }
}

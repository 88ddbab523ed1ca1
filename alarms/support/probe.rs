//! What the probing detectors (`http_health`, `tcp_port`) share.

use std::time::Duration;

use crate::DetectError;

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

//! Time as the dashboard stores it: float Unix seconds.

use chrono::{DateTime, Utc};

/// Now, in Unix seconds.
pub(crate) fn now() -> f64 {
    let now = Utc::now();
    now.timestamp() as f64 + f64::from(now.timestamp_subsec_micros()) / 1e6
}

/// `YYYYMMDD HH:MM:SS UTC`, the run rows' title format.
pub(crate) fn utc_label(unix: f64) -> String {
    DateTime::<Utc>::from_timestamp(unix.floor() as i64, 0)
        .map(|t| t.format("%Y%m%d %H:%M:%S UTC").to_string())
        .unwrap_or_else(|| format!("{unix}"))
}

/// `MMDD HH:MM` (UTC), for tables that must fit 80 columns; `?` for a
/// time no calendar holds (a hand-edited row may carry anything).
pub(crate) fn short_label(unix: f64) -> String {
    DateTime::<Utc>::from_timestamp(unix.floor() as i64, 0)
        .filter(|_| unix.is_finite())
        .map(|t| t.format("%m%d %H:%M").to_string())
        .unwrap_or_else(|| "?".into())
}

#[cfg(test)]
mod tests {
    #[test]
    fn label() {
        assert_eq!(super::utc_label(1_700_000_000.7), "20231114 22:13:20 UTC");
        assert_eq!(super::short_label(1_700_000_000.7), "1114 22:13");
    }

    #[test]
    fn times_out_of_any_calendar_do_not_panic() {
        for t in [f64::NAN, f64::INFINITY, -1e300, 1e300, 9.3e18] {
            assert_eq!(super::short_label(t), "?");
            let _ = super::utc_label(t);
        }
    }
}

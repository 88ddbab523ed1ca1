//! A detector that keeps failing raises its own event.
//!
//! An alarm whose upstream is down stays quiet exactly when it matters:
//! its detector fails, nothing is cleared, nothing is sent, and the error
//! sits in a run record nobody reads. So the engine keeps each alarm's
//! failing streak (when it began, how many ticks in a row, the last
//! error), and once the detector has failed on every tick for the alarm's
//! `detector_failing_after_minutes`, hands reconcile one more detection,
//! keyed [`DETECTOR_FAILING_KEY`]. From there it is an event like any
//! other: created, mailed in the alarm's bundle, renotified by the window,
//! and cleared (with a RESOLVED line under `notify_on_clear`) on the first
//! tick the detector succeeds again.
//!
//! Pure: no clock, no I/O. The streak is stored by `store::health`.

use alarms::Detection;
use serde_json::json;

use crate::time;

/// The dedupe key of the event a failing detector raises.
pub(crate) const DETECTOR_FAILING_KEY: &str = "detector_failing";

/// Minutes of failing on every tick before the event fires, by default.
pub(crate) const DEFAULT_AFTER_MINUTES: f64 = 30.0;

/// An alarm's run of consecutive failed ticks.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Streak {
    /// Unix seconds of the first failed tick of the run.
    pub since: f64,
    /// Failed ticks in a row, this one included.
    pub failures: i64,
    /// The latest error, its causes joined by `: `.
    pub last_error: String,
}

/// The streak after this tick: `failure` is this tick's error, `None`
/// when the detector succeeded (which ends any streak).
pub(crate) fn next_streak(
    previous: Option<&Streak>,
    failure: Option<&str>,
    now: f64,
) -> Option<Streak> {
    let error = failure?;
    Some(Streak {
        since: previous.map_or(now, |p| p.since),
        failures: previous.map_or(0, |p| p.failures) + 1,
        last_error: error.to_owned(),
    })
}

/// The `detector_failing` detection, when the streak has lasted the
/// alarm's threshold (`after_seconds`; 0 = never).
pub(crate) fn detection(
    alarm_entry_id: &str,
    detector: &str,
    streak: &Streak,
    after_seconds: f64,
    now: f64,
) -> Option<Detection> {
    if after_seconds <= 0.0 || now - streak.since < after_seconds {
        return None;
    }
    let since = time::utc_label(streak.since);
    let first_line = streak.last_error.lines().next().unwrap_or("").trim();
    let mut detection = Detection::new(
        DETECTOR_FAILING_KEY,
        format!(
            "Detector {detector} failing since {since}: {}",
            cut(first_line, 120)
        ),
        format!(
            "The detector {detector} of {alarm_entry_id} has failed on every tick since {since} \
             ({} tick(s) in a row).\nLast error: {}\n\
             Until it succeeds again, the alarm's other events are neither cleared nor sent.",
            streak.failures, streak.last_error
        ),
    );
    // The threshold already was the wait: no notify_after_minutes on top.
    detection.notify_after_minutes = Some(0.0);
    detection.extra.insert("detector".into(), json!(detector));
    detection
        .extra
        .insert("failing_since".into(), json!(streak.since));
    detection
        .extra
        .insert("consecutive_failures".into(), json!(streak.failures));
    detection
        .extra
        .insert("last_error".into(), json!(streak.last_error));
    Some(detection)
}

fn cut(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: f64 = 1_800_000_000.0;
    const MIN: f64 = 60.0;

    #[test]
    fn a_streak_starts_grows_and_ends() {
        let first = next_streak(None, Some("refused"), NOW).expect("failing");
        assert_eq!((first.since, first.failures), (NOW, 1));
        let second =
            next_streak(Some(&first), Some("timed out"), NOW + 5.0 * MIN).expect("failing");
        assert_eq!((second.since, second.failures), (NOW, 2));
        assert_eq!(second.last_error, "timed out");
        assert_eq!(next_streak(Some(&second), None, NOW + 10.0 * MIN), None);
    }

    #[test]
    fn the_event_waits_for_the_threshold_and_zero_turns_it_off() {
        let streak = Streak {
            since: NOW - 30.0 * MIN,
            failures: 7,
            last_error: "detector static_list failed: asked to fail\nmore".into(),
        };
        // (threshold minutes, fires?)
        for (after, fires) in [
            (30.0, true),
            (29.5, true),
            (30.5, false),
            (0.0, false),
            (600.0, false),
        ] {
            let got = detection("alarm_x", "static_list", &streak, after * MIN, NOW);
            assert_eq!(got.is_some(), fires, "after {after} min");
        }
        let d = detection("alarm_x", "static_list", &streak, 30.0 * MIN, NOW).expect("fires");
        assert_eq!(d.dedupe_key, DETECTOR_FAILING_KEY);
        assert!(
            d.subject.starts_with("Detector static_list failing since "),
            "{}",
            d.subject
        );
        assert!(
            d.subject
                .ends_with(": detector static_list failed: asked to fail"),
            "{}",
            d.subject
        );
        assert!(d.body.contains("7 tick(s) in a row"), "{}", d.body);
        assert_eq!(d.extra["consecutive_failures"], 7);
        assert_eq!(d.notify_after_minutes, Some(0.0));
    }
}

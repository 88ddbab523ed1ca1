//! The Prometheus textfile: after every run, what the tick did in the text
//! exposition format, for node_exporter's textfile collector.
//!
//! Written by `swf-alarms run` after the tick returns, whatever became of
//! it: a tick that ran, one locked out by another (or stuck) session, and
//! one that could not start all refresh the file, so a scrape always says
//! when the engine last tried. The file is replaced atomically (written
//! beside it, then renamed), so the collector never reads half a file.

use std::{
    fmt::Write as _,
    io::Write as _,
    path::{Path, PathBuf},
};

use crate::tick::TickSummary;

const LAST_SUCCESS: &str = "swf_alarms_last_success_timestamp_seconds";
const LAST_TICK: &str = "swf_alarms_last_tick_timestamp_seconds";

/// What became of one `run`.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Attempt<'a> {
    /// The tick ran (some alarms may have failed).
    Ran(&'a TickSummary),
    /// Another session holds the tick lock; `stuck` past `engine.stuck_after`.
    LockedOut { stuck: bool },
    /// Nothing was done: database unreachable, migrations pending, …
    DidNotRun,
}

/// Escapes a label value per the exposition format.
fn label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// A value of the previous file, carried over a run that did not renew it.
fn previous(path: &Path, metric: &str) -> Option<f64> {
    std::fs::read_to_string(path).ok()?.lines().find_map(|l| {
        l.strip_prefix(metric)?
            .strip_prefix(' ')?
            .trim()
            .parse()
            .ok()
    })
}

/// Times carried from one file to the next.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Carried {
    /// When the last tick that ran finished.
    pub last_tick: Option<f64>,
    /// When the last tick in which every alarm ran finished.
    pub last_success: Option<f64>,
}

/// The exposition text for one run, finished at `now`.
pub(crate) fn render(attempt: Attempt<'_>, now: f64, carried: Carried) -> String {
    let mut out = String::new();
    let mut gauge = |name: &str, help: &str, value: f64| {
        let _ = writeln!(
            out,
            "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}"
        );
    };
    gauge(
        "swf_alarms_last_attempt_timestamp_seconds",
        "When `swf-alarms run` last finished, whatever the outcome (Unix seconds).",
        now,
    );
    let (ran, locked_out, stuck) = match attempt {
        Attempt::Ran(_) => (1.0, 0.0, 0.0),
        Attempt::LockedOut { stuck } => (0.0, 1.0, f64::from(u8::from(stuck))),
        Attempt::DidNotRun => (0.0, 0.0, 0.0),
    };
    gauge(
        "swf_alarms_last_attempt_ran",
        "1 when the last run ticked; 0 when it was locked out or could not start.",
        ran,
    );
    gauge(
        "swf_alarms_last_attempt_locked_out",
        "1 when the last run found another session holding the tick lock.",
        locked_out,
    );
    gauge(
        "swf_alarms_tick_stuck",
        "1 when the tick lock has been held longer than engine.stuck_after.",
        stuck,
    );
    if let Some(t) = carried.last_tick {
        gauge(
            LAST_TICK,
            "When the last tick that ran finished (Unix seconds).",
            t,
        );
    }
    if let Some(t) = carried.last_success {
        gauge(
            LAST_SUCCESS,
            "When the last tick in which every alarm ran finished (Unix seconds).",
            t,
        );
    }
    let Attempt::Ran(summary) = attempt else {
        return out;
    };
    gauge(
        "swf_alarms_tick_duration_seconds",
        "Wall time of the last tick.",
        summary.duration.as_secs_f64(),
    );
    gauge(
        "swf_alarms_alarms_run",
        "Alarms whose detector ran in the last tick.",
        summary.alarms_run as f64,
    );
    gauge(
        "swf_alarms_alarms_errored",
        "Alarms that failed in the last tick.",
        summary.alarms_errored as f64,
    );
    gauge(
        "swf_alarms_detections",
        "Distinct detections in the last tick.",
        summary.detections as f64,
    );
    gauge(
        "swf_alarms_events_created",
        "Events created in the last tick.",
        summary.new_events as f64,
    );
    gauge(
        "swf_alarms_events_cleared",
        "Events cleared in the last tick.",
        summary.cleared as f64,
    );
    gauge(
        "swf_alarms_emails_sent",
        "Emails sent in the last tick.",
        summary.emails_sent as f64,
    );
    gauge(
        "swf_alarms_emails_failed",
        "Emails that failed to send in the last tick.",
        summary.emails_failed as f64,
    );
    let _ = writeln!(
        out,
        "# HELP swf_alarms_active_events Active events per alarm after the last tick.\n\
         # TYPE swf_alarms_active_events gauge"
    );
    for (alarm, count) in &summary.active_events {
        let _ = writeln!(
            out,
            "swf_alarms_active_events{{alarm=\"{}\"}} {count}",
            label(alarm)
        );
    }
    let _ = writeln!(
        out,
        "# HELP swf_alarms_alarm_failing Whether the alarm's detector failed in the last tick (1) or not (0).\n\
         # TYPE swf_alarms_alarm_failing gauge"
    );
    for (alarm, failures) in &summary.consecutive_failures {
        let _ = writeln!(
            out,
            "swf_alarms_alarm_failing{{alarm=\"{}\"}} {}",
            label(alarm),
            u8::from(*failures > 0)
        );
    }
    let _ = writeln!(
        out,
        "# HELP swf_alarms_alarm_consecutive_failures Ticks in a row in which the alarm's detector failed.\n\
         # TYPE swf_alarms_alarm_consecutive_failures gauge"
    );
    for (alarm, failures) in &summary.consecutive_failures {
        let _ = writeln!(
            out,
            "swf_alarms_alarm_consecutive_failures{{alarm=\"{}\"}} {failures}",
            label(alarm)
        );
    }
    out
}

/// Writes the textfile for this run, replacing the old one atomically.
pub(crate) fn write(path: &Path, attempt: Attempt<'_>, now: f64) -> std::io::Result<()> {
    let mut carried = Carried {
        last_tick: previous(path, LAST_TICK),
        last_success: previous(path, LAST_SUCCESS),
    };
    if let Attempt::Ran(summary) = attempt {
        carried.last_tick = Some(now);
        if !summary.failed() {
            carried.last_success = Some(now);
        }
    }
    let text = render(attempt, now, carried);
    let mut tmp = PathBuf::from(path);
    tmp.set_file_name(format!(
        ".{}.{}.tmp",
        path.file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("swf_alarms.prom"),
        std::process::id()
    ));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(text.as_bytes())?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_escaped_and_every_sample_has_a_type() {
        let summary = TickSummary {
            active_events: vec![("alarm_\"x\"\n".into(), 3)],
            consecutive_failures: vec![("alarm_a".into(), 0), ("alarm_b".into(), 4)],
            ..TickSummary::default()
        };
        let carried = Carried {
            last_tick: Some(10.0),
            last_success: Some(9.0),
        };
        let text = render(Attempt::Ran(&summary), 10.0, carried);
        assert!(
            text.contains("swf_alarms_active_events{alarm=\"alarm_\\\"x\\\"\\n\"} 3"),
            "{text}"
        );
        assert!(text.contains("swf_alarms_last_success_timestamp_seconds 9"));
        assert!(text.contains("swf_alarms_alarm_failing{alarm=\"alarm_a\"} 0\n"));
        assert!(text.contains("swf_alarms_alarm_failing{alarm=\"alarm_b\"} 1\n"));
        assert!(text.contains("swf_alarms_alarm_consecutive_failures{alarm=\"alarm_b\"} 4\n"));
        let mut typed = std::collections::HashSet::new();
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                typed.insert(rest.split(' ').next().unwrap_or_default().to_owned());
            } else if !line.starts_with('#') {
                let name = line.split(['{', ' ']).next().unwrap_or_default();
                assert!(typed.contains(name), "{name} has no TYPE line");
            }
        }
    }

    #[test]
    fn a_run_that_did_not_tick_keeps_the_last_tick_times() {
        let carried = Carried {
            last_tick: Some(5.0),
            last_success: Some(4.0),
        };
        let text = render(Attempt::LockedOut { stuck: true }, 10.0, carried);
        assert!(text.contains("swf_alarms_tick_stuck 1"), "{text}");
        assert!(
            text.contains("swf_alarms_last_tick_timestamp_seconds 5"),
            "{text}"
        );
        assert!(
            text.contains("swf_alarms_last_attempt_timestamp_seconds 10"),
            "{text}"
        );
        assert!(!text.contains("swf_alarms_alarms_run"), "{text}");
    }
}

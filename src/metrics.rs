//! The Prometheus textfile: after every tick, the tick's numbers in the
//! text exposition format, for node_exporter's textfile collector.
//!
//! The file is replaced atomically (written beside it, then renamed), so
//! the collector never reads half a file.

use std::{
    fmt::Write as _,
    io::Write as _,
    path::{Path, PathBuf},
};

use crate::tick::TickSummary;

const LAST_SUCCESS: &str = "swf_alarms_last_success_timestamp_seconds";

/// Escapes a label value per the exposition format.
fn label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// The previous file's last-success time, carried over a failed tick.
fn previous_success(path: &Path) -> Option<f64> {
    std::fs::read_to_string(path)
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix(LAST_SUCCESS)?.trim().parse().ok())
}

/// The exposition text for one tick.
pub(crate) fn render(summary: &TickSummary, finished_at: f64, last_success: Option<f64>) -> String {
    let mut out = String::new();
    let mut gauge = |name: &str, help: &str, value: f64| {
        let _ = writeln!(
            out,
            "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}"
        );
    };
    gauge(
        "swf_alarms_tick_duration_seconds",
        "Wall time of the last tick.",
        summary.duration.as_secs_f64(),
    );
    gauge(
        "swf_alarms_last_tick_timestamp_seconds",
        "When the last tick finished (Unix seconds).",
        finished_at,
    );
    if let Some(t) = last_success {
        gauge(
            LAST_SUCCESS,
            "When the last tick in which every alarm ran finished (Unix seconds).",
            t,
        );
    }
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

/// Writes the textfile for this tick, replacing the old one atomically.
pub(crate) fn write(path: &Path, summary: &TickSummary, finished_at: f64) -> std::io::Result<()> {
    let last_success = if !summary.failed() {
        Some(finished_at)
    } else {
        previous_success(path)
    };
    let text = render(summary, finished_at, last_success);
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
        let text = render(&summary, 10.0, Some(9.0));
        assert!(
            text.contains("swf_alarms_active_events{alarm=\"alarm_\\\"x\\\"\\n\"} 3"),
            "{text}"
        );
        assert!(text.contains("swf_alarms_last_success_timestamp_seconds 9"));
        assert!(text.contains("swf_alarms_alarm_failing{alarm=\"alarm_a\"} 0\n"));
        assert!(text.contains("swf_alarms_alarm_failing{alarm=\"alarm_b\"} 1\n"));
        assert!(text.contains("swf_alarms_alarm_consecutive_failures{alarm=\"alarm_b\"} 4\n"));
    }
}

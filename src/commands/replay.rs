//! `swf-alarms replay <alarm> --from TIME --to TIME`: the timeline an
//! alarm would have had over recorded history (see `crate::replay`).
//! Reads the alarm row and the day files; writes and sends nothing.

use std::{path::PathBuf, process::ExitCode};

use anyhow::{anyhow, Context};
use chrono::{DateTime, NaiveDate, NaiveDateTime};

use crate::{
    config::Config,
    replay::{self, utc, ReplayReport, ReplayRequest},
};

/// The command's arguments, as given.
#[derive(Debug, Clone)]
pub(crate) struct ReplayArgs {
    pub alarm: String,
    pub from: String,
    pub to: String,
    pub params: Option<String>,
    pub snapshot_dir: Option<PathBuf>,
    pub json: bool,
}

pub(crate) async fn run(config: &Config, args: &ReplayArgs) -> anyhow::Result<ExitCode> {
    let params = match &args.params {
        Some(text) => Some(serde_json::from_str(text).context("--params is not valid JSON")?),
        None => None,
    };
    let request = ReplayRequest {
        alarm: args.alarm.clone(),
        from: parse_time(&args.from).map_err(|e| anyhow!("--from: {e}"))?,
        to: parse_time(&args.to).map_err(|e| anyhow!("--to: {e}"))?,
        params,
        snapshot_dir: args.snapshot_dir.clone(),
    };
    let report = replay::replay(config, &request).await?;
    if args.json {
        say!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_text(&report);
    }
    Ok(ExitCode::SUCCESS)
}

/// A time on the command line, in UTC: RFC 3339 (`2026-08-21T14:00:00Z`),
/// `YYYY-MM-DD HH:MM[:SS]` or `YYYY-MM-DDTHH:MM[:SS]`, or a date
/// (`YYYY-MM-DD`, its midnight).
pub(crate) fn parse_time(text: &str) -> Result<f64, String> {
    let text = text.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Ok(t.timestamp() as f64 + f64::from(t.timestamp_subsec_micros()) / 1e6);
    }
    for format in [
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%d %H:%M",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%dT%H:%M",
    ] {
        if let Ok(t) = NaiveDateTime::parse_from_str(text, format) {
            return Ok(t.and_utc().timestamp() as f64);
        }
    }
    if let Ok(d) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        if let Some(t) = d.and_hms_opt(0, 0, 0) {
            return Ok(t.and_utc().timestamp() as f64);
        }
    }
    Err(format!(
        "{text:?} is not a time; write 2026-08-21T14:00:00Z, 2026-08-21 14:00 (UTC) or 2026-08-21"
    ))
}

fn print_text(r: &ReplayReport) {
    say!(
        "{}: detector {} replayed over {} snapshot(s) from {}",
        r.alarm,
        r.detector,
        r.snapshots,
        r.snapshot_dir
    );
    say!("  window {} .. {}", utc(r.from), utc(r.to));
    if let (Some(first), Some(last)) = (r.first_snapshot, r.last_snapshot) {
        say!("  records {} .. {}", utc(first), utc(last));
    }
    say!("  params {}", r.params);
    if !r.enabled {
        say!("  (the alarm is disabled: shown as if it were enabled)");
    }
    for torn in &r.torn_lines {
        say!(
            "  skipped {}:{}: not a complete record",
            torn.file,
            torn.line
        );
    }
    for gap in &r.gaps {
        say!(
            "  gap: no record from {} to {} ({:.0} min)",
            utc(gap.after),
            utc(gap.before),
            (gap.before - gap.after) / 60.0
        );
    }
    say!("\nTimeline:");
    if r.timeline.is_empty() {
        say!("  nothing fired");
    }
    for step in &r.timeline {
        say!(
            "  {}  {:<10}  {}  {}",
            utc(step.time),
            step.action.label(),
            step.dedupe_key,
            step.subject
        );
    }
    if !r.detector_failures.is_empty() {
        say!(
            "\nThe detector failed on {} snapshot(s) (nothing cleared there); first at {}: {}",
            r.detector_failures.len(),
            utc(r.detector_failures[0].time),
            r.detector_failures[0].error
        );
    }
    say!("\nEmails: {}", r.emails.len());
    for email in &r.emails {
        say!("  {}  {}", utc(email.time), email.subject);
    }
    say!("\nEmails per day:");
    for (day, n) in &r.emails_per_day {
        say!("  {day}  {n}");
    }
    if !r.still_active.is_empty() {
        say!("\nStill active at the end: {}", r.still_active.join(", "));
    }
    say!("\nNothing was written and nothing was sent.");
}

#[cfg(test)]
mod tests {
    use super::parse_time;

    #[test]
    fn times_in_every_accepted_form() {
        let t = 1_787_306_400.0; // 2026-08-21T10:00:00Z
        for text in [
            "2026-08-21T10:00:00Z",
            "2026-08-21T12:00:00+02:00",
            "2026-08-21 10:00",
            "2026-08-21 10:00:00",
            "2026-08-21T10:00",
        ] {
            assert_eq!(parse_time(text), Ok(t), "{text}");
        }
        assert_eq!(parse_time("2026-08-21"), Ok(t - 10.0 * 3600.0));
        assert!(parse_time("yesterday").is_err());
        assert!(parse_time("2026-13-01").is_err());
    }
}

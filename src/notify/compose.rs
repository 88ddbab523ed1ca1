//! Composing the one email an alarm sends per tick.
//!
//! Pure text layout: the subject counts the detections, the body starts
//! with the alarm's description and lists the NEW and CONTINUING events
//! with their subject and indented body. The layout is the old engine's,
//! which its recipients know. A section lists at most
//! [`Limits::max_per_section`] events and then says how many more there
//! are and where the full list is, as Alertmanager truncates its
//! notifications: ten thousand detections make one readable email.

use std::fmt::Write;

use crate::reconcile::{BundleItem, ResolvedItem};

use super::header_text;

/// Longest subject we send, in characters; mail clients cut long ones anyway.
const MAX_SUBJECT_CHARS: usize = 200;

/// The subject and body of one alarm's bundle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Bundle {
    pub subject: String,
    pub body: String,
}

/// How much of a bundle one email lists.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits<'a> {
    /// Events listed per section; the rest are counted.
    pub max_per_section: usize,
    /// Where every event of the bundle is listed (a URL, or words naming
    /// the dashboard page).
    pub full_list: &'a str,
}

/// The link to the dashboard's report of one alarm in one run (it lists
/// the whole bundle), or words naming it when the monitor's base URL is
/// not configured.
pub(crate) fn run_report(base_url: Option<&str>, run_id: &str, alarm_entry_id: &str) -> String {
    match base_url {
        Some(base) => format!("{base}/alarms/runs/{run_id}/{alarm_entry_id}/"),
        None => format!("the dashboard's report of engine run {run_id}"),
    }
}

/// Lays out the email for one alarm's NEW, CONTINUING and RESOLVED events.
pub(crate) fn compose(
    alarm_entry_id: &str,
    description: &str,
    new: &[BundleItem<'_>],
    renotify: &[BundleItem<'_>],
    resolved: &[ResolvedItem],
    limits: Limits<'_>,
) -> Bundle {
    let firing = new.len() + renotify.len();
    let mut counts = Vec::new();
    if firing > 0 || resolved.is_empty() {
        counts.push(format!("{firing} detection(s)"));
    }
    if !new.is_empty() {
        counts.push(format!("{} new", new.len()));
    }
    if !renotify.is_empty() {
        counts.push(format!("{} continuing", renotify.len()));
    }
    if !resolved.is_empty() {
        counts.push(format!("{} resolved", resolved.len()));
    }
    let subject = header_text(
        &format!("[{alarm_entry_id}] {}", counts.join(", ")),
        MAX_SUBJECT_CHARS,
    );

    let mut body = String::new();
    let description = description.trim_end();
    if !description.is_empty() {
        body.push_str(description);
        body.push_str("\n\n---\n\n");
    }
    section(&mut body, &format!("NEW ({}):", new.len()), new, limits);
    section(
        &mut body,
        &format!("CONTINUING — renotification ({}):", renotify.len()),
        renotify,
        limits,
    );
    if !resolved.is_empty() {
        let _ = writeln!(body, "RESOLVED ({}):\n", resolved.len());
        for (i, item) in resolved.iter().take(limits.max_per_section).enumerate() {
            let _ = writeln!(body, "  [{}] {}", i + 1, item.subject);
            if item.dedupe_key == crate::failing::DETECTOR_FAILING_KEY {
                let _ = writeln!(body, "      (the detector runs again)\n");
            } else {
                let _ = writeln!(body, "      ({} is no longer detected)\n", item.dedupe_key);
            }
        }
        more(&mut body, resolved.len(), limits);
        body.push('\n');
    }
    // One newline at the end, as the old engine's emails have.
    body.truncate(body.trim_end().len());
    body.push('\n');
    Bundle { subject, body }
}

fn section(out: &mut String, header: &str, items: &[BundleItem<'_>], limits: Limits<'_>) {
    if items.is_empty() {
        return;
    }
    out.push_str(header);
    out.push_str("\n\n");
    for (i, item) in items.iter().take(limits.max_per_section).enumerate() {
        // Writing to a String cannot fail.
        let _ = writeln!(out, "  [{}] {}", i + 1, item.detection.subject);
        for line in item.detection.body.lines() {
            let _ = writeln!(out, "      {line}");
        }
        out.push('\n');
    }
    more(out, items.len(), limits);
    out.push('\n');
}

/// The closing line of a section cut at `limits.max_per_section`.
fn more(out: &mut String, total: usize, limits: Limits<'_>) {
    if total > limits.max_per_section {
        let _ = writeln!(
            out,
            "  ... and {} more not listed here; all {total} are on {}\n",
            total - limits.max_per_section,
            limits.full_list
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reconcile::Reason;
    use alarms::Detection;

    const UNLIMITED: Limits<'static> = Limits {
        max_per_section: 200,
        full_list: "http://dash/alarms/runs/r/alarm_x/",
    };

    fn item(d: &Detection, reason: Reason) -> BundleItem<'_> {
        BundleItem {
            event_id: format!("id-{}", d.dedupe_key),
            detection: d,
            reason,
        }
    }

    #[test]
    fn layout_with_both_sections() {
        let a = Detection::new("task:1", "Task 1 failing at 12%", "owner: alice\nsite: BNL");
        let b = Detection::new("task:2", "Task 2 failing at 5%", "");
        let c = Detection::new("task:3", "Task 3 failing at 4%", "owner: carol");
        let bundle = compose(
            "alarm_demo",
            "Watch the demo tasks.\n",
            &[item(&a, Reason::New), item(&b, Reason::New)],
            &[item(&c, Reason::WindowElapsed)],
            &[],
            UNLIMITED,
        );
        assert_eq!(
            bundle.subject,
            "[alarm_demo] 3 detection(s), 2 new, 1 continuing"
        );
        let want = "Watch the demo tasks.\n\n---\n\n\
NEW (2):\n\n  [1] Task 1 failing at 12%\n      owner: alice\n      site: BNL\n\n  [2] Task 2 failing at 5%\n\n\n\
CONTINUING — renotification (1):\n\n  [1] Task 3 failing at 4%\n      owner: carol\n";
        assert_eq!(bundle.body, want);
    }

    #[test]
    fn only_continuing_and_no_description() {
        let c = Detection::new("k", "Still bad", "x");
        let bundle = compose(
            "alarm_x",
            "  ",
            &[],
            &[item(&c, Reason::NeverNotified)],
            &[],
            UNLIMITED,
        );
        assert_eq!(bundle.subject, "[alarm_x] 1 detection(s), 1 continuing");
        assert!(bundle
            .body
            .starts_with("CONTINUING — renotification (1):\n"));
        assert!(!bundle.body.contains("NEW"));
    }

    #[test]
    fn resolved_section_and_subject() {
        let a = Detection::new("storage:aurora_root", "Aurora root disk at 96%", "");
        let resolved = [ResolvedItem {
            event_id: "ev-9".into(),
            dedupe_key: "power:battery_soc".into(),
            subject: "Battery SOC at 37.6%".into(),
        }];
        let bundle = compose(
            "alarm_ops",
            "",
            &[item(&a, Reason::New)],
            &[],
            &resolved,
            UNLIMITED,
        );
        assert_eq!(
            bundle.subject,
            "[alarm_ops] 1 detection(s), 1 new, 1 resolved"
        );
        assert!(bundle.body.ends_with(
            "RESOLVED (1):\n\n  [1] Battery SOC at 37.6%\n      (power:battery_soc is no longer detected)\n"
        ), "{}", bundle.body);
        let only = compose("alarm_ops", "", &[], &[], &resolved, UNLIMITED);
        assert_eq!(only.subject, "[alarm_ops] 1 resolved");
    }

    #[test]
    fn a_long_section_is_cut_and_says_how_many_more_and_where() {
        let detections: Vec<Detection> = (1..=5)
            .map(|i| Detection::new(format!("task:{i}"), format!("Task {i}"), ""))
            .collect();
        let items: Vec<BundleItem> = detections.iter().map(|d| item(d, Reason::New)).collect();
        let link = run_report(Some("https://mon.example/swf-monitor"), "run-1", "alarm_x");
        let limits = Limits {
            max_per_section: 2,
            full_list: &link,
        };
        let bundle = compose("alarm_x", "", &items, &items[3..], &[], limits);
        assert_eq!(
            bundle.subject,
            "[alarm_x] 7 detection(s), 5 new, 2 continuing"
        );
        assert_eq!(
            bundle.body,
            "NEW (5):\n\n  [1] Task 1\n\n  [2] Task 2\n\n  \
             ... and 3 more not listed here; all 5 are on https://mon.example/swf-monitor/alarms/runs/run-1/alarm_x/\n\n\n\
             CONTINUING — renotification (2):\n\n  [1] Task 4\n\n  [2] Task 5\n"
        );
        assert_eq!(
            run_report(None, "run-1", "alarm_x"),
            "the dashboard's report of engine run run-1"
        );
    }
}

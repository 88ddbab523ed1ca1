//! The status page as one self-contained HTML document: inline CSS and
//! SVG, no script, no external asset, a 60 s refresh. Pure: a
//! [`Snapshot`] in, a string out. Every string that came from outside
//! (subjects, descriptions, errors, alarm and target names) goes through
//! [`escape`].

use std::fmt::Write as _;

use super::model::{AlarmState, AlarmView, Snapshot, TickView, UptimeRow};
use crate::time;

/// How many active events are listed per alarm; the rest are counted.
pub(crate) const EVENTS_LISTED: usize = 50;

/// Text made safe for HTML element content and quoted attribute values.
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A duration in words a person reads at a glance: `45 s`, `12 min`,
/// `3.5 h`, `2.1 d`.
pub(crate) fn age(seconds: f64) -> String {
    if !seconds.is_finite() {
        return "?".into();
    }
    let s = seconds.max(0.0);
    if s < 60.0 {
        format!("{s:.0} s")
    } else if s < 3600.0 {
        format!("{:.0} min", s / 60.0)
    } else if s < 86_400.0 {
        format!("{:.1} h", s / 3600.0)
    } else {
        format!("{:.1} d", s / 86_400.0)
    }
}

fn when(now: f64, t: Option<f64>) -> String {
    match t {
        Some(t) => format!("{} ({} ago)", time::utc_label(t), age(now - t)),
        None => "never".into(),
    }
}

fn ago(now: f64, t: Option<f64>) -> String {
    t.map(|t| age(now - t)).unwrap_or_else(|| "-".into())
}

const STYLE: &str = "body{font:14px/1.4 sans-serif;margin:1em 2em;color:#222;background:#fff}\
table{border-collapse:collapse;margin:.5em 0 1.5em}\
td,th{border:1px solid #ccc;padding:2px 8px;text-align:left;vertical-align:top}\
th{background:#eee}.num{text-align:right}\
.ok{color:#1a7f37}.firing{color:#b35900;font-weight:bold}.failing{color:#c00;font-weight:bold}\
.muted{color:#777}.banner{padding:.6em 1em;border-radius:4px;margin-bottom:1em}\
.banner.good{background:#dff5e1}.banner.stale{background:#c00;color:#fff}\
details{margin:.2em 0}pre{white-space:pre-wrap;margin:0}\
svg{vertical-align:middle}";

/// Renders the whole page.
pub(crate) fn render(s: &Snapshot) -> String {
    let mut html = String::with_capacity(64 * 1024);
    html.push_str("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n");
    html.push_str("<meta http-equiv=\"refresh\" content=\"60\">\n");
    html.push_str("<meta name=\"viewport\" content=\"width=device-width\">\n");
    html.push_str("<title>swf-alarms status</title>\n<style>");
    html.push_str(STYLE);
    html.push_str("</style></head><body>\n<h1>swf-alarms status</h1>\n");
    engine(&mut html, s);
    alarms(&mut html, s);
    uptime(&mut html, &s.uptime);
    ticks(&mut html, &s.ticks);
    let _ = writeln!(
        html,
        "<p class=\"muted\">Written {}. The page reloads every minute.</p>\n</body></html>",
        time::utc_label(s.now)
    );
    html
}

/// Whether the last tick is older than two intervals (or there is none).
pub(crate) fn is_stale(s: &Snapshot) -> bool {
    s.engine
        .last_tick
        .is_none_or(|t| s.now - t > 2.0 * s.interval)
}

fn engine(html: &mut String, s: &Snapshot) {
    let e = &s.engine;
    let stale = is_stale(s);
    let _ = write!(
        html,
        "<div id=\"engine\" class=\"banner {}\"><b>Engine:</b> {}<br>Last tick: {}<br>Last clean tick: {}",
        if stale { "stale" } else { "good" },
        if stale {
            format!(
                "STALE: no tick for more than {} (two intervals)",
                age(2.0 * s.interval)
            )
        } else {
            "ticking".into()
        },
        when(s.now, e.last_tick),
        when(s.now, e.last_clean_tick),
    );
    if let Some(note) = &e.note {
        let _ = write!(html, "<br>This run: {}", escape(note));
    }
    if !e.errors.is_empty() {
        html.push_str("<br>Errors in the last tick:<pre>");
        html.push_str(&escape(&e.errors));
        html.push_str("</pre>");
    }
    html.push_str("</div>\n");
}

fn state_cell(a: &AlarmView) -> (String, &'static str) {
    match &a.state {
        AlarmState::Ok => ("ok".into(), "ok"),
        AlarmState::Firing(n) => (format!("firing ({n})"), "firing"),
        AlarmState::Failing { since, error } => (
            format!(
                "failing since {}: {}",
                time::utc_label(*since),
                escape(error)
            ),
            "failing",
        ),
        AlarmState::Silenced(why) => (format!("silenced: {}", escape(why)), "muted"),
        AlarmState::Disabled => ("disabled".into(), "muted"),
        AlarmState::Unreadable(why) => (format!("unreadable: {}", escape(why)), "failing"),
    }
}

fn alarms(html: &mut String, s: &Snapshot) {
    html.push_str("<h2>Alarms</h2>\n<table id=\"alarms\"><tr><th>Alarm</th><th>State</th><th>Active</th><th>Oldest active</th><th>Last notified</th><th>Last 7 days</th></tr>\n");
    for a in &s.alarms {
        let (state, class) = state_cell(a);
        let _ = write!(
            html,
            "<tr><td title=\"{desc}\">{name}</td><td class=\"{class}\">{state}</td><td class=\"num\">{n}</td><td>{oldest}</td><td>{notified}</td><td>",
            desc = escape(&a.description),
            name = escape(&a.entry_id),
            n = a.active_count,
            oldest = ago(s.now, a.oldest_fire_time),
            notified = ago(s.now, a.last_notified),
        );
        sparkline(html, &a.sparkline, s.now);
        html.push_str("</td></tr>\n");
    }
    html.push_str("</table>\n");
    for a in s.alarms.iter().filter(|a| a.active_count > 0) {
        let _ = writeln!(
            html,
            "<details class=\"events\"><summary>{} — {} active event(s)</summary>\n<table><tr><th>Subject</th><th>Age</th><th>Last notified</th></tr>",
            escape(&a.entry_id),
            a.active_count
        );
        for e in a.events.iter().take(EVENTS_LISTED) {
            let _ = writeln!(
                html,
                "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
                escape(&e.subject),
                ago(s.now, Some(e.fire_time)),
                ago(s.now, e.last_notified),
            );
        }
        let listed = a.events.len().min(EVENTS_LISTED);
        if a.active_count > listed {
            let _ = writeln!(
                html,
                "<tr><td colspan=\"3\">and {} more</td></tr>",
                a.active_count - listed
            );
        }
        html.push_str("</table></details>\n");
    }
}

/// Width and height of a sparkline, in pixels.
const SPARK_W: f64 = 168.0;
const SPARK_H: f64 = 20.0;
const WEEK: f64 = 7.0 * 86_400.0;

/// A polyline of (time, count) over the last week, scaled to its own
/// maximum; the maximum is stated in the SVG's title.
fn sparkline(html: &mut String, points: &[(f64, f64)], now: f64) {
    let max = points.iter().map(|p| p.1).fold(0.0_f64, f64::max);
    let _ = write!(
        html,
        "<svg width=\"{SPARK_W}\" height=\"{SPARK_H}\" viewBox=\"0 0 {SPARK_W} {SPARK_H}\" role=\"img\"><title>max {max} over 7 days</title>"
    );
    if points.is_empty() {
        html.push_str("</svg>");
        return;
    }
    let scale = if max > 0.0 {
        (SPARK_H - 2.0) / max
    } else {
        0.0
    };
    html.push_str("<polyline fill=\"none\" stroke=\"#b35900\" stroke-width=\"1\" points=\"");
    for (t, v) in points {
        let x = ((t - (now - WEEK)) / WEEK * SPARK_W).clamp(0.0, SPARK_W);
        let y = SPARK_H - 1.0 - v * scale;
        let _ = write!(html, "{x:.1},{y:.1} ");
    }
    html.push_str("\"/></svg>");
}

fn percent(fraction: f64) -> String {
    format!("{:.2} %", fraction * 100.0)
}

fn uptime(html: &mut String, rows: &[UptimeRow]) {
    html.push_str("<h2>Uptime</h2>\n");
    if rows.is_empty() {
        html.push_str("<p class=\"muted\">No probe or ops alarms.</p>\n");
        return;
    }
    html.push_str("<table id=\"uptime\"><tr><th>Alarm</th><th>Target</th><th>Now</th><th>24 h</th><th>7 days</th></tr>\n");
    for r in rows {
        let _ = writeln!(
            html,
            "<tr><td>{}</td><td>{}</td><td class=\"{}\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
            escape(&r.alarm),
            escape(&r.target),
            if r.down_now { "failing" } else { "ok" },
            if r.down_now { "down" } else { "up" },
            percent(r.day),
            percent(r.week),
        );
    }
    html.push_str("</table>\n");
}

fn ticks(html: &mut String, ticks: &[TickView]) {
    html.push_str("<h2>Last ticks</h2>\n<table id=\"ticks\"><tr><th>Started (UTC)</th><th>Status</th><th>Duration</th><th>Detections</th><th>New</th><th>Cleared</th><th>Mails</th><th>Errors</th></tr>\n");
    for t in ticks {
        let _ = writeln!(
            html,
            "<tr><td>{}</td><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num{}\">{}</td></tr>",
            time::utc_label(t.started_at),
            escape(&t.status),
            t.finished_at
                .map(|f| format!("{:.1} s", (f - t.started_at).max(0.0)))
                .unwrap_or_else(|| "-".into()),
            t.detections,
            t.new,
            t.cleared,
            t.mails,
            if t.errors > 0 { " failing" } else { "" },
            t.errors,
        );
    }
    html.push_str("</table>\n");
}

#[cfg(test)]
mod tests {
    use super::super::model::*;
    use super::*;

    const NOW: f64 = 1_900_000_000.0;

    fn snapshot() -> Snapshot {
        Snapshot {
            now: NOW,
            interval: 300.0,
            engine: EngineView {
                last_tick: Some(NOW - 60.0),
                last_clean_tick: Some(NOW - 360.0),
                errors: String::new(),
                note: None,
            },
            alarms: vec![],
            uptime: vec![],
            ticks: vec![],
        }
    }

    fn alarm(name: &str, state: AlarmState, events: usize) -> AlarmView {
        AlarmView {
            entry_id: name.into(),
            description: format!("{name} watches"),
            state,
            active_count: events,
            oldest_fire_time: (events > 0).then_some(NOW - 7200.0),
            last_notified: None,
            events: (0..events.min(EVENTS_LISTED))
                .map(|i| EventView {
                    subject: format!("event {i}"),
                    fire_time: NOW - 7200.0,
                    last_notified: Some(NOW - 60.0),
                })
                .collect(),
            sparkline: vec![(NOW - 3600.0, 1.0), (NOW, events as f64)],
        }
    }

    #[test]
    fn escape_covers_markup_and_quotes() {
        assert_eq!(
            escape(r#"<script>alert(1)</script>"#),
            "&lt;script&gt;alert(1)&lt;/script&gt;"
        );
        assert_eq!(
            escape(r#""><img src=x onerror='x'>&"#),
            "&quot;&gt;&lt;img src=x onerror=&#39;x&#39;&gt;&amp;"
        );
    }

    #[test]
    fn hostile_strings_never_reach_the_page_as_markup() {
        let hostile = [
            "<script>alert(1)</script>",
            "\"><img src=x onerror=alert(2)>",
        ];
        let mut s = snapshot();
        let mut a = alarm(hostile[0], AlarmState::Firing(2), 2);
        a.description = hostile[1].into();
        a.events[0].subject = hostile[0].into();
        a.events[1].subject = hostile[1].into();
        s.alarms.push(a);
        s.alarms.push(alarm(
            "alarm_f",
            AlarmState::Failing {
                since: NOW - 600.0,
                error: hostile[1].into(),
            },
            0,
        ));
        s.engine.errors = hostile[0].into();
        s.engine.note = Some(hostile[1].into());
        s.uptime.push(UptimeRow {
            alarm: hostile[0].into(),
            target: hostile[1].into(),
            down_now: false,
            day: 1.0,
            week: 1.0,
        });
        s.ticks.push(TickView {
            started_at: NOW,
            finished_at: None,
            status: hostile[0].into(),
            detections: 0,
            new: 0,
            cleared: 0,
            mails: 0,
            errors: 0,
        });
        let html = render(&s);
        assert!(!html.contains("<script"), "{html}");
        assert!(!html.contains("<img"), "{html}");
        assert!(!html.contains("onerror=alert(2)>"), "{html}");
        // In the description's title attribute too.
        assert!(html.contains("title=\"&quot;&gt;&lt;img src=x onerror=alert(2)&gt;\""));
        assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    }

    #[test]
    fn the_page_is_self_contained_and_refreshes() {
        let html = render(&snapshot());
        assert!(html.contains("<meta http-equiv=\"refresh\" content=\"60\">"));
        for outside in ["<script", "src=", "href=", "url(", "@import"] {
            assert!(!html.contains(outside), "{outside} in {html}");
        }
    }

    #[test]
    fn stale_when_the_last_tick_is_older_than_two_intervals() {
        let mut s = snapshot();
        assert!(!is_stale(&s));
        assert!(render(&s).contains("banner good"));
        s.engine.last_tick = Some(NOW - 601.0);
        assert!(is_stale(&s));
        let html = render(&s);
        assert!(
            html.contains("banner stale") && html.contains("STALE"),
            "{html}"
        );
        s.engine.last_tick = None;
        assert!(is_stale(&s));
    }

    #[test]
    fn at_most_fifty_events_then_a_count_of_the_rest() {
        let mut s = snapshot();
        s.alarms
            .push(alarm("alarm_many", AlarmState::Firing(120), 120));
        let html = render(&s);
        assert_eq!(html.matches("<td>event ").count(), EVENTS_LISTED);
        assert!(html.contains("and 70 more"), "{html}");
        assert!(html.contains("firing (120)"));
    }

    #[test]
    fn every_state_has_its_words() {
        let mut s = snapshot();
        s.alarms = vec![
            alarm("alarm_ok", AlarmState::Ok, 0),
            alarm("alarm_off", AlarmState::Disabled, 0),
            alarm("alarm_sh", AlarmState::Silenced("until 10:00".into()), 1),
            alarm(
                "alarm_fail",
                AlarmState::Failing {
                    since: NOW,
                    error: "boom".into(),
                },
                0,
            ),
        ];
        let html = render(&s);
        for words in [
            ">ok<",
            ">disabled<",
            "silenced: until 10:00",
            "failing since 20300317 17:46:40 UTC: boom",
        ] {
            assert!(html.contains(words), "{words} missing");
        }
    }

    #[test]
    fn ages_read_at_a_glance() {
        assert_eq!(age(5.0), "5 s");
        assert_eq!(age(600.0), "10 min");
        assert_eq!(age(5400.0), "1.5 h");
        assert_eq!(age(2.5 * 86_400.0), "2.5 d");
        assert_eq!(age(f64::NAN), "?");
    }

    fn large() -> Snapshot {
        let mut s = snapshot();
        s.alarms = (0..100)
            .map(|i| {
                let mut a = alarm(&format!("alarm_{i:03}"), AlarmState::Firing(1000), 1000);
                for (j, e) in a.events.iter_mut().enumerate() {
                    e.subject = format!(
                        "Task {j} of alarm {i} <failing> at site \"X\" with a long subject line"
                    );
                }
                a.sparkline = (0..168)
                    .map(|h| (NOW - WEEK + f64::from(h) * 3600.0, 1000.0))
                    .collect();
                a
            })
            .collect();
        s.ticks = (0..20)
            .map(|i| TickView {
                started_at: NOW - f64::from(i) * 300.0,
                finished_at: Some(NOW - f64::from(i) * 300.0 + 4.0),
                status: "done".into(),
                detections: 100_000,
                new: 10,
                cleared: 10,
                mails: 100,
                errors: 0,
            })
            .collect();
        s
    }

    #[test]
    fn a_hundred_alarms_of_a_thousand_events_stay_under_two_mib() {
        let html = render(&large());
        assert!(html.len() < 2 * 1024 * 1024, "{} bytes", html.len());
        assert_eq!(html.matches("and 950 more").count(), 100);
    }

    /// `cargo test --lib status_page -- --ignored --nocapture` prints what
    /// rendering the large page costs.
    #[test]
    #[ignore = "a measurement, not a check"]
    fn measure_rendering_a_hundred_alarms_of_a_thousand_events() {
        let snapshot = large();
        let runs = 20;
        let started = std::time::Instant::now();
        let mut bytes = 0;
        for _ in 0..runs {
            bytes = render(&snapshot).len();
        }
        let each = started.elapsed() / runs;
        println!(
            "status page: 100 alarms x 1,000 active events: {bytes} bytes, rendered in {each:?}"
        );
    }
}

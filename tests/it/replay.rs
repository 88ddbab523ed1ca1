//! `swf-alarms replay`: a recorded day replayed gives the timeline real
//! ticks give at each record's time, writes nothing, and refuses bad
//! input and detectors without history with a clear error.

use std::{collections::BTreeMap, path::PathBuf, time::Instant};

use serde_json::{json, Map, Value};
use swf_alarms::replay::{replay, Action, ReplayError, ReplayReport, ReplayRequest};

use crate::harness::{mail::SmtpSink, *};

/// The first line of an Aurora fixture.
fn fixture(name: &str) -> Map<String, Value> {
    let path = format!(
        "{}/tests/fixtures/aurora/ops_monitor_snapshot_{name}.jsonl",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).expect("fixture");
    serde_json::from_str(text.lines().next().expect("a line")).expect("fixture JSON")
}

/// `record` as taken at `time` (Unix seconds).
fn at(record: &Map<String, Value>, time: f64) -> Map<String, Value> {
    let mut r = record.clone();
    let stamp = chrono::DateTime::<chrono::Utc>::from_timestamp_micros((time * 1e6) as i64)
        .expect("time")
        .format("%Y-%m-%dT%H:%M:%S%.6f+00:00")
        .to_string();
    r.insert("time_utc".into(), json!(stamp));
    r.insert("snapshot_epoch".into(), json!(time));
    r
}

/// A line of the day files: a record, or a half-written one.
enum Line {
    Record(Map<String, Value>),
    Torn(String),
}

/// A directory of day files, each line filed under its record's date.
struct History(PathBuf);

impl History {
    fn new(tag: &str) -> History {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!(
            "history-{}-{tag}-{}",
            std::process::id(),
            uuid::Uuid::new_v4()
        ));
        std::fs::create_dir_all(&dir).expect("history dir");
        History(dir)
    }

    /// Replaces the directory's content with these lines.
    fn write(&self, lines: &[Line]) {
        for entry in std::fs::read_dir(&self.0).expect("list").flatten() {
            let _ = std::fs::remove_file(entry.path());
        }
        let mut days: BTreeMap<String, String> = BTreeMap::new();
        let mut day = String::new();
        for line in lines {
            let text = match line {
                Line::Record(r) => {
                    day = r["time_utc"].as_str().expect("time")[..10].replace('-', "");
                    serde_json::to_string(r).expect("json")
                }
                Line::Torn(text) => text.clone(),
            };
            let file = days.entry(day.clone()).or_default();
            file.push_str(&text);
            file.push('\n');
        }
        for (day, text) in days {
            std::fs::write(self.0.join(format!("ops_monitor_{day}.jsonl")), text)
                .expect("write day file");
        }
    }

    fn path(&self) -> String {
        self.0.display().to_string()
    }
}

impl Drop for History {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// 2026-08-21T23:20:02.5Z: the recorded day crosses midnight.
const T0: f64 = 1_787_354_402.5;
const MIN: f64 = 60.0;

/// Records with changing values, a torn line and an hour-long gap.
fn recorded_day() -> (Vec<Line>, Vec<f64>) {
    let healthy = fixture("healthy");
    let degraded = fixture("degraded");
    let mut project_ok = degraded.clone();
    project_ok.insert("aurora_project_used_pct".into(), json!(78.0));
    let mut hotter = degraded.clone();
    hotter.insert("aps_internal_temp_c".into(), json!(47.5));
    // (minutes after T0, record); the gap is between 30 and 95.
    let plan: Vec<(f64, &Map<String, Value>)> = vec![
        (0.0, &healthy),
        (5.0, &degraded),
        (10.0, &project_ok),
        (15.0, &degraded),
        (20.0, &hotter),
        (25.0, &degraded),
        (30.0, &degraded),
        (95.0, &healthy),
        (100.0, &degraded),
        (105.0, &degraded),
        (110.0, &project_ok),
        (115.0, &degraded),
        (120.0, &healthy),
    ];
    let mut lines = Vec::new();
    let mut times = Vec::new();
    for (i, (minutes, record)) in plan.into_iter().enumerate() {
        let time = T0 + minutes * MIN;
        if i == 4 {
            // The collector was killed mid-write, then restarted.
            lines.push(Line::Torn(r#"{"time_utc": "2026-08-21T23:3"#.into()));
        }
        lines.push(Line::Record(at(record, time)));
        times.push(time);
    }
    (lines, times)
}

/// A timeline entry, comparable across replay and ticks: (ms, action, key).
type Entry = (i64, String, String);

fn ms(t: f64) -> i64 {
    (t * 1000.0).round() as i64
}

fn replay_timeline(report: &ReplayReport) -> Vec<Entry> {
    let mut out: Vec<Entry> = report
        .timeline
        .iter()
        .map(|s| (ms(s.time), format!("{:?}", s.action), s.dedupe_key.clone()))
        .collect();
    out.sort();
    out
}

/// What the real ticks did, read back from the database: events fired and
/// cleared, and each run's bundle, by dedupe key.
async fn tick_timeline(client: &tokio_postgres::Client) -> (Vec<Entry>, Vec<(i64, String)>) {
    let events = events(client, "alarm_aurora").await;
    let key_of: BTreeMap<String, String> = events
        .iter()
        .map(|e| (e.id.clone(), e.key().to_owned()))
        .collect();
    let mut out = Vec::new();
    for e in &events {
        let fired = e.data["fire_time"].as_f64().expect("fire_time");
        out.push((ms(fired), "Fired".to_owned(), e.key().to_owned()));
        if let Some(cleared) = e.data["clear_time"].as_f64() {
            out.push((ms(cleared), "Cleared".to_owned(), e.key().to_owned()));
        }
    }
    let runs = client
        .query(
            "SELECT data FROM entry WHERE kind = 'engine_run' ORDER BY timestamp_created",
            &[],
        )
        .await
        .expect("runs");
    let mut emails = Vec::new();
    for row in runs {
        let data: Value = row.get(0);
        let now = ms(data["started_at"].as_f64().expect("started_at"));
        let alarm = &data["per_alarm"]["alarm_aurora"];
        for (field, action) in [
            ("bundle_new_event_ids", "Mailed"),
            ("bundle_renotify_event_ids", "Renotified"),
            ("bundle_resolved_event_ids", "ResolvedNotice"),
            ("bundle_silenced_event_ids", "Silenced"),
        ] {
            for id in alarm[field].as_array().into_iter().flatten() {
                let key = key_of[id.as_str().expect("id")].clone();
                out.push((now, action.to_owned(), key));
            }
        }
        if alarm["bundle_sent"] == json!(true) {
            emails.push((
                now,
                alarm["bundle_subject"]
                    .as_str()
                    .expect("subject")
                    .to_owned(),
            ));
        }
    }
    out.sort();
    (out, emails)
}

async fn entry_checksum(client: &tokio_postgres::Client) -> String {
    client
        .query_one(
            "SELECT count(*)::text || ':' || COALESCE(md5(string_agg(e::text, '|' ORDER BY e.id)), '')
             FROM entry e",
            &[],
        )
        .await
        .expect("checksum")
        .get(0)
}

fn request(from: f64, to: f64) -> ReplayRequest {
    ReplayRequest {
        alarm: "alarm_aurora".into(),
        from,
        to,
        params: None,
        snapshot_dir: None,
    }
}

#[tokio::test]
async fn replay_of_a_recorded_day_matches_real_ticks_and_writes_nothing() {
    let sink = SmtpSink::start();
    let db = TestDb::new();
    let client = db.client().await;
    let history = History::new("day");
    insert_alarm(
        &client,
        "alarm_aurora",
        "AURORA platform health.",
        json!({"detector": "aurora_ops", "recipients": "ops@test.example",
               "renotification_window_hours": 0.25, "notify_on_clear": true,
               "params": {"snapshot_dir": history.path()}}),
    )
    .await;
    // The power events are silenced from 23:32 to 00:57: their
    // renotifications and recovery notices wait for its end.
    client
        .execute(
            "INSERT INTO entry (id, title, content, kind, context_id, name, data, archived,
                                timestamp_created, timestamp_modified)
             VALUES ($1, 'Silence alarm_aurora power:*', '', 'silence', 'swf-alarms', NULL, $2,
                     false, 0, 0)",
            &[
                &uuid::Uuid::new_v4().to_string(),
                &json!({"alarm": "alarm_aurora", "key_pattern": "power:*",
                        "starts_at": T0 + 12.0 * MIN, "ends_at": T0 + 97.0 * MIN,
                        "comment": "battery work", "created_by": "test"}),
            ],
        )
        .await
        .expect("insert a silence");
    let config = db.config_mail("", &sink.email_toml());
    let (lines, times) = recorded_day();

    // Real ticks, one at each record's time, each seeing the files as
    // the collector had written them by then.
    let mut written = 0;
    for (i, time) in times.iter().enumerate() {
        let upto = lines
            .iter()
            .position(|l| matches!(l, Line::Record(r) if r["snapshot_epoch"] == json!(time)))
            .expect("record line");
        written = written.max(upto + 1);
        history.write(&lines[..written]);
        let s = tick_at(&config, false, Some(*time)).await;
        assert_eq!(
            s.alarms_errored,
            0,
            "tick {i}: {:#}",
            last_run(&client).await.1
        );
    }
    let (ticked, ticked_emails) = tick_timeline(&client).await;
    assert_eq!(ticked_emails.len(), sink.messages().len());

    let before = entry_checksum(&client).await;
    let report = replay(&config, &request(T0 - MIN, T0 + 200.0 * MIN))
        .await
        .expect("replay runs");
    assert_eq!(
        entry_checksum(&client).await,
        before,
        "replay wrote nothing"
    );
    assert_eq!(
        sink.messages().len(),
        ticked_emails.len(),
        "replay sent nothing"
    );

    assert_eq!(report.snapshots, times.len());
    assert_eq!(report.torn_lines.len(), 1, "{:?}", report.torn_lines);
    assert_eq!(report.gaps.len(), 1, "{:?}", report.gaps);
    assert_eq!(ms(report.gaps[0].after), ms(T0 + 30.0 * MIN));
    assert_eq!(replay_timeline(&report), ticked);
    let replayed_emails: Vec<(i64, String)> = report
        .emails
        .iter()
        .map(|e| (ms(e.time), e.subject.clone()))
        .collect();
    assert_eq!(replayed_emails, ticked_emails);
    // The day exercised every kind of step, and two days of emails.
    for action in [
        Action::Fired,
        Action::Mailed,
        Action::Renotified,
        Action::Cleared,
        Action::ResolvedNotice,
        Action::Silenced,
    ] {
        assert!(
            report.timeline.iter().any(|s| s.action == action),
            "no {action:?} in {:#?}",
            report.timeline
        );
    }
    assert_eq!(
        report.emails_per_day.len(),
        2,
        "{:?}",
        report.emails_per_day
    );
    assert_eq!(
        report.emails_per_day.values().sum::<usize>(),
        ticked_emails.len()
    );
}

#[tokio::test]
async fn replay_refuses_bad_input_and_detectors_without_history() {
    let db = TestDb::new();
    let client = db.client().await;
    let history = History::new("bad");
    let (lines, _) = recorded_day();
    history.write(&lines);
    insert_alarm(
        &client,
        "alarm_aurora",
        "AURORA.",
        json!({"detector": "aurora_ops", "params": {"snapshot_dir": history.path()}}),
    )
    .await;
    insert_alarm(
        &client,
        "alarm_panda",
        "PanDA.",
        json!({"detector": "panda_failure_rate", "params": {"threshold": 0.03}}),
    )
    .await;
    insert_alarm(
        &client,
        "alarm_web",
        "Web.",
        json!({"detector": "http_health",
               "params": {"targets": [{"name": "x", "url": "http://127.0.0.1:9/"}]}}),
    )
    .await;
    let config = db.config();
    let before = entry_checksum(&client).await;
    let window = (T0, T0 + 200.0 * MIN);
    let err = |r: Result<ReplayReport, ReplayError>| r.expect_err("an error").to_string();

    let e = err(replay(&config, &request(window.1, window.0)).await);
    assert!(e.contains("--to") && e.contains("before --from"), "{e}");

    let mut no_alarm = request(window.0, window.1);
    no_alarm.alarm = "alarm_nope".into();
    let e = err(replay(&config, &no_alarm).await);
    assert!(e.contains("no alarm") && e.contains("alarm_nope"), "{e}");

    let e = err(replay(&config, &request(T0 - 30.0 * 86400.0, T0 - 29.0 * 86400.0)).await);
    assert!(e.contains("no snapshots in"), "{e}");

    let mut bad_params = request(window.0, window.1);
    bad_params.params = Some(json!({"threshold_pct": "high"}));
    let e = err(replay(&config, &bad_params).await);
    assert!(e.contains("params do not fit detector aurora_ops"), "{e}");

    for alarm in ["alarm_panda", "alarm_web"] {
        let mut r = request(window.0, window.1);
        r.alarm = alarm.into();
        r.snapshot_dir = Some(history.0.clone());
        let e = err(replay(&config, &r).await);
        assert!(
            e.contains("cannot be replayed") && e.contains("keeps no history"),
            "{alarm}: {e}"
        );
    }
    assert_eq!(entry_checksum(&client).await, before);

    // The command line says the same, with exit status 2.
    let config_file = db.config_file("");
    let out = swf_alarms_bin()
        .args([
            "replay",
            "alarm_panda",
            "--from",
            "2026-08-21",
            "--to",
            "2026-08-22",
            "--config",
        ])
        .arg(&config_file)
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2), "{}", output_text(&out));
    assert!(
        output_text(&out).contains("PanDA keeps no history"),
        "{}",
        output_text(&out)
    );
    let out = swf_alarms_bin()
        .args([
            "replay",
            "alarm_aurora",
            "--from",
            "2026-08-21T23:00:00Z",
            "--to",
            "2026-08-22 02:00",
        ])
        .arg("--config")
        .arg(&config_file)
        .output()
        .expect("runs");
    let text = output_text(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(
        text.contains("FIRED") && text.contains("Emails per day:"),
        "{text}"
    );
    assert!(
        text.contains("gap: no record from 2026-08-21 23:50:02 UTC"),
        "{text}"
    );
    assert_eq!(entry_checksum(&client).await, before);
}

/// The replay figure for the bench: 30 days of five-minute snapshots
/// (8,640 records of the Aurora fixture's size). Prints it; run with
/// `cargo test --release --test it replay_figure -- --ignored --nocapture`.
#[tokio::test]
#[ignore = "a measurement, not a check; prints the figure"]
async fn replay_figure_30_days_of_five_minute_snapshots() {
    let db = TestDb::new();
    let client = db.client().await;
    let history = History::new("month");
    let healthy = fixture("healthy");
    let degraded = fixture("degraded");
    let start = 1_785_456_000.0; // 2026-07-31T00:00:00Z
    let records = 30 * 288;
    let lines: Vec<Line> = (0..records)
        .map(|i| {
            // An hour of trouble every six hours.
            let base = if i % 72 < 12 { &degraded } else { &healthy };
            Line::Record(at(base, start + f64::from(i) * 300.0 + 2.0))
        })
        .collect();
    history.write(&lines);
    insert_alarm(
        &client,
        "alarm_aurora",
        "AURORA.",
        json!({"detector": "aurora_ops", "renotification_window_hours": 4,
               "params": {"snapshot_dir": history.path()}}),
    )
    .await;
    let started = Instant::now();
    let report = replay(&db.config(), &request(start, start + 30.0 * 86400.0))
        .await
        .expect("replay runs");
    let elapsed = started.elapsed();
    assert_eq!(report.snapshots, records as usize);
    println!(
        "replay: {} snapshots (30 days, every 5 min) in {:.2} s ({:.0} snapshots/s); {} emails",
        report.snapshots,
        elapsed.as_secs_f64(),
        report.snapshots as f64 / elapsed.as_secs_f64(),
        report.emails.len()
    );
}

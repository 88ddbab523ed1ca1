//! Ops-monitor detectors on the format-exact AURORA fixtures, hold before
//! email, recovery notices, and the HTTP / TCP probes.

use std::{path::PathBuf, time::Duration};

use serde_json::{json, Map, Value};
use wiremock::{matchers::path, Mock, MockServer, ResponseTemplate};

use crate::harness::{
    mail::{closed_port, quoted_printable, SmtpSink},
    *,
};

const HOUR: f64 = 3600.0;

/// The fixture's one record.
fn fixture(name: &str) -> Map<String, Value> {
    let path = format!(
        "{}/tests/fixtures/aurora/ops_monitor_snapshot_{name}.jsonl",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).expect("fixture");
    serde_json::from_str(text.lines().next().expect("a line")).expect("fixture JSON")
}

fn epoch(record: &Map<String, Value>) -> f64 {
    record["snapshot_epoch"].as_f64().expect("snapshot_epoch")
}

/// A snapshot directory holding `lines` (already serialised) in the day
/// file of the first record's date.
struct SnapDir(PathBuf);

impl SnapDir {
    fn new(tag: &str) -> SnapDir {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!(
            "snaps-{}-{tag}-{}",
            std::process::id(),
            uuid::Uuid::new_v4()
        ));
        std::fs::create_dir_all(&dir).expect("snapshot dir");
        SnapDir(dir)
    }

    fn write(&self, records: &[&Map<String, Value>], tail: &str) {
        for entry in std::fs::read_dir(&self.0).expect("list").flatten() {
            let _ = std::fs::remove_file(entry.path());
        }
        let Some(first) = records.first() else { return };
        let date: String = first["time_utc"].as_str().expect("time")[..10].replace('-', "");
        let mut text: String = records
            .iter()
            .map(|r| serde_json::to_string(r).expect("json") + "\n")
            .collect();
        text.push_str(tail);
        std::fs::write(self.0.join(format!("ops_monitor_{date}.jsonl")), text)
            .expect("write day file");
    }

    fn path(&self) -> String {
        self.0.display().to_string()
    }
}

impl Drop for SnapDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

async fn ops_alarm(
    client: &tokio_postgres::Client,
    entry_id: &str,
    detector: &str,
    params: Value,
    extra: Value,
) -> String {
    let mut data =
        json!({"detector": detector, "recipients": "ops@test.example", "params": params});
    if let (Some(d), Some(e)) = (data.as_object_mut(), extra.as_object()) {
        d.extend(e.clone());
    }
    insert_alarm(client, entry_id, "AURORA platform health.", data).await
}

fn sorted_keys(events: &[Event]) -> Vec<String> {
    let mut k: Vec<String> = events.iter().map(|e| e.key().to_owned()).collect();
    k.sort();
    k
}

fn sorted(ids: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = ids.iter().map(|s| (*s).to_owned()).collect();
    v.sort();
    v
}

const DEGRADED_IDS: &[&str] = &[
    "storage:aurora_project",
    "storage:host_ass_data",
    "archive:health_red",
    "power:battery_soc",
    "power:internal_temp",
    "power:battery_voltage",
    "stream:radar:radar_append_service_healthy_state",
    "stream:power:power_quicklooks_service_healthy_state",
];

#[tokio::test]
async fn each_fixture_raises_exactly_its_alert_ids_through_aurora_ops() {
    let cases: &[(&str, f64, &[&str])] = &[
        ("healthy", 60.0, &[]),
        ("legacy_2026-07_healthy", 60.0, &[]),
        ("degraded", 60.0, DEGRADED_IDS),
        ("collector_stale", 60.0, &["storage:aurora_root"]),
    ];
    for (name, after, want) in cases {
        let db = TestDb::new();
        let client = db.client().await;
        let record = fixture(name);
        let dir = SnapDir::new(name);
        dir.write(&[&record], "");
        ops_alarm(
            &client,
            "alarm_aurora",
            "aurora_ops",
            json!({"snapshot_dir": dir.path()}),
            json!({}),
        )
        .await;
        let s = tick_at(&db.config(), true, Some(epoch(&record) + after)).await;
        assert_eq!(
            s.alarms_errored,
            0,
            "{name}: {:#}",
            last_run(&client).await.1
        );
        assert_eq!(
            sorted_keys(&active(&client, "alarm_aurora").await),
            sorted(want),
            "{name}"
        );
    }
}

#[tokio::test]
async fn each_fixture_raises_exactly_its_alert_ids_through_the_single_detectors() {
    let cases: &[(&str, &[&str])] = &[
        ("healthy", &[]),
        ("legacy_2026-07_healthy", &[]),
        ("degraded", DEGRADED_IDS),
        ("collector_stale", &["storage:aurora_root"]),
    ];
    let detectors = [
        "ops_collector_stale",
        "ops_storage",
        "ops_power",
        "ops_archive",
        "ops_services",
    ];
    for (name, want) in cases {
        let db = TestDb::new();
        let client = db.client().await;
        let record = fixture(name);
        let dir = SnapDir::new(name);
        dir.write(&[&record], "");
        for detector in detectors {
            ops_alarm(
                &client,
                &format!("alarm_{detector}"),
                detector,
                json!({"snapshot_dir": dir.path()}),
                json!({}),
            )
            .await;
        }
        let s = tick_at(&db.config(), true, Some(epoch(&record) + 60.0)).await;
        assert_eq!(
            s.alarms_errored,
            0,
            "{name}: {:#}",
            last_run(&client).await.1
        );
        let mut got = Vec::new();
        for detector in detectors {
            got.extend(sorted_keys(
                &active(&client, &format!("alarm_{detector}")).await,
            ));
        }
        got.sort();
        assert_eq!(got, sorted(want), "{name}");
    }
}

#[tokio::test]
async fn the_stopped_collector_is_noticed_by_the_engine_clock() {
    let db = TestDb::new();
    let client = db.client().await;
    let record = fixture("collector_stale");
    let dir = SnapDir::new("stale");
    dir.write(&[&record], "");
    ops_alarm(
        &client,
        "alarm_aurora",
        "aurora_ops",
        json!({"snapshot_dir": dir.path()}),
        json!({}),
    )
    .await;
    ops_alarm(
        &client,
        "alarm_collector",
        "ops_collector_stale",
        json!({"snapshot_dir": dir.path()}),
        json!({}),
    )
    .await;
    // As of 2026-08-22T13:05:00Z, about 6 h after the record was written.
    let later = 1_787_403_900.0;
    assert!(later - epoch(&record) > 6.0 * HOUR - 600.0);
    tick_at(&db.config(), true, Some(later)).await;
    assert_eq!(
        sorted_keys(&active(&client, "alarm_aurora").await),
        sorted(&["ops_collector_stale", "storage:aurora_root"])
    );
    let stale = active(&client, "alarm_collector").await;
    assert_eq!(sorted_keys(&stale), ["ops_collector_stale"]);
    assert!(stale[0].title.contains("6.2 h old"), "{}", stale[0].title);
}

#[tokio::test]
async fn single_family_detectors_on_the_degraded_fixture() {
    let db = TestDb::new();
    let client = db.client().await;
    let record = fixture("degraded");
    let dir = SnapDir::new("families");
    dir.write(&[&record], "");
    let p = json!({"snapshot_dir": dir.path()});
    for (entry, detector) in [
        ("alarm_storage", "ops_storage"),
        ("alarm_power", "ops_power"),
        ("alarm_archive", "ops_archive"),
        ("alarm_services", "ops_services"),
        ("alarm_collector", "ops_collector_stale"),
        ("alarm_streams", "ops_stream_freshness"),
    ] {
        ops_alarm(&client, entry, detector, p.clone(), json!({})).await;
    }
    ops_alarm(
        &client,
        "alarm_power_strict",
        "ops_power",
        json!({"snapshot_dir": dir.path(), "soc_min_pct": 30, "temp_max_c": 50, "voltage_min_v": 49}),
        json!({}),
    )
    .await;
    let s = tick_at(&db.config(), true, Some(epoch(&record) + 60.0)).await;
    let client = &client;
    let got = |entry: &'static str| async move { sorted_keys(&active(client, entry).await) };
    assert_eq!(
        got("alarm_storage").await,
        sorted(&["storage:aurora_project", "storage:host_ass_data"])
    );
    assert_eq!(
        got("alarm_power").await,
        sorted(&[
            "power:battery_soc",
            "power:internal_temp",
            "power:battery_voltage"
        ])
    );
    assert!(
        got("alarm_power_strict").await.is_empty(),
        "thresholds are params"
    );
    assert_eq!(got("alarm_archive").await, ["archive:health_red"]);
    assert_eq!(
        got("alarm_services").await,
        sorted(&[
            "stream:radar:radar_append_service_healthy_state",
            "stream:power:power_quicklooks_service_healthy_state"
        ])
    );
    assert!(got("alarm_collector").await.is_empty());
    // The newer format has no per-stream ages: said plainly, as an error.
    assert_eq!(s.alarms_errored, 1);
    let (_, run) = last_run(client).await;
    let message = run["per_alarm"]["alarm_streams"]["error_message"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(message.contains("no per-stream source ages"), "{message}");
}

#[tokio::test]
async fn stream_freshness_on_the_older_format() {
    let db = TestDb::new();
    let client = db.client().await;
    let mut record = fixture("legacy_2026-07_healthy");
    let dir = SnapDir::new("legacy");
    ops_alarm(
        &client,
        "alarm_streams",
        "ops_stream_freshness",
        json!({"snapshot_dir": dir.path()}),
        json!({}),
    )
    .await;
    dir.write(&[&record], "");
    let at = epoch(&record) + 60.0;
    tick_at(&db.config(), true, Some(at)).await;
    assert!(active(&client, "alarm_streams").await.is_empty());

    record.insert("hatpro_source_age_min".into(), json!(240.0));
    dir.write(&[&record], "");
    tick_at(&db.config(), true, Some(at + 60.0)).await;
    assert_eq!(
        sorted_keys(&active(&client, "alarm_streams").await),
        ["stream:hatpro:source_stale"]
    );

    // With the mirror itself stale, stream ages are not trusted.
    record.insert("mirror_summary_recent_state".into(), json!(0.0));
    dir.write(&[&record], "");
    tick_at(&db.config(), true, Some(at + 120.0)).await;
    assert!(active(&client, "alarm_streams").await.is_empty());
}

#[tokio::test]
async fn torn_last_line_nulls_and_an_empty_directory() {
    let db = TestDb::new();
    let client = db.client().await;
    let degraded = fixture("degraded");
    let torn = SnapDir::new("torn");
    let healthy_earlier = fixture("healthy");
    // An older healthy line, the degraded line, then half a line.
    torn.write(
        &[&healthy_earlier, &degraded],
        r#"{"aps_battery_soc_pct": 12.0, "time_utc": "2026-08-21T14:2"#,
    );
    let mut with_nulls = degraded.clone();
    for key in [
        "aurora_project_used_pct",
        "host_ass_data_used_pct",
        "host_celine_data_used_pct",
        "aps_battery_soc_pct",
    ] {
        with_nulls.insert(key.into(), Value::Null);
    }
    let nulls = SnapDir::new("nulls");
    nulls.write(&[&with_nulls], "");
    let empty = SnapDir::new("empty");

    ops_alarm(
        &client,
        "alarm_torn",
        "aurora_ops",
        json!({"snapshot_dir": torn.path()}),
        json!({}),
    )
    .await;
    ops_alarm(
        &client,
        "alarm_nulls",
        "aurora_ops",
        json!({"snapshot_dir": nulls.path()}),
        json!({}),
    )
    .await;
    ops_alarm(
        &client,
        "alarm_empty",
        "aurora_ops",
        json!({"snapshot_dir": empty.path()}),
        json!({}),
    )
    .await;
    ops_alarm(
        &client,
        "alarm_empty_storage",
        "ops_storage",
        json!({"snapshot_dir": empty.path()}),
        json!({}),
    )
    .await;
    let s = tick_at(&db.config(), true, Some(epoch(&degraded) + 60.0)).await;

    assert_eq!(
        sorted_keys(&active(&client, "alarm_torn").await),
        sorted(DEGRADED_IDS)
    );
    let mut want: Vec<&str> = DEGRADED_IDS.to_vec();
    want.retain(|k| !k.starts_with("storage:") && *k != "power:battery_soc");
    assert_eq!(
        sorted_keys(&active(&client, "alarm_nulls").await),
        sorted(&want)
    );
    assert_eq!(
        sorted_keys(&active(&client, "alarm_empty").await),
        ["ops_collector_stale"]
    );
    assert_eq!(
        s.alarms_errored, 2,
        "neither ops_storage nor the rest of aurora_ops can judge an empty directory"
    );
    let (_, run) = last_run(&client).await;
    let message = run["per_alarm"]["alarm_empty_storage"]["error_message"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(message.contains("no ops snapshot found"), "{message}");
}

/// The subjects of every message the sink received, oldest first.
fn subjects(sink: &SmtpSink) -> Vec<String> {
    sink.messages()
        .iter()
        .filter_map(|m| {
            m.split("\r\n")
                .find_map(|l| l.strip_prefix("Subject: "))
                .map(str::to_owned)
        })
        .collect()
}

fn bodies(sink: &SmtpSink) -> Vec<String> {
    sink.messages()
        .iter()
        .map(|m| {
            m.split_once("\r\n\r\n")
                .map(|(_, b)| b.replace("\r\n", "\n"))
                .unwrap_or_default()
        })
        .collect()
}

#[tokio::test]
async fn hold_before_email_and_a_returning_condition_restarts_it() {
    let sink = SmtpSink::start();
    let db = TestDb::new();
    let client = db.client().await;
    let degraded = fixture("degraded");
    let healthy = fixture("healthy");
    let dir = SnapDir::new("hold");
    // The engine's clock moves hours ahead of the fixture; keep the
    // collector check out of the way.
    ops_alarm(
        &client,
        "alarm_aurora",
        "aurora_ops",
        json!({"snapshot_dir": dir.path(), "collector_max_age_minutes": 1_000_000}),
        json!({"notify_on_clear": true}),
    )
    .await;
    let config = db.config_mail("", &sink.email_toml());
    let t0 = epoch(&degraded) + 60.0;

    dir.write(&[&degraded], "");
    tick_at(&config, false, Some(t0)).await;
    assert_eq!(
        active(&client, "alarm_aurora").await.len(),
        8,
        "all events exist at once"
    );
    assert_eq!(subjects(&sink), ["[alarm_aurora] 5 detection(s), 5 new"]);
    // The README's sample email, word for word.
    let readme = include_str!("../../README.md");
    let sample = readme
        .split_once("NEW (5):\n\n")
        .and_then(|(_, rest)| rest.split_once("```"))
        .map(|(sample, _)| sample)
        .expect("the README has the sample");
    let body = quoted_printable(&bodies(&sink)[0]);
    assert!(body.contains(sample.trim_end()), "{body}");
    assert!(
        !bodies(&sink)[0].contains("archive"),
        "held ones are not in the first email"
    );

    tick_at(&config, false, Some(t0 + 170.0 * 60.0)).await;
    assert_eq!(sink.messages().len(), 1, "still within the 180 min hold");

    tick_at(&config, false, Some(t0 + 181.0 * 60.0)).await;
    assert_eq!(subjects(&sink).len(), 2);
    assert_eq!(subjects(&sink)[1], "[alarm_aurora] 3 detection(s), 3 new");
    assert!(bodies(&sink)[1].contains("Archive copies are incomplete"));

    // It clears: every event was emailed, so all eight are RESOLVED.
    dir.write(&[&healthy], "");
    tick_at(&config, false, Some(t0 + 200.0 * 60.0)).await;
    assert_eq!(subjects(&sink)[2], "[alarm_aurora] 8 resolved");
    assert!(bodies(&sink)[2].contains("RESOLVED (8):"));

    // It returns: new events, and the hold starts again.
    dir.write(&[&degraded], "");
    let t1 = t0 + 210.0 * 60.0;
    tick_at(&config, false, Some(t1)).await;
    assert_eq!(subjects(&sink)[3], "[alarm_aurora] 5 detection(s), 5 new");
    tick_at(&config, false, Some(t1 + 60.0 * 60.0)).await;
    assert_eq!(
        sink.messages().len(),
        4,
        "the returning condition is held again"
    );
    tick_at(&config, false, Some(t1 + 181.0 * 60.0)).await;
    assert_eq!(subjects(&sink)[4], "[alarm_aurora] 3 detection(s), 3 new");
}

#[tokio::test]
async fn recovery_lists_only_events_that_were_emailed() {
    let sink = SmtpSink::start();
    let db = TestDb::new();
    let client = db.client().await;
    let degraded = fixture("degraded");
    let dir = SnapDir::new("recovery");
    ops_alarm(
        &client,
        "alarm_aurora",
        "aurora_ops",
        json!({"snapshot_dir": dir.path(), "collector_max_age_minutes": 1_000_000}),
        json!({"notify_on_clear": true}),
    )
    .await;
    let config = db.config_mail("", &sink.email_toml());
    let t0 = epoch(&degraded) + 60.0;
    dir.write(&[&degraded], "");
    tick_at(&config, false, Some(t0)).await;

    // Within the hold everything clears: the 5 emailed ones are resolved,
    // the 3 held (never emailed) are not mentioned.
    dir.write(&[&fixture("healthy")], "");
    tick_at(&config, false, Some(t0 + 600.0)).await;
    assert_eq!(subjects(&sink)[1], "[alarm_aurora] 5 resolved");
    let body = &bodies(&sink)[1];
    assert!(body.contains("Battery SOC at 37.6%"));
    assert!(!body.contains("Archive"), "{body}");
    let (_, run) = last_run(&client).await;
    assert_eq!(run["per_alarm"]["alarm_aurora"]["bundle_resolved"], 5);

    // Without notify_on_clear nothing is sent on clear.
    let quiet = TestDb::new();
    let qclient = quiet.client().await;
    ops_alarm(
        &qclient,
        "alarm_quiet",
        "aurora_ops",
        json!({"snapshot_dir": dir.path(), "collector_max_age_minutes": 1_000_000}),
        json!({}),
    )
    .await;
    let sink2 = SmtpSink::start();
    let qconfig = quiet.config_mail("", &sink2.email_toml());
    dir.write(&[&degraded], "");
    tick_at(&qconfig, false, Some(t0)).await;
    dir.write(&[&fixture("healthy")], "");
    tick_at(&qconfig, false, Some(t0 + 600.0)).await;
    assert_eq!(sink2.messages().len(), 1);
    let (_, run) = last_run(&qclient).await;
    assert!(run["per_alarm"]["alarm_quiet"]
        .get("bundle_resolved")
        .is_none());
}

#[tokio::test]
async fn http_and_tcp_probes_against_loopback_targets() {
    let server = MockServer::start().await;
    Mock::given(path("/good"))
        .respond_with(ResponseTemplate::new(200).set_body_string("status: ok"))
        .mount(&server)
        .await;
    Mock::given(path("/error"))
        .respond_with(ResponseTemplate::new(500))
        .mount(&server)
        .await;
    Mock::given(path("/slow"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_string("ok")
                .set_delay(Duration::from_secs(3)),
        )
        .mount(&server)
        .await;
    Mock::given(path("/wrong"))
        .respond_with(ResponseTemplate::new(200).set_body_string("maintenance"))
        .mount(&server)
        .await;
    let base = server.uri();
    let closed_guard = closed_port();
    let closed = closed_guard.port;
    let db = TestDb::new();
    let client = db.client().await;
    let target = |name: &str, url: String| json!({"name": name, "url": url, "body_contains": "ok", "timeout_seconds": 1});
    insert_alarm(
        &client,
        "alarm_http",
        "",
        json!({"detector": "http_health", "recipients": "ops@test.example", "params": {"targets": [
            target("good", format!("{base}/good")),
            target("error", format!("{base}/error")),
            target("slow", format!("{base}/slow")),
            target("wrong", format!("{base}/wrong")),
            target("closed", format!("http://127.0.0.1:{closed}/")),
        ]}}),
    )
    .await;
    let port = server.address().port();
    insert_alarm(
        &client,
        "alarm_tcp",
        "",
        json!({"detector": "tcp_port", "recipients": "ops@test.example", "params": {"targets": [
            {"name": "open", "host": "127.0.0.1", "port": port},
            {"name": "closed", "host": "127.0.0.1", "port": closed, "timeout_seconds": 1},
        ]}}),
    )
    .await;
    let s = tick(&db.config(), true).await;
    assert_eq!(s.alarms_errored, 0, "{s:?}");
    let http = active(&client, "alarm_http").await;
    assert_eq!(
        sorted_keys(&http),
        sorted(&["http:error", "http:slow", "http:wrong", "http:closed"])
    );
    let reason = |k: &str| {
        http.iter()
            .find(|e| e.key() == k)
            .map(|e| e.data["reason"].as_str().unwrap_or_default().to_owned())
            .unwrap_or_default()
    };
    assert_eq!(reason("http:error"), "unexpected status");
    assert_eq!(reason("http:slow"), "timed out");
    assert_eq!(reason("http:wrong"), "unexpected body");
    assert_eq!(reason("http:closed"), "connection refused");
    let slow = http.iter().find(|e| e.key() == "http:slow").expect("slow");
    assert!(slow.data["latency_ms"].as_f64().expect("latency") >= 900.0);
    assert_eq!(
        sorted_keys(&active(&client, "alarm_tcp").await),
        ["tcp:closed"]
    );
}

/// The alerter's unit table (issue 9.5): prefix and unit keys.
const UNIT_TABLE: &[(&str, &[&str])] = &[
    (
        "cl61",
        &[
            "cl61_source_sync",
            "ceilometer_append",
            "ceilometer_quicklooks",
        ],
    ),
    (
        "radar",
        &["radar_source_sync", "radar_append", "radar_quicklooks"],
    ),
    (
        "hatpro",
        &["hatpro_source_sync", "hatpro_append", "hatpro_quicklooks"],
    ),
    (
        "vaisalamet",
        &[
            "vaisalamet_source_sync",
            "vaisalamet_append",
            "vaisalamet_quicklooks",
        ],
    ),
    (
        "asfs_logger",
        &[
            "asfs_logger_source_sync",
            "asfs_logger_append",
            "asfs_logger_quicklooks",
        ],
    ),
    (
        "asfs_fast_sonic",
        &[
            "asfs_fast_sonic_source_sync",
            "asfs_fast_sonic_append",
            "asfs_fast_sonic_quicklooks",
        ],
    ),
    (
        "power",
        &["power_source_sync", "power_append", "power_quicklooks"],
    ),
    ("pdu", &["pdu_source_sync", "pdu_append"]),
    (
        "wxcam",
        &["wxcam_source_sync", "wxcam_catalog", "wxcam_daily_videos"],
    ),
];

/// Issue 9.5: through real snapshot files, every unit of the alerter's
/// table raises `stream:<prefix>:<key>`, every other unit of the snapshot
/// raises nothing, and flags are judged as the alerter judges them.
#[tokio::test]
async fn issue_9_exactly_the_alerters_units_raise_its_ids() {
    let db = TestDb::new();
    let client = db.client().await;
    let mut record = fixture("healthy");
    // Every unit the snapshot carries goes off ...
    let all_units: Vec<String> = record
        .keys()
        .filter(|k| k.ends_with("_service_healthy_state"))
        .cloned()
        .collect();
    for key in &all_units {
        record.insert(key.clone(), json!(0.0));
    }
    let mut want: Vec<String> = Vec::new();
    for (prefix, units) in UNIT_TABLE {
        for unit in *units {
            let key = format!("{unit}_service_healthy_state");
            assert!(all_units.contains(&key), "the fixture carries {key}");
            want.push(format!("stream:{prefix}:{key}"));
        }
    }
    assert_eq!(want.len(), 26);
    assert!(
        all_units.len() > 26,
        "the fixture has units outside the table"
    );
    let dir = SnapDir::new("units");
    dir.write(&[&record], "");
    ops_alarm(
        &client,
        "alarm_units",
        "ops_services",
        json!({"snapshot_dir": dir.path()}),
        json!({}),
    )
    .await;
    let at = epoch(&record) + 60.0;
    let s = tick_at(&db.config(), true, Some(at)).await;
    assert_eq!(s.alarms_errored, 0, "{:#}", last_run(&client).await.1);
    want.sort();
    // ... and exactly the table's 26 raise their ids.
    assert_eq!(sorted_keys(&active(&client, "alarm_units").await), want);

    // Flags as the alerter reads them: rounded half to even; null and
    // non-numbers skip.
    let mut record = fixture("healthy");
    let flags = [
        ("radar_append_service_healthy_state", json!(0.4)),
        ("hatpro_append_service_healthy_state", json!(0.5)),
        ("power_append_service_healthy_state", json!(0.6)),
        ("pdu_append_service_healthy_state", Value::Null),
        ("wxcam_catalog_service_healthy_state", json!("NaN")),
    ];
    for (key, value) in &flags {
        record.insert((*key).to_owned(), value.clone());
    }
    dir.write(&[&record], "");
    tick_at(&db.config(), true, Some(at + 60.0)).await;
    assert_eq!(
        sorted_keys(&active(&client, "alarm_units").await),
        sorted(&[
            "stream:hatpro:hatpro_append_service_healthy_state",
            "stream:radar:radar_append_service_healthy_state"
        ])
    );
}

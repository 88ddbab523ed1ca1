//! The operator commands, run as the binary against a real database:
//! detectors, check, status, test, alarm …, and the metrics textfile.

use std::process::{Command, Output};

use serde_json::{json, Value};

use crate::harness::*;

fn swf(config: Option<&std::path::Path>, args: &[&str]) -> Output {
    let mut cmd = swf_alarms_bin();
    cmd.args(args);
    if let Some(c) = config {
        cmd.arg("--config").arg(c);
    }
    cmd.output().expect("run swf-alarms")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn detectors_json_is_what_an_editor_needs() {
    let out = swf(None, &["detectors", "--json"]);
    assert!(out.status.success(), "{}", output_text(&out));
    let list: Vec<Value> = serde_json::from_str(&stdout(&out)).expect("JSON");
    let panda = list
        .iter()
        .find(|d| d["name"] == "panda_failure_rate")
        .expect("panda_failure_rate");
    assert_eq!(
        panda["aliases"],
        json!(["panda_failure_rate_eic_all", "panda_failure_rate_sakib"])
    );
    let threshold = panda["params"]
        .as_array()
        .expect("params")
        .iter()
        .find(|p| p["name"] == "threshold")
        .expect("threshold");
    assert_eq!(
        (threshold["type"].as_str(), threshold["required"].as_bool()),
        (Some("number"), Some(true))
    );
    let since = panda["params"]
        .as_array()
        .expect("params")
        .iter()
        .find(|p| p["name"] == "since_days")
        .expect("since_days");
    assert_eq!(since["default"], 1);
    for d in &list {
        assert!(d["summary"].as_str().is_some_and(|s| !s.is_empty()), "{d}");
    }
    let text = swf(None, &["detectors"]);
    assert!(stdout(&text).contains("static_list"));
}

#[tokio::test]
async fn check_lists_every_kind_of_problem_with_its_alarm() {
    let db = TestDb::new();
    let client = db.client().await;
    let config = db.config_file("");
    insert_alarm(&client, "alarm_fine", "", static_alarm(&["a"])).await;
    let out = swf(Some(&config), &["check"]);
    assert_eq!(out.status.code(), Some(0), "{}", output_text(&out));
    assert!(stdout(&out).contains("1 alarm(s) checked, 0 problem(s)"));

    insert_team(&client, "@ops", "ops@test.example").await;
    let rows = [
        ("alarm_ghost", json!({"recipients": "a@x.example"})),
        (
            "alarm_typo",
            json!({"detector": "panda_failure_rate", "recipients": "@ops", "params": {"treshold": 0.03}}),
        ),
        (
            "alarm_types",
            json!({"detector": "panda_failure_rate", "recipients": "@ops", "params": {"threshold": "3%"}}),
        ),
        (
            "alarm_team",
            json!({"detector": "static_list", "recipients": "@nobody", "params": {}}),
        ),
        (
            "alarm_window",
            json!({"detector": "static_list", "recipients": "@ops", "renotification_window_hours": "daily"}),
        ),
    ];
    for (entry_id, data) in rows {
        insert_alarm(&client, entry_id, "", data).await;
    }
    client
        .execute(
            "INSERT INTO entry (id, title, content, kind, context_id, data, archived, timestamp_created, timestamp_modified)
             SELECT 'dup-row', title, content, kind, context_id, data, false, 0, 0 FROM entry
             WHERE data->>'entry_id' = 'alarm_fine'",
            &[],
        )
        .await
        .expect("a second row with the same entry_id");
    let out = swf(Some(&config), &["check"]);
    assert_eq!(out.status.code(), Some(1), "{}", output_text(&out));
    let text = stdout(&out);
    for (alarm, problem) in [
        ("alarm_ghost", "no detector named \"ghost\""),
        ("alarm_typo", "params.treshold"),
        ("alarm_typo", "params.threshold: required"),
        ("alarm_types", "params.threshold: expected number"),
        ("alarm_team", "team @nobody does not resolve"),
        ("alarm_team", "nobody would receive"),
        ("alarm_window", "renotification_window_hours"),
        ("alarm_fine", "more than one live alarm row"),
    ] {
        assert!(
            text.lines()
                .any(|l| l.starts_with(&format!("{alarm}: ")) && l.contains(problem)),
            "{alarm} / {problem} not in:\n{text}"
        );
    }
}

/// Everything in the database that a write could change.
async fn fingerprint(client: &tokio_postgres::Client) -> (i64, String) {
    let row = client
        .query_one(
            "SELECT (SELECT count(*) FROM entry) + (SELECT count(*) FROM entry_version),
                    md5(COALESCE((SELECT string_agg(e::text, '|' ORDER BY id) FROM entry e), ''))",
            &[],
        )
        .await
        .expect("fingerprint");
    (row.get(0), row.get(1))
}

#[tokio::test]
async fn test_shows_what_a_tick_would_do_and_writes_nothing() {
    let db = TestDb::new();
    let client = db.client().await;
    insert_alarm(
        &client,
        "alarm_try",
        "Trying things.",
        static_alarm(&["a", "b"]),
    )
    .await;
    tick(&db.config(), false).await;
    let before = fingerprint(&client).await;

    let config = db.config_file("");
    let params = json!({"detections": detections(&["b", "c"])}).to_string();
    let out = swf(Some(&config), &["test", "alarm_try", "--params", &params]);
    assert_eq!(out.status.code(), Some(0), "{}", output_text(&out));
    let text = stdout(&out);
    assert!(text.contains("2 detection(s):"), "{text}");
    assert!(text.contains("create   1: c"), "{text}");
    assert!(text.contains("continue 1: b"), "{text}");
    assert!(text.contains("clear    1: a"), "{text}");
    assert!(
        text.contains("Subject: [alarm_try] 1 detection(s), 1 new"),
        "{text}"
    );
    assert!(text.contains("Trying things."), "{text}");

    let failing = swf(
        Some(&config),
        &["test", "alarm_try", "--params", r#"{"fail": true}"#],
    );
    assert_eq!(failing.status.code(), Some(1));
    assert!(stdout(&failing).contains("clear nothing"));
    let missing = swf(Some(&config), &["test", "alarm_nope"]);
    assert_eq!(missing.status.code(), Some(2));

    assert_eq!(
        fingerprint(&client).await,
        before,
        "`test` wrote to the database"
    );
}

async fn versions(client: &tokio_postgres::Client, id: &str) -> Vec<(i32, String, Value)> {
    client
        .query(
            "SELECT version_num, changed_by, data FROM entry_version WHERE entry_id = $1 ORDER BY version_num",
            &[&id],
        )
        .await
        .expect("versions")
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect()
}

#[tokio::test]
async fn alarm_commands_version_every_edit_and_refuse_bad_params() {
    let db = TestDb::new();
    let client = db.client().await;
    let config = db.config_file("");
    let out = swf(
        Some(&config),
        &[
            "alarm",
            "create",
            "alarm_cli",
            "--detector",
            "static_list",
            "--params",
            r#"{"detections": []}"#,
            "--recipients",
            "a@x.example, @ops",
            "--description",
            "Made from the shell.",
            "--window-hours",
            "12",
        ],
    );
    assert!(out.status.success(), "{}", output_text(&out));
    let shown = swf(Some(&config), &["alarm", "show", "alarm_cli"]);
    let row: Value = serde_json::from_str(&stdout(&shown)).expect("show prints JSON");
    let id = row["id"].as_str().expect("id").to_owned();
    assert_eq!(row["data"]["renotification_window_hours"], 12.0);
    assert_eq!(row["content"], "Made from the shell.");

    // Invalid params: refused, nothing written.
    let before = fingerprint(&client).await;
    let bad = swf(
        Some(&config),
        &[
            "alarm",
            "update",
            "alarm_cli",
            "--params",
            r#"{"detections": [], "colour": "red"}"#,
        ],
    );
    assert_eq!(bad.status.code(), Some(2));
    assert!(
        output_text(&bad).contains("params.colour"),
        "{}",
        output_text(&bad)
    );
    let bad_type = swf(
        Some(&config),
        &[
            "alarm",
            "update",
            "alarm_cli",
            "--params",
            r#"{"fail": "yes"}"#,
        ],
    );
    assert_eq!(bad_type.status.code(), Some(2));
    assert_eq!(fingerprint(&client).await, before);
    assert!(versions(&client, &id).await.is_empty());

    let ok = swf(
        Some(&config),
        &[
            "alarm",
            "update",
            "alarm_cli",
            "--params",
            r#"{"detections": [{"dedupe_key": "k"}]}"#,
            "--by",
            "alice",
        ],
    );
    assert!(ok.status.success(), "{}", output_text(&ok));
    let v = versions(&client, &id).await;
    assert_eq!(v.len(), 1);
    assert_eq!((v[0].0, v[0].1.as_str()), (1, "alice"));
    assert_eq!(
        v[0].2["params"],
        json!({"detections": []}),
        "the snapshot is the row as it was"
    );

    assert!(swf(
        Some(&config),
        &["alarm", "disable", "alarm_cli", "--by", "bob"]
    )
    .status
    .success());
    assert!(swf(
        Some(&config),
        &["alarm", "archive", "alarm_cli", "--by", "bob"]
    )
    .status
    .success());
    let v = versions(&client, &id).await;
    assert_eq!(v.iter().map(|x| x.0).collect::<Vec<_>>(), [1, 2, 3]);
    let row = client
        .query_one("SELECT archived, data FROM entry WHERE id = $1", &[&id])
        .await
        .expect("row");
    assert!(row.get::<_, bool>(0));
    assert_eq!(row.get::<_, Value>(1)["enabled"], false);

    let list = swf(Some(&config), &["alarm", "list"]);
    assert!(stdout(&list)
        .lines()
        .any(|l| l.starts_with("alarm_cli") && l.contains("archived")));
    let dup = swf(
        Some(&config),
        &["alarm", "create", "alarm_cli", "--detector", "static_list"],
    );
    assert_eq!(dup.status.code(), Some(2));
}

#[tokio::test]
async fn status_shows_alarms_and_ticks_as_text_and_json() {
    let db = TestDb::new();
    let client = db.client().await;
    insert_alarm(&client, "alarm_seen", "", static_alarm(&["a", "b"])).await;
    insert_alarm(
        &client,
        "alarm_broken",
        "",
        json!({"detector": "static_list", "params": {"fail": true}}),
    )
    .await;
    tick(&db.config(), false).await;
    tick(&db.config(), false).await;
    let config = db.config_file("");

    let out = swf(Some(&config), &["status", "--json"]);
    assert!(out.status.success(), "{}", output_text(&out));
    let status: Value = serde_json::from_str(&stdout(&out)).expect("status --json is JSON");
    let seen = status["alarms"]
        .as_array()
        .expect("alarms")
        .iter()
        .find(|a| a["entry_id"] == "alarm_seen")
        .expect("seen");
    assert_eq!(seen["active_events"], 2);
    assert!(seen["last_notified"].as_f64().is_some());
    let broken = status["alarms"]
        .as_array()
        .expect("alarms")
        .iter()
        .find(|a| a["entry_id"] == "alarm_broken")
        .expect("broken");
    assert!(broken["last_error"]
        .as_str()
        .unwrap_or_default()
        .contains("asked to fail"));
    assert_eq!(status["ticks"].as_array().expect("ticks").len(), 2);
    assert_eq!(status["ticks"][0]["status"], "done");

    let text = swf(Some(&config), &["status"]);
    let text = stdout(&text);
    assert!(text.lines().all(|l| l.chars().count() <= 80), "{text}");
    assert!(
        text.contains("alarm_seen") && text.contains("last error:"),
        "{text}"
    );
}

fn parse_metrics(text: &str) -> prometheus_parse::Scrape {
    let lines = text.lines().map(|l| Ok(l.to_owned()));
    let scrape = prometheus_parse::Scrape::parse(lines).expect("Prometheus text");
    let sample_lines = text
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .count();
    assert_eq!(
        scrape.samples.len(),
        sample_lines,
        "every sample line parses:\n{text}"
    );
    scrape
}

fn gauge(scrape: &prometheus_parse::Scrape, name: &str) -> Option<f64> {
    scrape
        .samples
        .iter()
        .find(|s| s.metric == name)
        .and_then(|s| match s.value {
            prometheus_parse::Value::Gauge(v) => Some(v),
            _ => None,
        })
}

#[tokio::test]
async fn metrics_textfile_parses_and_is_replaced_atomically() {
    use std::os::unix::fs::MetadataExt;

    let db = TestDb::new();
    let client = db.client().await;
    let alarm = insert_alarm(&client, "alarm_metered", "", static_alarm(&["a", "b", "c"])).await;
    insert_alarm(
        &client,
        "alarm_broken",
        "",
        json!({"detector": "static_list", "params": {"fail": true}}),
    )
    .await;
    let dir =
        std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("metrics-{}", db.name));
    std::fs::create_dir_all(&dir).expect("dir");
    let path = dir.join("swf_alarms.prom");
    let config = db.config_file(&format!(
        "metrics_textfile = {:?}\n",
        path.display().to_string()
    ));

    let out = swf(Some(&config), &["run"]);
    assert_eq!(out.status.code(), Some(1), "{}", output_text(&out));
    let first = std::fs::read_to_string(&path).expect("textfile written");
    let scrape = parse_metrics(&first);
    assert_eq!(gauge(&scrape, "swf_alarms_alarms_run"), Some(2.0));
    assert_eq!(gauge(&scrape, "swf_alarms_alarms_errored"), Some(1.0));
    assert_eq!(gauge(&scrape, "swf_alarms_detections"), Some(3.0));
    assert_eq!(gauge(&scrape, "swf_alarms_emails_sent"), Some(1.0));
    assert_eq!(
        gauge(&scrape, "swf_alarms_last_success_timestamp_seconds"),
        None,
        "no clean tick yet"
    );
    let active = scrape
        .samples
        .iter()
        .find(|s| {
            s.metric == "swf_alarms_active_events" && s.labels.get("alarm") == Some("alarm_metered")
        })
        .expect("per-alarm active events");
    assert_eq!(active.value, prometheus_parse::Value::Gauge(3.0));

    // Hold the old file open across the next tick: an atomic replacement
    // leaves it whole and puts a new file (a new inode) at the path.
    let held = std::fs::File::open(&path).expect("open");
    let old_inode = held.metadata().expect("meta").ino();
    set_params(&client, &alarm, json!({"detections": detections(&["a"])})).await;
    client
        .execute(
            "UPDATE entry SET archived = true WHERE data->>'entry_id' = 'alarm_broken'",
            &[],
        )
        .await
        .expect("archive the broken one");
    let out = swf(Some(&config), &["run"]);
    assert_eq!(out.status.code(), Some(0), "{}", output_text(&out));
    let mut old_text = String::new();
    std::io::Read::read_to_string(&mut &held, &mut old_text).expect("read old");
    assert_eq!(old_text, first, "the old file was not rewritten in place");
    assert_ne!(std::fs::metadata(&path).expect("meta").ino(), old_inode);
    let scrape = parse_metrics(&std::fs::read_to_string(&path).expect("new textfile"));
    assert_eq!(gauge(&scrape, "swf_alarms_events_cleared"), Some(2.0));
    assert!(gauge(&scrape, "swf_alarms_last_success_timestamp_seconds").is_some());
    let leftovers: Vec<_> = std::fs::read_dir(&dir)
        .expect("list")
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert_eq!(leftovers.len(), 1, "no temporary files left: {leftovers:?}");
    let last_success = gauge(&scrape, "swf_alarms_last_success_timestamp_seconds");

    // A run locked out by another session refreshes the file too: it says
    // so, and keeps the last tick's times.
    let holder = db.client().await;
    holder
        .query_one("SELECT pg_advisory_lock(8320231405206467181)", &[])
        .await
        .expect("take the tick lock");
    let out = swf(Some(&config), &["run"]);
    assert_eq!(out.status.code(), Some(0), "{}", output_text(&out));
    let scrape = parse_metrics(&std::fs::read_to_string(&path).expect("textfile"));
    assert_eq!(
        gauge(&scrape, "swf_alarms_last_attempt_locked_out"),
        Some(1.0)
    );
    assert_eq!(gauge(&scrape, "swf_alarms_last_attempt_ran"), Some(0.0));
    assert_eq!(
        gauge(&scrape, "swf_alarms_last_success_timestamp_seconds"),
        last_success
    );
    assert_eq!(
        gauge(&scrape, "swf_alarms_alarms_run"),
        None,
        "no tick, no tick numbers"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn install_script_is_safe_to_run_twice() {
    let db = TestDb::new();
    let root =
        std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("install-{}", db.name));
    let _ = std::fs::remove_dir_all(&root);
    let (prefix, config_dir) = (root.join("prefix"), root.join("etc"));
    std::fs::create_dir_all(&config_dir).expect("dir");
    std::fs::copy(db.config_file(""), config_dir.join("config.toml")).expect("config in place");
    for _ in 0..2 {
        let out = Command::new(concat!(env!("CARGO_MANIFEST_DIR"), "/deploy/install.sh"))
            .args(["--prefix"])
            .arg(&prefix)
            .arg("--config-dir")
            .arg(&config_dir)
            .env("SWF_ALARMS_BINARY", env!("CARGO_BIN_EXE_swf-alarms"))
            .output()
            .expect("run install.sh");
        assert!(out.status.success(), "{}", output_text(&out));
        assert!(
            stdout(&out).contains("Keeping the existing"),
            "{}",
            output_text(&out)
        );
    }
    assert!(config_dir.join("logs").is_dir());
    let run = Command::new(prefix.join("bin/swf-alarms-run"))
        .arg("--config")
        .arg(config_dir.join("config.toml"))
        .arg("--dry-run")
        .output()
        .expect("swf-alarms-run");
    assert_eq!(run.status.code(), Some(0), "{}", output_text(&run));
    let _ = std::fs::remove_dir_all(&root);
}

#[tokio::test]
async fn columns_edited_by_hand_do_not_panic_any_command() {
    let db = TestDb::new();
    let client = db.client().await;
    insert_alarm(&client, "alarm_nulls", "", static_alarm(&["a"])).await;
    // The contract says NOT NULL; a database altered by hand may not.
    client
        .batch_execute(
            "ALTER TABLE entry ALTER COLUMN content DROP NOT NULL;
             ALTER TABLE entry ALTER COLUMN title DROP NOT NULL;
             UPDATE entry SET content = NULL, title = NULL WHERE kind = 'alarm';",
        )
        .await
        .expect("edit by hand");
    let config = db.config_file("");
    let out = swf(Some(&config), &["run", "--dry-run"]);
    assert_eq!(out.status.code(), Some(0), "{}", output_text(&out));
    // An event whose title is NULL and whose data has no subject.
    client
        .batch_execute(
            "UPDATE entry SET title = NULL, data = data - 'subject' WHERE kind = 'event';",
        )
        .await
        .expect("edit the event by hand");
    for args in [
        &["run", "--dry-run"][..],
        &["status"],
        &["status", "--json"],
        &["alarm", "list"],
        &["alarm", "show", "alarm_nulls"],
        &["check"],
    ] {
        let out = swf(Some(&config), args);
        assert!(
            matches!(out.status.code(), Some(0 | 1)),
            "{args:?}: {}",
            output_text(&out)
        );
    }
    assert_eq!(active(&client, "alarm_nulls").await.len(), 1);
}

//! Issue 11: hostile rows, bodies, files and values next to a healthy
//! alarm. Each test reproduces one input and asserts that the healthy
//! alarm still runs and mails, that the process ends with the documented
//! status, and that nothing is cleared that should not be.

use std::process::Output;

use serde_json::{json, Value};

use crate::harness::*;

fn swf(config: &std::path::Path, args: &[&str]) -> Output {
    swf_alarms_bin()
        .args(args)
        .arg("--config")
        .arg(config)
        .output()
        .expect("run swf-alarms")
}

/// JSON text nested `depth` arrays deep.
fn nested(depth: usize) -> String {
    format!("{}1{}", "[".repeat(depth), "]".repeat(depth))
}

/// Inserts an alarm row whose `data` is the given JSON text (which
/// serde_json values cannot hold: `1e400`, nesting 200 deep); returns its id.
async fn insert_alarm_text(client: &tokio_postgres::Client, entry_id: &str, data: &str) -> String {
    let id = uuid::Uuid::new_v4().to_string();
    client
        .execute(
            "INSERT INTO entry (id, title, content, kind, context_id, name, data, status,
                                archived, timestamp_created, timestamp_modified)
             VALUES ($1, $2, '', 'alarm', 'swf-alarms', $2, $3::text::jsonb, 'active', false,
                     extract(epoch from now()), extract(epoch from now()))",
            &[&id, &entry_id, &data],
        )
        .await
        .expect("insert hostile alarm");
    id
}

/// Sets `data.<key>` of a row to the given JSON text.
async fn set_key_text(client: &tokio_postgres::Client, id: &str, key: &str, value: &str) {
    client
        .execute(
            "UPDATE entry SET data = jsonb_set(data, ARRAY[$2::text], $3::text::jsonb) WHERE id = $1",
            &[&id, &key, &value],
        )
        .await
        .expect("set hostile key");
}

#[tokio::test]
async fn issue_11_unreadable_alarm_rows_fail_alone_and_commands_name_them() {
    let db = TestDb::new();
    let client = db.client().await;
    insert_alarm(&client, "alarm_healthy", "", static_alarm(&["h"])).await;
    let deep = insert_alarm_text(
        &client,
        "alarm_deep",
        &format!(
            r#"{{"entry_id": "alarm_deep", "detector": "static_list", "params": {{"x": {}}}}}"#,
            nested(200)
        ),
    )
    .await;
    let huge = insert_alarm_text(
        &client,
        "alarm_huge",
        r#"{"entry_id": "alarm_huge", "detector": "static_list", "renotification_window_hours": 1e400}"#,
    )
    .await;

    let s = tick(&db.config(), false).await;
    assert_eq!((s.alarms_errored, s.emails_sent), (2, 1), "{s:?}");
    assert_eq!(active(&client, "alarm_healthy").await.len(), 1);
    let (status, run) = last_run(&client).await;
    assert_eq!(status, "done");
    let deep_error = run["per_alarm"]["alarm_deep"]["error_message"]
        .as_str()
        .unwrap_or("");
    assert!(
        deep_error.contains(&deep) && deep_error.contains("nested more than 128"),
        "{deep_error}"
    );
    let huge_error = run["per_alarm"]["alarm_huge"]["error_message"]
        .as_str()
        .unwrap_or("");
    assert!(
        huge_error.contains(&huge) && huge_error.contains("64-bit float"),
        "{huge_error}"
    );

    // The operator can still find the rows: no command panics (101).
    let config = db.config_file("");
    let check = swf(&config, &["check"]);
    assert_eq!(check.status.code(), Some(1), "{}", output_text(&check));
    let text = output_text(&check);
    for id in [&deep, &huge] {
        assert!(text.contains(id.as_str()), "check names {id}:\n{text}");
    }
    for args in [&["status"][..], &["status", "--json"], &["alarm", "list"]] {
        let out = swf(&config, args);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{args:?}: {}",
            output_text(&out)
        );
        assert!(output_text(&out).contains("alarm_deep"), "{args:?}");
    }
    let show = swf(&config, &["alarm", "show", "alarm_huge"]);
    assert_eq!(show.status.code(), Some(0), "{}", output_text(&show));
    // Editing a row the engine cannot read would overwrite it with a stub.
    let before: String = client
        .query_one("SELECT data::text FROM entry WHERE id = $1", &[&huge])
        .await
        .expect("row")
        .get(0);
    let disable = swf(&config, &["alarm", "disable", "alarm_huge"]);
    assert_eq!(disable.status.code(), Some(2), "{}", output_text(&disable));
    let after: String = client
        .query_one("SELECT data::text FROM entry WHERE id = $1", &[&huge])
        .await
        .expect("row")
        .get(0);
    assert_eq!(before, after, "nothing written");
}

#[tokio::test]
async fn issue_11_unreadable_event_bookkeeping_is_reported_and_repaired() {
    let db = TestDb::new();
    let client = db.client().await;
    let config = db.config();
    insert_alarm(&client, "alarm_healthy", "", static_alarm(&["h"])).await;
    insert_alarm(&client, "alarm_victim", "", static_alarm(&["a", "b"])).await;
    tick(&config, false).await;
    let events = active(&client, "alarm_victim").await;
    let a = events.iter().find(|e| e.key() == "a").expect("a");
    let b = events.iter().find(|e| e.key() == "b").expect("b");
    set_key_text(&client, &a.id, "last_notified", "1e400").await;
    set_key_text(&client, &b.id, "fire_time", &nested(200)).await;
    // A run row nested 200 deep too: `status` must still work.
    let (_, _) = last_run(&client).await;
    client
        .execute(
            "UPDATE entry SET data = jsonb_set(data, '{per_alarm}', $1::text::jsonb)
             WHERE kind = 'engine_run'",
            &[&nested(200)],
        )
        .await
        .expect("deep run row");

    for _ in 0..2 {
        let s = tick(&config, false).await;
        assert_eq!(s.alarms_errored, 0, "{s:?}");
    }
    // (The harness's event reader decodes `data`, which b's cannot be.)
    let read = |id: String| {
        let client = &client;
        async move {
            let row = client
                .query_one(
                    "SELECT data->>'last_notified', data->>'clear_time' FROM entry WHERE id = $1",
                    &[&id],
                )
                .await
                .expect("event row");
            (
                row.get::<_, Option<String>>(0),
                row.get::<_, Option<String>>(1),
            )
        }
    };
    let (a_notified, a_cleared) = read(a.id.clone()).await;
    let (_, b_cleared) = read(b.id.clone()).await;
    assert_eq!((a_cleared, b_cleared), (None, None), "nothing cleared");
    assert!(
        a_notified
            .as_deref()
            .and_then(|t| t.parse::<f64>().ok())
            .is_some_and(f64::is_finite),
        "unreadable last_notified counts as never notified and is re-stamped: {a_notified:?}"
    );
    let (_, run) = last_run(&client).await;
    let note = run["per_alarm"]["alarm_victim"]["error_message"]
        .as_str()
        .unwrap_or("");
    assert!(note.contains(&b.id) && note.contains("fire_time"), "{note}");
    assert_eq!(run["per_alarm"]["alarm_healthy"]["errors"], 0);

    let file = db.config_file("");
    for args in [&["status"][..], &["status", "--json"]] {
        let out = swf(&file, args);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{args:?}: {}",
            output_text(&out)
        );
    }
}

#[tokio::test]
async fn issue_11_two_live_rows_with_one_entry_id_run_the_newest_only() {
    let db = TestDb::new();
    let client = db.client().await;
    let config = db.config();
    insert_alarm(&client, "alarm_healthy", "", static_alarm(&["h"])).await;
    let older = insert_alarm(&client, "alarm_twin", "", static_alarm(&["b"])).await;
    // The dashboard keeps `name` unique per context: a copy has none.
    client
        .execute(
            "UPDATE entry SET name = NULL, timestamp_created = timestamp_created - 3600 WHERE id = $1",
            &[&older],
        )
        .await
        .expect("age the first row");
    let newest = insert_alarm(&client, "alarm_twin", "", static_alarm(&["a"])).await;

    let first = tick(&config, false).await;
    assert_eq!(
        (first.emails_sent, first.alarms_errored),
        (2, 1),
        "{first:?}"
    );
    let second = tick(&config, false).await;
    assert_eq!(
        (second.emails_sent, second.new_events, second.cleared),
        (0, 0, 0),
        "no flip-flop: {second:?}"
    );
    let twins = events(&client, "alarm_twin").await;
    assert_eq!(twins.len(), 1, "{twins:?}");
    assert_eq!(twins[0].key(), "a");
    assert_eq!(twins[0].data["alarm_config_id"], json!(newest));
    let (_, run) = last_run(&client).await;
    let loser = &run["per_alarm"][format!("row:{older}")];
    let message = loser["error_message"].as_str().unwrap_or("");
    assert!(
        message.contains(&older) && message.contains(&newest),
        "names both rows: {run}"
    );
    assert_eq!(run["per_alarm"]["alarm_twin"]["errors"], 0);
    let shown: Value = serde_json::from_str(&String::from_utf8_lossy(
        &swf(&db.config_file(""), &["alarm", "show", "alarm_twin"]).stdout,
    ))
    .expect("json");
    assert_eq!(shown["id"], json!(newest), "show and the tick agree");
}

#[tokio::test]
async fn issue_11_long_recipient_lists_and_non_addresses_still_mail() {
    let sink = crate::harness::mail::SmtpSink::start();
    let db = TestDb::new();
    let client = db.client().await;
    let crowd: Vec<String> = (0..300)
        .map(|i| format!("person.{i}@test.example"))
        .collect();
    insert_team(&client, "@crowd", &crowd.join("\n")).await;
    insert_alarm(
        &client,
        "alarm_crowd",
        "",
        json!({"detector": "static_list", "recipients": "lead@test.example\r\nBcc: evil@test.example, @crowd",
               "params": {"detections": detections(&["x"])}}),
    )
    .await;
    insert_alarm(&client, "alarm_healthy", "", static_alarm(&["h"])).await;
    let config = db.config_mail("", &sink.email_toml());
    let s = tick(&config, false).await;
    assert_eq!((s.emails_sent, s.alarms_errored), (2, 0), "{s:?}");
    let messages = sink.messages();
    let crowd_mail = messages
        .iter()
        .find(|m| m.contains("[alarm_crowd]"))
        .expect("the crowd's bundle arrived");
    // Every line we sent within the SMTP limit (the sink adds X-RcptTo),
    // every address in the envelope.
    assert!(crowd_mail
        .lines()
        .filter(|l| !l.starts_with("X-RcptTo: "))
        .all(|l| l.len() <= 998));
    let rcpt = crowd_mail
        .lines()
        .find_map(|l| l.strip_prefix("X-RcptTo: "))
        .expect("envelope recipients");
    assert_eq!(rcpt.split(", ").count(), 302, "{rcpt}");
    let (_, run) = last_run(&client).await;
    let note = run["per_alarm"]["alarm_crowd"]["error_message"]
        .as_str()
        .unwrap_or("");
    assert!(
        note.contains("\"Bcc:\""),
        "the dropped token is named: {note}"
    );

    // `check` and `alarm create` refuse the token up front.
    let file = db.config_file_mail("", &sink.email_toml());
    let check = swf(&file, &["check"]);
    assert_eq!(check.status.code(), Some(1));
    assert!(output_text(&check).contains("\"Bcc:\" is not an email address"));
    let create = swf(
        &file,
        &[
            "alarm",
            "create",
            "alarm_new",
            "--detector",
            "static_list",
            "--params",
            r#"{"detections": []}"#,
            "--recipients",
            "a@test.example Bcc: b@test.example",
        ],
    );
    assert_eq!(create.status.code(), Some(2), "{}", output_text(&create));
    assert!(output_text(&create).contains("Bcc:"));
    assert_eq!(
        client
            .query_one(
                "SELECT count(*) FROM entry WHERE data->>'entry_id' = 'alarm_new'",
                &[]
            )
            .await
            .expect("count")
            .get::<_, i64>(0),
        0,
        "nothing written"
    );
}

/// A loopback HTTP server answering every request with an endless
/// chunked body of JSON white space (it stops once the reader hangs up,
/// or after 1 GiB).
fn endless_body_server() -> String {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            std::thread::spawn(move || {
                let mut head = [0u8; 4096];
                let _ = stream.read(&mut head);
                let _ = stream.write_all(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n",
                );
                let chunk = format!("2000\r\n{}\r\n", " ".repeat(0x2000));
                for _ in 0..(1usize << 30) / 0x2000 {
                    if stream.write_all(chunk.as_bytes()).is_err() {
                        return;
                    }
                }
            });
        }
    });
    format!("http://{addr}")
}

/// A healthy alarm, and a PanDA alarm to be fed a hostile body.
async fn healthy_and_panda_alarms(client: &tokio_postgres::Client) {
    insert_alarm(client, "alarm_healthy", "", static_alarm(&["h"])).await;
    insert_alarm(
        client,
        "alarm_panda",
        "",
        json!({"detector": "panda_task_status", "recipients": "ops@test.example", "params": {}}),
    )
    .await;
}

#[tokio::test]
async fn issue_11_oversized_and_endless_panda_bodies_fail_at_the_cap() {
    let db = TestDb::new();
    let client = db.client().await;
    healthy_and_panda_alarms(&client).await;
    let engine = |url: &str| {
        format!("service_base_url = \"{url}\"\nrequest_timeout = 10\nmax_read_mib = 0.0625\n")
    };

    // A page of 1 MiB, announced by its Content-Length.
    let server = wiremock::MockServer::start().await;
    wiremock::Mock::given(wiremock::matchers::method("GET"))
        .respond_with(
            wiremock::ResponseTemplate::new(200)
                .set_body_raw(format!("[{}]", " ".repeat(1 << 20)), "application/json"),
        )
        .mount(&server)
        .await;
    // An endless chunked body.
    let endless = endless_body_server();
    for url in [server.uri(), endless] {
        let s = tick(&db.config_with(&engine(&url)), false).await;
        assert_eq!(s.alarms_errored, 1, "{url}: {s:?}");
        let (_, run) = last_run(&client).await;
        let error = run["per_alarm"]["alarm_panda"]["error_message"]
            .as_str()
            .unwrap_or("");
        assert!(
            error.contains("larger than 65536 bytes") && error.contains("max_read_mib"),
            "{url}: {error}"
        );
        assert_eq!(run["per_alarm"]["alarm_healthy"]["errors"], 0);
    }
    assert_eq!(active(&client, "alarm_healthy").await.len(), 1);
}

/// Runs the binary to its end and returns its exit code, its output and
/// its peak resident set in KiB (wait4's rusage of that one child, so the
/// test's other processes do not count).
// The child is reaped by wait4, which clippy cannot see.
#[allow(clippy::zombie_processes)]
fn run_measuring_rss(mut cmd: std::process::Command) -> (Option<i32>, String, i64) {
    use std::io::Read;
    let mut child = cmd
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut stderr = child.stderr.take().expect("stderr");
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });
    let pid = child.id() as libc::pid_t;
    let mut status: libc::c_int = 0;
    // SAFETY: an all-zero rusage is a valid value, and wait4 writes only
    // into the two out-parameters, for a child this process spawned and
    // has not reaped.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let reaped = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(reaped, pid, "wait4");
    let code = libc::WIFEXITED(status).then(|| libc::WEXITSTATUS(status));
    (code, reader.join().expect("stderr reader"), usage.ru_maxrss)
}

/// At the default read cap (32 MiB), neither an endless PanDA body nor a
/// 1 GiB snapshot file can grow the process: both fail their alarm and
/// the peak stays a small multiple of the cap.
#[tokio::test]
async fn issue_11_memory_stays_bounded_at_the_default_read_cap() {
    let db = TestDb::new();
    let client = db.client().await;
    healthy_and_panda_alarms(&client).await;
    let dir = scratch_dir("gib");
    // Sparse: a GiB to read, no disk spent.
    std::fs::File::create(dir.join("latest.json"))
        .and_then(|f| f.set_len(1 << 30))
        .expect("sparse file");
    insert_alarm(
        &client,
        "alarm_snapshot",
        "",
        json!({"detector": "ops_collector_stale", "recipients": "ops@test.example",
               "params": {"snapshot_dir": dir}}),
    )
    .await;
    let endless = endless_body_server();
    let mut cmd = swf_alarms_bin();
    cmd.args(["run", "--config"]).arg(db.config_file(&format!(
        "service_base_url = \"{endless}\"\nrequest_timeout = 60\nalarm_timeout = 90\n"
    )));
    let (code, text, peak_kib) = run_measuring_rss(cmd);
    assert_eq!(code, Some(1), "{text}");
    let (_, run) = last_run(&client).await;
    for alarm in ["alarm_panda", "alarm_snapshot"] {
        let error = run["per_alarm"][alarm]["error_message"]
            .as_str()
            .unwrap_or("");
        assert!(error.contains("max_read_mib"), "{alarm}: {error}");
    }
    assert_eq!(run["per_alarm"]["alarm_healthy"]["bundle_sent"], true);
    assert!(
        peak_kib < 128 * 1024,
        "peak RSS {} MiB at a 32 MiB cap",
        peak_kib / 1024
    );
    let _ = std::fs::remove_dir_all(dir);
}

/// Runs the binary, failing (not hanging) if it has not exited in 120 s.
fn run_bounded(mut cmd: std::process::Command) -> Output {
    let child = cmd
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    rx.recv_timeout(std::time::Duration::from_secs(120))
        .expect("the process exits")
        .expect("output")
}

fn mkfifo(path: &std::path::Path) {
    let status = std::process::Command::new("mkfifo")
        .arg(path)
        .status()
        .expect("mkfifo");
    assert!(status.success());
}

#[tokio::test]
async fn issue_11_snapshot_pipes_devices_and_huge_files_fail_and_the_process_exits() {
    let db = TestDb::new();
    let client = db.client().await;
    insert_alarm(&client, "alarm_healthy", "", static_alarm(&["h"])).await;
    let root = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("hostile-snaps-{}", uuid::Uuid::new_v4()));
    let today = chrono::Utc::now().format("%Y%m%d").to_string();
    type Make = Box<dyn Fn(&std::path::Path)>;
    let cases: Vec<(&str, Make, &str)> = vec![
        (
            "zero",
            Box::new(|d| {
                std::os::unix::fs::symlink("/dev/zero", d.join("latest.json")).expect("link")
            }),
            "not a regular file",
        ),
        (
            "zero_day",
            Box::new(move |d| {
                std::os::unix::fs::symlink(
                    "/dev/zero",
                    d.join(format!("ops_monitor_{today}.jsonl")),
                )
                .expect("link")
            }),
            "not a regular file",
        ),
        (
            "fifo_latest",
            Box::new(|d| mkfifo(&d.join("latest.json"))),
            "not a regular file",
        ),
        (
            "fifo_day",
            Box::new(|d| mkfifo(&d.join("ops_monitor_20991231.jsonl"))),
            "not a regular file",
        ),
        (
            "huge",
            Box::new(|d| {
                std::fs::write(d.join("latest.json"), " ".repeat(1 << 20)).expect("write")
            }),
            "max_read_mib",
        ),
    ];
    for (name, make, _) in &cases {
        let dir = root.join(name);
        std::fs::create_dir_all(&dir).expect("dir");
        make(&dir);
        insert_alarm(
            &client,
            &format!("alarm_snap_{name}"),
            "",
            json!({"detector": "ops_collector_stale", "recipients": "ops@test.example",
                   "params": {"snapshot_dir": dir}}),
        )
        .await;
    }
    let mut cmd = swf_alarms_bin();
    cmd.args(["run", "--config"])
        .arg(db.config_file("max_read_mib = 0.0625\nalarm_timeout = 30\n"));
    let out = run_bounded(cmd);
    assert_eq!(out.status.code(), Some(1), "{}", output_text(&out));
    let (_, run) = last_run(&client).await;
    for (name, _, want) in &cases {
        let error = run["per_alarm"][format!("alarm_snap_{name}")]["error_message"]
            .as_str()
            .unwrap_or("");
        assert!(error.contains(want), "{name}: {error}");
    }
    assert_eq!(run["per_alarm"]["alarm_healthy"]["bundle_sent"], true);
    let _ = std::fs::remove_dir_all(root);
}

/// The degraded AURORA fixture's one record, as text, and its time.
fn degraded_record() -> (String, f64) {
    let path = format!(
        "{}/tests/fixtures/aurora/ops_monitor_snapshot_degraded.jsonl",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(path).expect("fixture");
    let line = text.lines().next().expect("a line").to_owned();
    let record: Value = serde_json::from_str(&line).expect("json");
    let epoch = record["snapshot_epoch"].as_f64().expect("epoch");
    (line, epoch)
}

/// A fresh directory under the test target dir.
fn scratch_dir(tag: &str) -> std::path::PathBuf {
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("hostile-{tag}-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).expect("dir");
    dir
}

#[tokio::test]
async fn issue_11_unreadable_snapshot_reports_the_collector_and_keeps_other_alerts() {
    let (line, epoch) = degraded_record();
    for (name, unreadable) in [
        ("garbage", b"this is not json\n\x01\x02".to_vec()),
        ("empty", Vec::new()),
        ("zeros", vec![0u8; 64 * 1024]),
    ] {
        let db = TestDb::new();
        let client = db.client().await;
        let config = db.config();
        let dir = scratch_dir(name);
        let day = dir.join("ops_monitor_20260821.jsonl");
        std::fs::write(&day, format!("{line}\n")).expect("write");
        insert_alarm(&client, "alarm_healthy", "", static_alarm(&["h"])).await;
        insert_alarm(
            &client,
            "alarm_aurora",
            "",
            json!({"detector": "aurora_ops", "recipients": "ops@test.example",
                   "params": {"snapshot_dir": dir}}),
        )
        .await;
        tick_at(&config, false, Some(epoch + 60.0)).await;
        let before: Vec<String> = active(&client, "alarm_aurora")
            .await
            .iter()
            .map(|e| e.key().to_owned())
            .collect();
        assert!(
            before.iter().any(|k| k.starts_with("storage:")),
            "{before:?}"
        );

        std::fs::write(&day, &unreadable).expect("overwrite");
        let s = tick_at(&config, false, Some(epoch + 120.0)).await;
        assert_eq!(s.cleared, 0, "{name}: nothing cleared");
        assert_eq!(s.alarms_errored, 1, "{name}: {s:?}");
        let after: Vec<String> = active(&client, "alarm_aurora")
            .await
            .iter()
            .map(|e| e.key().to_owned())
            .collect();
        for key in &before {
            assert!(after.contains(key), "{name}: {key} kept: {after:?}");
        }
        assert!(
            after.iter().any(|k| k == "ops_collector_stale"),
            "{name}: {after:?}"
        );
        let (_, run) = last_run(&client).await;
        assert_eq!(
            run["per_alarm"]["alarm_aurora"]["bundle_sent"], true,
            "{name}: stale mailed"
        );
        assert_eq!(run["per_alarm"]["alarm_healthy"]["errors"], 0);
        let _ = std::fs::remove_dir_all(dir);
    }
}

#[tokio::test]
async fn issue_11_a_snapshot_from_the_future_fires_with_its_own_reason() {
    let (line, epoch) = degraded_record();
    let db = TestDb::new();
    let client = db.client().await;
    let dir = scratch_dir("future");
    std::fs::write(dir.join("ops_monitor_20260821.jsonl"), format!("{line}\n")).expect("write");
    insert_alarm(
        &client,
        "alarm_collector",
        "",
        json!({"detector": "ops_collector_stale", "recipients": "ops@test.example",
               "params": {"snapshot_dir": dir}}),
    )
    .await;
    // The engine's clock is two hours behind the record.
    tick_at(&db.config(), false, Some(epoch - 7200.0)).await;
    let events = active(&client, "alarm_collector").await;
    assert_eq!(events.len(), 1, "{events:?}");
    assert!(
        events[0].title.contains("in the future"),
        "{}",
        events[0].title
    );
    // A record a minute ahead (clock skew) is fine.
    tick_at(&db.config(), false, Some(epoch - 60.0)).await;
    assert!(active(&client, "alarm_collector").await.is_empty());
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn issue_11_an_over_long_dedupe_key_does_not_sink_the_other_detections() {
    let db = TestDb::new();
    let client = db.client().await;
    let config = db.config();
    let long = format!("task:{}", "9".repeat(5000));
    let mut data = static_alarm(&["a", "b"]);
    data["params"]["detections"]
        .as_array_mut()
        .expect("list")
        .push(json!({"dedupe_key": long, "subject": "long", "body": "long key"}));
    insert_alarm(&client, "alarm_long", "", data).await;
    for round in 0..2 {
        let s = tick(&config, false).await;
        assert_eq!(s.alarms_errored, 0, "round {round}: {s:?}");
        let keys: Vec<String> = active(&client, "alarm_long")
            .await
            .iter()
            .map(|e| e.key().to_owned())
            .collect();
        assert_eq!(keys.len(), 3, "round {round}: {keys:?}");
        assert!(keys.iter().all(|k| k.len() <= 512), "round {round}");
    }
    assert_eq!(
        events(&client, "alarm_long").await.len(),
        3,
        "the same key each tick"
    );
    let (_, run) = last_run(&client).await;
    let note = run["per_alarm"]["alarm_long"]["error_message"]
        .as_str()
        .unwrap_or("");
    assert!(note.contains("dedupe key(s) longer than 512"), "{note}");
}

#[tokio::test]
async fn issue_11_panda_ids_outside_i64_are_skipped_per_task_not_merged() {
    let db = TestDb::new();
    let client = db.client().await;
    insert_alarm(
        &client,
        "alarm_dead",
        "",
        json!({"detector": "panda_task_status", "recipients": "ops@test.example",
               "params": {"statuses": ["broken"]}}),
    )
    .await;
    let task = |id: Value| {
        json!({"jeditaskid": id, "taskname": "t", "status": "broken", "username": "u",
               "modificationtime": "2026-11-23T10:00:00"})
    };
    let page = json!({
        "items": [task(json!(1e30)), task(json!("123456789012345678901234567890")),
                  task(json!(-5)), task(json!(35981)), task(json!(2e30))],
        "total_count": 5, "has_more": false, "next_before_id": null, "summary": {}, "filters": {},
    });
    let server = wiremock::MockServer::start().await;
    wiremock::Mock::given(wiremock::matchers::method("GET"))
        .respond_with(wiremock::ResponseTemplate::new(200).set_body_json(page))
        .mount(&server)
        .await;
    let engine = format!(
        "service_base_url = \"{}\"\nrequest_timeout = 5\n",
        server.uri()
    );
    let s = tick(&db.config_with(&engine), false).await;
    assert_eq!(s.alarms_errored, 0, "{s:?}");
    let keys: Vec<String> = active(&client, "alarm_dead")
        .await
        .iter()
        .map(|e| e.key().to_owned())
        .collect();
    assert_eq!(keys, ["task:35981"]);
}

#[tokio::test]
async fn issue_11_database_checks_read_only_allowed_tables_never_catalogs() {
    let db = TestDb::new();
    let client = db.client().await;
    insert_alarm(&client, "alarm_healthy", "", static_alarm(&["h"])).await;
    let probe = |table: &str| {
        json!({"detector": "db_rate", "recipients": "ops@test.example",
               "params": {"name": "x", "table": table, "time_column": "timestamp_created",
                          "filters": {"kind": "alarm"}, "window_minutes": 60, "max_count": 0}})
    };
    insert_alarm(&client, "alarm_entry", "", probe("entry")).await;
    insert_alarm(&client, "alarm_authid", "", probe("pg_catalog.pg_authid")).await;
    insert_alarm(&client, "alarm_bare_authid", "", probe("pg_authid")).await;
    insert_alarm(
        &client,
        "alarm_schema",
        "",
        probe("information_schema.tables"),
    )
    .await;

    let s = tick(&db.config(), false).await;
    assert_eq!(s.alarms_errored, 4, "{s:?}");
    let (_, run) = last_run(&client).await;
    let error = |key: &str| {
        run["per_alarm"][key]["error_message"]
            .as_str()
            .unwrap_or("")
            .to_owned()
    };
    assert!(
        error("alarm_entry").contains("engine.db_check_tables"),
        "{}",
        error("alarm_entry")
    );
    for key in ["alarm_authid", "alarm_bare_authid", "alarm_schema"] {
        assert!(
            error(key).contains("system catalog"),
            "{key}: {}",
            error(key)
        );
    }
    assert_eq!(run["per_alarm"]["alarm_healthy"]["errors"], 0);

    // Listing a table lets it be read; listing a catalog is a config error.
    let s = tick(&db.config_with("db_check_tables = [\"entry\"]\n"), false).await;
    assert_eq!(s.alarms_errored, 3, "{s:?}");
    let bad = swf_alarms::config::Config::from_toml(
        std::path::Path::new("t.toml"),
        &db.toml("db_check_tables = [\"pg_catalog.pg_authid\"]\n", ""),
        &|_| None,
    );
    let message = bad.expect_err("refused").to_string();
    assert!(message.contains("engine.db_check_tables"), "{message}");
}

#[tokio::test]
async fn issue_11_probe_redirects_off_http_fail_and_internal_targets_can_be_refused() {
    use wiremock::{matchers::path, Mock, MockServer, ResponseTemplate};
    let server = MockServer::start().await;
    Mock::given(path("/to-file"))
        .respond_with(ResponseTemplate::new(302).insert_header("Location", "file:///etc/passwd"))
        .mount(&server)
        .await;
    Mock::given(path("/ok"))
        .respond_with(ResponseTemplate::new(200).set_body_string("ok"))
        .mount(&server)
        .await;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let open_port = listener.local_addr().expect("addr").port();
    let db = TestDb::new();
    let client = db.client().await;
    let base = server.uri();
    let target = |name: &str, url: String| json!({"name": name, "url": url, "timeout_seconds": 5});
    insert_alarm(
        &client,
        "alarm_http",
        "",
        json!({"detector": "http_health", "recipients": "ops@test.example", "params": {"targets": [
            target("file", format!("{base}/to-file")),
            target("ok", format!("{base}/ok")),
            target("named", format!("http://localhost:{}/ok", server.address().port())),
        ]}}),
    )
    .await;
    insert_alarm(
        &client,
        "alarm_tcp",
        "",
        json!({"detector": "tcp_port", "recipients": "ops@test.example", "params": {"targets": [
            {"name": "open", "host": "127.0.0.1", "port": open_port, "timeout_seconds": 5},
        ]}}),
    )
    .await;

    // Default: loopback is probed; the redirect to file: is a failure.
    let s = tick(&db.config(), false).await;
    assert_eq!(s.alarms_errored, 0, "{s:?}");
    let http = active(&client, "alarm_http").await;
    let keys: Vec<&str> = http.iter().map(Event::key).collect();
    assert_eq!(keys, ["http:file"], "{http:?}");
    assert!(
        http[0].content.contains("not an http(s) URL"),
        "{}",
        http[0].content
    );
    assert!(active(&client, "alarm_tcp").await.is_empty());

    // probe_public_only: every loopback target fails, named or literal.
    tick(&db.config_with("probe_public_only = true\n"), false).await;
    let mut keys: Vec<String> = active(&client, "alarm_http")
        .await
        .iter()
        .map(|e| e.key().to_owned())
        .collect();
    keys.sort();
    assert_eq!(keys, ["http:file", "http:named", "http:ok"]);
    let tcp = active(&client, "alarm_tcp").await;
    assert_eq!(tcp.len(), 1);
    assert!(
        tcp[0].content.contains("probe_public_only"),
        "{}",
        tcp[0].content
    );
    drop(listener);
}

#[tokio::test]
async fn issue_11_numbers_out_of_range_are_refused_naming_the_key_or_param() {
    let db = TestDb::new();
    let client = db.client().await;
    // Config: an absurd concurrency is a configuration error naming the key.
    for engine in [
        "concurrency = 9223372036854775807\n",
        "concurrency = 1000000000\n",
        "max_read_mib = nan\n",
    ] {
        let file = db.config_file(engine);
        let out = swf(&file, &["check"]);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{engine}: {}",
            output_text(&out)
        );
        let key = engine.split(' ').next().unwrap_or_default();
        assert!(
            output_text(&out).contains(&format!("engine.{key}")),
            "{engine}: {}",
            output_text(&out)
        );
    }
    // CLI: NaN hours would be stored as null (renotification off).
    let file = db.config_file("");
    for flag in ["--window-hours", "--notify-after-minutes"] {
        let out = swf(
            &file,
            &[
                "alarm",
                "create",
                "alarm_nan",
                "--detector",
                "static_list",
                "--params",
                r#"{"detections": []}"#,
                "--recipients",
                "a@test.example",
                flag,
                "NaN",
            ],
        );
        assert_eq!(out.status.code(), Some(2), "{flag}: {}", output_text(&out));
        assert!(output_text(&out).contains(flag));
    }
    assert_eq!(row_count(&client, "alarm").await, 0, "nothing written");
    // Params: a huge probe timeout and a mistyped param fail their alarm,
    // named; the healthy alarm next to them mails.
    insert_alarm(&client, "alarm_healthy", "", static_alarm(&["h"])).await;
    insert_alarm(
        &client,
        "alarm_probe",
        "",
        json!({"detector": "tcp_port", "recipients": "a@test.example", "params": {"targets": [
            {"name": "t", "host": "127.0.0.1", "port": 9, "timeout_seconds": 1e300}]}}),
    )
    .await;
    insert_alarm(
        &client,
        "alarm_typed",
        "",
        json!({"detector": "static_list", "recipients": "a@test.example", "params": {"detections": "nope"}}),
    )
    .await;
    let s = tick(&db.config(), false).await;
    assert_eq!((s.alarms_errored, s.emails_sent), (2, 1), "{s:?}");
    let (_, run) = last_run(&client).await;
    let error = |key: &str| {
        run["per_alarm"][key]["error_message"]
            .as_str()
            .unwrap_or("")
            .to_owned()
    };
    assert!(
        error("alarm_probe").contains("timeout_seconds"),
        "{}",
        error("alarm_probe")
    );
    assert!(
        error("alarm_typed").contains("detections"),
        "{}",
        error("alarm_typed")
    );
}

#[tokio::test]
async fn issue_11_database_identifiers_are_refused_before_writing_and_by_check() {
    let db = TestDb::new();
    let client = db.client().await;
    let file = db.config_file("");
    let out = swf(
        &file,
        &[
            "alarm",
            "create",
            "alarm_sql",
            "--detector",
            "db_freshness",
            "--recipients",
            "a@test.example",
            "--params",
            r#"{"name": "x", "table": "entry; DROP TABLE entry", "time_column": "t", "max_age_hours": 1}"#,
        ],
    );
    assert_eq!(out.status.code(), Some(2), "{}", output_text(&out));
    assert!(output_text(&out).contains("table"), "{}", output_text(&out));
    assert_eq!(row_count(&client, "alarm").await, 0, "nothing written");
    insert_alarm(
        &client,
        "alarm_catalog",
        "",
        json!({"detector": "db_rate", "recipients": "a@test.example", "params": {"name": "x",
               "table": "pg_catalog.pg_authid", "time_column": "t", "window_minutes": 5, "max_count": 0}}),
    )
    .await;
    let check = swf(&file, &["check"]);
    assert_eq!(check.status.code(), Some(1));
    assert!(
        output_text(&check)
            .lines()
            .any(|l| l.starts_with("alarm_catalog: ") && l.contains("system catalog")),
        "{}",
        output_text(&check)
    );
}

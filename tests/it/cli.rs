//! The binary: exit statuses, configuration errors, the old command name,
//! and two runs at once.

use std::process::{Command, Output};

use serde_json::json;

use crate::harness::*;

fn run(config: &std::path::Path, extra: &[&str]) -> Output {
    swf_alarms_bin()
        .arg("run")
        .arg("--config")
        .arg(config)
        .args(extra)
        .output()
        .expect("run swf-alarms")
}

#[test]
fn a_bad_config_key_exits_2_and_names_the_key() {
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let cases = [
        (
            "[engine]\nrequest_timeout = \"fast\"\n[email]\nprovider = \"log\"\n",
            "request_timeout",
        ),
        (
            "[engine]\nconcurency = 2\n[email]\nprovider = \"log\"\n",
            "concurency",
        ),
        ("[email]\nprovider = \"pigeon\"\n", "email.provider"),
        ("[engine]\n", "email"),
    ];
    for (i, (toml, key)) in cases.iter().enumerate() {
        let path = dir.join(format!("bad-config-{}-{i}.toml", std::process::id()));
        std::fs::write(&path, toml).expect("write");
        let out = run(&path, &[]);
        assert_eq!(out.status.code(), Some(2), "{toml}: {}", output_text(&out));
        assert!(
            output_text(&out).contains(key),
            "{toml}: {}",
            output_text(&out)
        );
    }
    let out = run(&dir.join("no-such-config.toml"), &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(output_text(&out).contains("no-such-config.toml"));
}

#[test]
fn an_unreachable_database_exits_2_without_leaking_the_password() {
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let path = dir.join(format!("unreachable-{}.toml", std::process::id()));
    std::fs::write(
        &path,
        "[db]\nhost = \"127.0.0.1\"\nport = 1\nuser = \"u\"\npassword = \"pw-not-to-be-seen\"\n\
         [email]\nprovider = \"log\"\n",
    )
    .expect("write");
    let out = run(&path, &[]);
    assert_eq!(out.status.code(), Some(2), "{}", output_text(&out));
    assert!(
        output_text(&out).contains("u@127.0.0.1:1/swfdb"),
        "{}",
        output_text(&out)
    );
    assert!(!output_text(&out).contains("pw-not-to-be-seen"));
}

#[tokio::test]
async fn exit_status_is_0_when_all_ran_and_1_when_an_alarm_failed() {
    let db = TestDb::new();
    let client = db.client().await;
    let config = db.config_file("");
    insert_alarm(&client, "alarm_ok", "", static_alarm(&["a"])).await;
    let out = run(&config, &["--dry-run"]);
    assert_eq!(out.status.code(), Some(0), "{}", output_text(&out));
    assert!(
        output_text(&out).contains("Tick finished"),
        "{}",
        output_text(&out)
    );

    insert_alarm(
        &client,
        "alarm_broken",
        "",
        json!({"detector": "static_list", "params": {"fail": true}}),
    )
    .await;
    let out = run(&config, &["--dry-run", "-v"]);
    assert_eq!(out.status.code(), Some(1), "{}", output_text(&out));
}

#[tokio::test]
async fn the_old_command_name_still_works() {
    let db = TestDb::new();
    let client = db.client().await;
    insert_alarm(&client, "alarm_old_name", "", static_alarm(&["a"])).await;
    let dir =
        std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("oldname-{}", db.name));
    std::fs::create_dir_all(&dir).expect("dir");
    let link = dir.join("swf-alarms-run");
    let _ = std::fs::remove_file(&link);
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_swf-alarms"), &link).expect("symlink");
    let out = Command::new(&link)
        .arg("--config")
        .arg(db.config_file(""))
        .arg("--dry-run")
        .output()
        .expect("run swf-alarms-run");
    assert_eq!(out.status.code(), Some(0), "{}", output_text(&out));
    assert_eq!(active(&client, "alarm_old_name").await.len(), 1);
}

#[tokio::test]
async fn two_runs_at_once_one_works_the_other_exits_0() {
    let db = TestDb::new();
    let client = db.client().await;
    insert_alarm(
        &client,
        "alarm_slow",
        "",
        json!({"detector": "static_list", "recipients": "a@x.example",
               "params": {"delay_ms": 5000, "detections": detections(&["a"])}}),
    )
    .await;
    let config = db.config_file("");
    let spawn = || {
        swf_alarms_bin()
            .arg("run")
            .arg("--config")
            .arg(&config)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("spawn")
    };
    let first = spawn();
    // The first run holds the lock once its run row exists; its one alarm
    // then sleeps 5 s, far longer than the second run takes to start.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while row_count(&client, "engine_run").await == 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the first run never started"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let second = spawn();
    let second = second.wait_with_output().expect("second");
    let first = first.wait_with_output().expect("first");
    assert_eq!(first.status.code(), Some(0), "{}", output_text(&first));
    assert_eq!(second.status.code(), Some(0), "{}", output_text(&second));
    assert!(
        output_text(&second).contains("already running"),
        "{}",
        output_text(&second)
    );
    assert_eq!(row_count(&client, "engine_run").await, 1);
    assert_eq!(row_count(&client, "event").await, 1);
}

#[tokio::test]
async fn a_killed_tick_leaves_consistent_state_and_the_next_one_works() {
    let db = TestDb::new();
    let client = db.client().await;
    insert_alarm(&client, "alarm_fast", "", static_alarm(&["a", "b"])).await;
    let slow = insert_alarm(
        &client,
        "alarm_slow",
        "",
        json!({"detector": "static_list", "recipients": "a@x.example",
               "params": {"delay_ms": 20000, "detections": detections(&["c"])}}),
    )
    .await;
    let mut child = swf_alarms_bin()
        .arg("run")
        .arg("--config")
        .arg(db.config_file(""))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    while active(&client, "alarm_fast").await.len() < 2 {
        assert!(
            std::time::Instant::now() < deadline,
            "the fast alarm never committed"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    child.kill().expect("kill -9 the tick");
    child.wait().expect("reap");

    // Killed mid-tick: the fast alarm's change is whole, the slow one wrote
    // nothing, and the run row says the tick never finished.
    assert_eq!(active(&client, "alarm_fast").await.len(), 2);
    assert!(events(&client, "alarm_slow").await.is_empty());
    let (status, run) = last_run(&client).await;
    assert_eq!(status, "active");
    assert!(run.get("finished_at").is_none());

    set_params(&client, &slow, json!({"detections": detections(&["c"])})).await;
    let config = db.config();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let summary = loop {
        // The server drops the dead session's lock as soon as it notices.
        match swf_alarms::tick::run_tick(&config, &Default::default())
            .await
            .expect("tick")
        {
            swf_alarms::tick::TickOutcome::Done(s) => break s,
            swf_alarms::tick::TickOutcome::AlreadyRunning(_) => {
                assert!(std::time::Instant::now() < deadline, "lock never released");
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
        }
    };
    assert_eq!(summary.alarms_errored, 0);
    assert_eq!(summary.new_events, 1, "only the slow alarm's entity is new");
    assert_eq!(
        active(&client, "alarm_fast").await.len(),
        2,
        "no duplicates"
    );
    assert_eq!(active(&client, "alarm_slow").await.len(), 1);
}

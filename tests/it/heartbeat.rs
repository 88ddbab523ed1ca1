//! The heartbeat: one ping per tick to a loopback watcher, through the
//! binary (the cron entry), never failing or holding up the tick.

use std::{path::PathBuf, process::Output, time::Duration, time::Instant};

use serde_json::json;
use wiremock::{matchers::any, Mock, MockServer, ResponseTemplate};

use crate::harness::{mail::SilentServer, *};

/// Runs `swf-alarms run` off the async runtime, so that the loopback
/// server keeps answering meanwhile.
async fn run_bin(config: PathBuf, extra: &[&str]) -> Output {
    let extra: Vec<String> = extra.iter().map(|s| s.to_string()).collect();
    tokio::task::spawn_blocking(move || {
        swf_alarms_bin()
            .arg("run")
            .arg("--config")
            .arg(config)
            .args(extra)
            .output()
            .expect("run swf-alarms")
    })
    .await
    .expect("join")
}

async fn watcher() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(200).set_body_string("OK"))
        .mount(&server)
        .await;
    server
}

/// (method, path, body) of every request the watcher got, in order.
async fn pings(server: &MockServer) -> Vec<(String, String, String)> {
    server
        .received_requests()
        .await
        .unwrap_or_default()
        .iter()
        .map(|r| {
            (
                r.method.to_string(),
                r.url.path().to_owned(),
                String::from_utf8_lossy(&r.body).into_owned(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_success_ping_per_clean_tick_one_fail_ping_per_failed_tick_none_for_a_dry_run() {
    let server = watcher().await;
    let db = TestDb::new();
    let client = db.client().await;
    let alarm = insert_alarm(&client, "alarm_hb", "", static_alarm(&["a"])).await;
    let config = db.config_file(&format!(
        "heartbeat_url = \"{}/ping/check-1\"",
        server.uri()
    ));

    let out = run_bin(config.clone(), &[]).await;
    assert_eq!(out.status.code(), Some(0), "{}", output_text(&out));
    let got = pings(&server).await;
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(
        (got[0].0.as_str(), got[0].1.as_str()),
        ("GET", "/ping/check-1")
    );

    let out = run_bin(config.clone(), &[]).await;
    assert_eq!(out.status.code(), Some(0), "{}", output_text(&out));
    assert_eq!(pings(&server).await.len(), 2);

    let out = run_bin(config.clone(), &["--dry-run"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", output_text(&out));
    assert_eq!(pings(&server).await.len(), 2, "a dry run pings nothing");

    set_params(&client, &alarm, json!({"fail": true})).await;
    let out = run_bin(config.clone(), &[]).await;
    assert_eq!(out.status.code(), Some(1), "{}", output_text(&out));
    let got = pings(&server).await;
    assert_eq!(got.len(), 3, "{got:?}");
    assert_eq!(got[2].1, "/ping/check-1/fail");

    let out = run_bin(config, &["--dry-run"]).await;
    assert_eq!(out.status.code(), Some(1), "{}", output_text(&out));
    assert_eq!(
        pings(&server).await.len(),
        3,
        "a failed dry run pings nothing"
    );
    assert_eq!(row_count(&client, "engine_run").await, 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_configured_fail_url_and_post_carry_the_summary_and_a_lost_database_pings_fail() {
    let server = watcher().await;
    let db = TestDb::new();
    let client = db.client().await;
    insert_alarm(
        &client,
        "alarm_bad",
        "",
        json!({"detector": "static_list", "params": {"fail": true}}),
    )
    .await;
    let engine = format!(
        "heartbeat_url = \"{0}/ok\"\nheartbeat_fail_url = \"{0}/bad\"\nheartbeat_method = \"POST\"",
        server.uri()
    );
    let out = run_bin(db.config_file(&engine), &[]).await;
    assert_eq!(out.status.code(), Some(1), "{}", output_text(&out));
    let got = pings(&server).await;
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!((got[0].0.as_str(), got[0].1.as_str()), ("POST", "/bad"));
    assert!(got[0].2.contains("errors=1"), "{}", got[0].2);

    // The database is gone: nothing ran (exit 2), and the watcher hears it.
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let path = dir.join(format!("hb-lost-db-{}.toml", std::process::id()));
    let closed = mail::closed_port();
    std::fs::write(
        &path,
        format!(
            "[engine]\n{engine}\n[db]\nhost = \"127.0.0.1\"\nport = {}\nuser = \"u\"\n\
             [email]\nprovider = \"log\"\n",
            closed.port
        ),
    )
    .expect("write config");
    let out = run_bin(path, &[]).await;
    assert_eq!(out.status.code(), Some(2), "{}", output_text(&out));
    let got = pings(&server).await;
    assert_eq!(got.len(), 2, "{got:?}");
    assert_eq!(got[1].1, "/bad");
    assert!(got[1].2.contains("did not run"), "{}", got[1].2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hanging_heartbeat_url_is_given_up_after_its_timeout_and_the_tick_stands() {
    let silent = SilentServer::start();
    let db = TestDb::new();
    let client = db.client().await;
    insert_alarm(&client, "alarm_hb", "", static_alarm(&["a"])).await;
    let config = db.config_file(&format!(
        "heartbeat_url = \"http://127.0.0.1:{}/ping\"\nheartbeat_timeout = 1",
        silent.port
    ));
    let started = Instant::now();
    let out = run_bin(config, &[]).await;
    // The server never answers: without the timeout this would not return.
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(out.status.code(), Some(0), "{}", output_text(&out));
    assert!(
        output_text(&out).contains("Heartbeat ping failed"),
        "{}",
        output_text(&out)
    );
    assert_eq!(silent.accepted.load(std::sync::atomic::Ordering::SeqCst), 1);
    let (status, run) = last_run(&client).await;
    assert_eq!((status.as_str(), run["errors"].clone()), ("done", json!(0)));
    assert_eq!(active(&client, "alarm_hb").await.len(), 1);
}

/// Issue 9.6: a watcher answering with an error status is logged with the
/// status, its reason phrase, the URL and the start of the body.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_9_a_failing_heartbeat_is_logged_with_status_url_and_body() {
    let server = MockServer::start().await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(500).set_body_string("down for\nmaintenance"))
        .mount(&server)
        .await;
    let db = TestDb::new();
    let client = db.client().await;
    insert_alarm(&client, "alarm_hb", "", static_alarm(&["a"])).await;
    let config = db.config_file(&format!(
        "heartbeat_url = \"{}/ping\"\nheartbeat_timeout = 5",
        server.uri()
    ));
    let out = run_bin(config, &[]).await;
    assert_eq!(out.status.code(), Some(0), "{}", output_text(&out));
    let expected = format!(
        "HTTP 500 Internal Server Error from {}/ping: down for maintenance",
        server.uri()
    );
    assert!(
        output_text(&out).contains(&expected),
        "{}",
        output_text(&out)
    );
}

//! Issue 12, points 5 and 6: a transient send failure is retried within
//! the tick, a permanent one is not; a PanDA page gets one more try on a
//! gateway error; probes of many dead targets run side by side.

use std::sync::atomic::Ordering;

use serde_json::json;
use wiremock::{
    matchers::{method, path},
    Mock, MockServer, ResponseTemplate,
};

use crate::harness::{
    mail::{smtp_toml, SilentServer},
    net::Relay,
    *,
};

#[tokio::test]
async fn issue_12_a_dozen_dead_probe_targets_cost_about_one_timeout() {
    let silent = SilentServer::start();
    let db = TestDb::new();
    let client = db.client().await;
    let targets: Vec<_> = (1..=12)
        .map(|i| {
            json!({"name": format!("dead{i:02}"), "url": format!("http://127.0.0.1:{}/health", silent.port),
                   "timeout_seconds": 3})
        })
        .collect();
    insert_alarm(
        &client,
        "alarm_fleet",
        "",
        json!({"detector": "http_health", "recipients": "ops@test.example",
               "params": {"targets": targets}}),
    )
    .await;
    // One after another, twelve 3 s timeouts would be 36 s: past the
    // alarm's 15 s, and the alarm would fail, clearing nothing.
    let s = tick(&db.config_with("alarm_timeout = 15"), true).await;
    assert_eq!(s.alarms_errored, 0, "{s:?}");
    let events = active(&client, "alarm_fleet").await;
    assert_eq!(events.len(), 12);
    assert!(events.iter().all(|e| e.data["reason"] == "timed out"));
    assert_eq!(silent.accepted.load(Ordering::SeqCst), 12);
}

/// Runs `swf-alarms run` with `toml`; returns its exit status and output.
fn run_bin(db: &TestDb, tag: &str, toml: &str) -> (i32, String) {
    let path = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("{}-{tag}.toml", db.name));
    std::fs::write(&path, toml).expect("write config");
    let out = swf_alarms_bin()
        .args(["run", "--config"])
        .arg(&path)
        .output()
        .expect("run swf-alarms");
    (out.status.code().unwrap_or(-1), output_text(&out))
}

#[tokio::test]
async fn issue_12_a_relay_that_says_try_again_gets_the_mail_within_the_tick() {
    let relay = Relay::start(&["451 4.3.0 Temporary local problem, try again"]);
    let db = TestDb::new();
    let client = db.client().await;
    insert_alarm(&client, "alarm_retry", "", static_alarm(&["a", "b"])).await;
    let (code, text) = run_bin(&db, "retry", &db.toml("", &smtp_toml(relay.port, 5)));
    assert_eq!(code, 0, "{text}");
    let received = relay.received();
    assert_eq!(received.len(), 2, "refused once, accepted on the retry");
    assert!(received[0].0.starts_with("451") && received[1].0.starts_with("250"));
    let without_date = |data: &str| -> String {
        data.lines()
            .filter(|l| !l.starts_with("Date: "))
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert_eq!(
        without_date(&received[0].1),
        without_date(&received[1].1),
        "the same message"
    );
    assert!(active(&client, "alarm_retry")
        .await
        .iter()
        .all(Event::notified));
    let (_, run) = last_run(&client).await;
    assert_eq!(run["per_alarm"]["alarm_retry"]["bundle_sent"], true);
    assert_eq!(run["per_alarm"]["alarm_retry"]["errors"], 0);
}

#[tokio::test]
async fn issue_12_a_permanent_refusal_is_not_retried_within_the_tick() {
    let relay = Relay::start(&["554 5.7.1 Relay access denied"]);
    let db = TestDb::new();
    let client = db.client().await;
    insert_alarm(&client, "alarm_refused", "", static_alarm(&["a"])).await;
    let (code, text) = run_bin(&db, "refused", &db.toml("", &smtp_toml(relay.port, 5)));
    assert_eq!(code, 1, "{text}");
    assert_eq!(relay.received().len(), 1, "tried once");
    assert!(relay.accepted().is_empty());
    assert!(!active(&client, "alarm_refused").await[0].notified());
    let (_, run) = last_run(&client).await;
    let message = run["per_alarm"]["alarm_refused"]["error_message"]
        .as_str()
        .unwrap_or_default();
    assert!(
        message.contains("554") && message.contains("permanent"),
        "{message}"
    );
}

#[tokio::test]
async fn issue_12_a_panda_gateway_error_gets_one_more_try_a_server_error_none() {
    let server = MockServer::start().await;
    let empty = json!({"items": [], "has_more": false, "next_before_id": null});
    Mock::given(method("GET"))
        .and(path("/api/panda/tasks/"))
        .respond_with(ResponseTemplate::new(503).set_body_string("upstream unavailable"))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/panda/tasks/"))
        .respond_with(ResponseTemplate::new(200).set_body_json(&empty))
        .mount(&server)
        .await;
    let db = TestDb::new();
    let client = db.client().await;
    insert_alarm(
        &client,
        "alarm_gateway",
        "",
        json!({"detector": "panda_task_status", "recipients": "ops@test.example",
               "params": {"statuses": ["broken"]}}),
    )
    .await;
    let engine = format!(
        "service_base_url = \"{}\"\nrequest_timeout = 5\n",
        server.uri()
    );
    let s = tick(&db.config_with(&engine), false).await;
    assert_eq!(s.alarms_errored, 0, "{:#}", last_run(&client).await.1);
    let requests = server.received_requests().await.expect("recorded");
    assert_eq!(requests.len(), 2, "the 503, then the retry");

    server.reset().await;
    Mock::given(method("GET"))
        .and(path("/api/panda/tasks/"))
        .respond_with(ResponseTemplate::new(500).set_body_string("bug"))
        .mount(&server)
        .await;
    let s = tick(&db.config_with(&engine), false).await;
    assert_eq!(s.alarms_errored, 1);
    let requests = server.received_requests().await.expect("recorded");
    assert_eq!(requests.len(), 1, "a 500 is not retried");
}

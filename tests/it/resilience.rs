//! Issue 12, points 5 and 6: a transient send failure is retried within
//! the tick, a permanent one is not; a PanDA page gets one more try on a
//! gateway error; probes of many dead targets run side by side.

use std::sync::atomic::Ordering;

use serde_json::json;

use crate::harness::{mail::SilentServer, *};

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

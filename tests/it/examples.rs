//! Every registered detector's example params, run by a real tick against
//! loopback sources: the examples `swf-alarms detectors` shows must work.

use serde_json::{json, Value};
use wiremock::{
    matchers::{method, path},
    Mock, MockServer, ResponseTemplate,
};

use crate::{harness::*, panda::SIDE_TABLES};

#[tokio::test]
async fn every_detector_example_runs_against_loopback_sources() {
    let db = TestDb::new();
    let client = db.client().await;
    client
        .batch_execute(SIDE_TABLES)
        .await
        .expect("side tables");

    // PanDA: a server with no tasks.
    let panda = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/panda/tasks/"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "items": [], "total_count": 0, "has_more": false, "next_before_id": null,
            "summary": {}, "filters": {}
        })))
        .mount(&panda)
        .await;

    let registry = alarms::registry();
    for reg in &registry {
        let params: Value = serde_json::from_str(reg.example).expect("example is JSON");
        let data =
            json!({"detector": reg.name, "recipients": "ops@test.example", "params": params});
        insert_alarm(&client, &format!("alarm_example_{}", reg.name), "", data).await;
    }

    // Ops snapshots: the current fixture, then the older format that
    // `ops_stream_freshness` alone needs, each as the day file of its date.
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("examples-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).expect("snapshot dir");
    let engine = format!(
        "service_base_url = \"{}\"\nrequest_timeout = 2\nops_snapshot_dir = \"{}\"\n",
        panda.uri(),
        dir.display()
    );
    let older_format_only = ["ops_stream_freshness"];
    let mut failed = Vec::new();
    // In time order: `last_run` reads the newest run.
    for (fixture, older) in [("legacy_2026-07_healthy", true), ("healthy", false)] {
        let at = write_day_file(&dir, fixture);
        let summary = tick_at(&db.config_with(&engine), true, Some(at)).await;
        assert_eq!(summary.alarms_run, registry.len());
        let (_, run) = last_run(&client).await;
        for reg in registry
            .iter()
            .filter(|r| older_format_only.contains(&r.name) == older)
        {
            let record = &run["per_alarm"][format!("alarm_example_{}", reg.name)];
            if record["errors"] != json!(0) {
                failed.push(format!("{}: {}", reg.name, record["error_message"]));
            }
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    assert!(failed.is_empty(), "examples that failed: {failed:#?}");
    assert!(panda
        .received_requests()
        .await
        .is_some_and(|r| !r.is_empty()));
}

/// Makes the fixture's record the only day file in `dir`; returns a
/// moment one minute after it was taken.
fn write_day_file(dir: &std::path::Path, fixture: &str) -> f64 {
    let path = format!(
        "{}/tests/fixtures/aurora/ops_monitor_snapshot_{fixture}.jsonl",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).expect("fixture");
    let record: Value = serde_json::from_str(text.lines().next().expect("a line")).expect("json");
    let date = record["time_utc"].as_str().expect("time_utc")[..10].replace('-', "");
    for entry in std::fs::read_dir(dir).expect("list").flatten() {
        let _ = std::fs::remove_file(entry.path());
    }
    std::fs::write(dir.join(format!("ops_monitor_{date}.jsonl")), text).expect("day file");
    record["snapshot_epoch"].as_f64().expect("snapshot_epoch") + 60.0
}

//! Migrations: pending ones stop `run`, applying is idempotent.

use crate::harness::*;

fn swf_alarms(args: &[&str], config: &std::path::Path) -> std::process::Output {
    swf_alarms_bin()
        .args(args)
        .arg("--config")
        .arg(config)
        .output()
        .expect("run swf-alarms")
}

#[tokio::test]
async fn run_refuses_until_migrated_and_migrate_is_idempotent() {
    let db = TestDb::empty();
    let config = db.config_file("");

    let out = swf_alarms(&["run"], &config);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("pending migration"), "{stderr}");
    assert!(stderr.contains("swf-alarms migrate"), "{stderr}");

    let out = swf_alarms(&["migrate"], &config);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let log = String::from_utf8_lossy(&out.stdout);
    assert!(
        log.contains("0001_dashboard_tables") && log.contains("0003_contexts"),
        "{log}"
    );

    let out = swf_alarms(&["migrate"], &config);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("up to date"));

    let client = db.client().await;
    let contexts: Vec<String> = client
        .query("SELECT name FROM entry_context ORDER BY name", &[])
        .await
        .expect("contexts")
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(contexts, ["swf-alarms", "teams"]);

    let out = swf_alarms(&["run", "--dry-run"], &config);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test]
async fn the_index_refuses_a_second_active_event_for_an_entity() {
    let db = TestDb::new();
    let client = db.client().await;
    let insert = "INSERT INTO entry (id, title, content, kind, context_id, data, status, archived,
                                     timestamp_created, timestamp_modified)
                  VALUES ($1, 't', '', 'event', 'swf-alarms', $2, 'active', false, 0, 0)";
    let data = serde_json::json!({"entry_id": "event_x", "dedupe_key": "k", "clear_time": null});
    client
        .execute(insert, &[&uuid::Uuid::new_v4().to_string(), &data])
        .await
        .expect("first active event");
    let err = client
        .execute(insert, &[&uuid::Uuid::new_v4().to_string(), &data])
        .await
        .expect_err("a second active event for the same entity");
    assert_eq!(
        err.code(),
        Some(&tokio_postgres::error::SqlState::UNIQUE_VIOLATION)
    );
    // A cleared one may coexist.
    let cleared = serde_json::json!({"entry_id": "event_x", "dedupe_key": "k", "clear_time": 5.0});
    client
        .execute(insert, &[&uuid::Uuid::new_v4().to_string(), &cleared])
        .await
        .expect("a cleared event for the same entity");
}

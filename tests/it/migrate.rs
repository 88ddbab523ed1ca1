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

/// Claims `(alarm, key)` for a new event the way the engine does: the
/// event row and its `swf_alarms_active_event` row in one transaction.
async fn claim(
    txn: &tokio_postgres::Transaction<'_>,
    key: &str,
) -> Result<u64, tokio_postgres::Error> {
    let id = uuid::Uuid::new_v4().to_string();
    let data = serde_json::json!({"entry_id": "event_x", "dedupe_key": key, "clear_time": null});
    txn.execute(
        "INSERT INTO entry (id, title, content, kind, context_id, data, status, archived,
                            timestamp_created, timestamp_modified)
         VALUES ($1, 't', '', 'event', 'swf-alarms', $2, 'active', false, 0, 0)",
        &[&id, &data],
    )
    .await?;
    txn.execute(
        "INSERT INTO swf_alarms_active_event (alarm, dedupe_key, event_id) VALUES ('event_x', $1, $2)",
        &[&key, &id],
    )
    .await
}

#[tokio::test]
async fn two_concurrent_writers_cannot_both_create_an_active_event_for_an_entity() {
    let db = TestDb::new();
    let mut first = db.client().await;
    let mut second = db.client().await;
    let a = first.transaction().await.expect("begin");
    claim(&a, "k")
        .await
        .expect("the first writer claims the key");
    // The second writer's claim waits for the first to finish, whatever
    // the order in which the two reach the server; either way it fails.
    let contender = tokio::spawn(async move {
        let b = second.transaction().await.expect("begin");
        let result = claim(&b, "k").await;
        drop(b);
        result
    });
    a.commit().await.expect("the first writer commits");
    let err = contender
        .await
        .expect("joined")
        .expect_err("a second active event for the same entity");
    assert_eq!(
        err.code(),
        Some(&tokio_postgres::error::SqlState::UNIQUE_VIOLATION)
    );
    let client = db.client().await;
    let events: i64 = client
        .query_one("SELECT count(*) FROM entry WHERE kind = 'event'", &[])
        .await
        .expect("count")
        .get(0);
    assert_eq!(events, 1, "the loser's event row went with its transaction");
    // Another entity is free.
    let c = first.transaction().await.expect("begin");
    claim(&c, "other").await.expect("another key");
    c.commit().await.expect("commit");
}

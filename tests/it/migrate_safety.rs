//! Issue 12, point 7: migrations beside a live dashboard — a migration
//! waits for a dashboard writer's lock at most `lock_timeout`, and one
//! edited after it was applied is refused.

use crate::harness::*;

fn swf_alarms(args: &[&str], config: &std::path::Path) -> (i32, String) {
    let out = swf_alarms_bin()
        .args(args)
        .arg("--config")
        .arg(config)
        .output()
        .expect("run swf-alarms");
    (out.status.code().unwrap_or(-1), output_text(&out))
}

fn with_db_keys(toml: &str, keys: &str) -> String {
    toml.replacen("[db]\n", &format!("[db]\n{keys}\n"), 1)
}

#[tokio::test]
async fn issue_12_an_edited_migration_is_refused_and_old_histories_get_checksums() {
    let db = TestDb::new();
    let client = db.client().await;
    let config = db.config_file("");
    let checksums_match = "SELECT count(*) FROM swf_alarms_migrations WHERE checksum = md5($1)";
    let sql_0002 = include_str!("../../migrations/0002_one_active_event.sql");
    let matching: i64 = client
        .query_one(checksums_match, &[&sql_0002])
        .await
        .expect("count")
        .get(0);
    assert_eq!(matching, 1, "migrate recorded the file's checksum");

    // A history from before checksums: tolerated, then filled in.
    client
        .execute("UPDATE swf_alarms_migrations SET checksum = NULL", &[])
        .await
        .expect("forget checksums");
    let (code, text) = swf_alarms(&["run", "--dry-run"], &config);
    assert_eq!(code, 0, "{text}");
    let (code, text) = swf_alarms(&["migrate"], &config);
    assert_eq!(code, 0, "{text}");
    let missing: i64 = client
        .query_one(
            "SELECT count(*) FROM swf_alarms_migrations WHERE checksum IS NULL",
            &[],
        )
        .await
        .expect("count")
        .get(0);
    assert_eq!(missing, 0);

    // What the database applied is not what this binary carries.
    client
        .execute(
            "UPDATE swf_alarms_migrations SET checksum = md5('something else') WHERE version = 2",
            &[],
        )
        .await
        .expect("tamper");
    let runs_before = row_count(&client, "engine_run").await;
    for args in [&["migrate"][..], &["run"][..]] {
        let (code, text) = swf_alarms(args, &config);
        assert_eq!(code, 2, "{args:?}: {text}");
        assert!(
            text.contains("0002_one_active_event") && text.contains("edited"),
            "{args:?}: {text}"
        );
    }
    assert_eq!(
        row_count(&client, "engine_run").await,
        runs_before,
        "nothing done"
    );
}

#[tokio::test]
async fn issue_12_a_migration_under_a_concurrent_writer_gives_up_within_lock_timeout() {
    let db = TestDb::new();
    let client = db.client().await;
    // 0003 is pending again: it writes the engine's context rows.
    client
        .execute("DELETE FROM swf_alarms_migrations WHERE version = 3", &[])
        .await
        .expect("make 0003 pending");
    let config = db.config_file("");
    let config_text = std::fs::read_to_string(&config).expect("config");
    std::fs::write(&config, with_db_keys(&config_text, "lock_timeout = 0.3")).expect("config");

    // The dashboard edits the context row and has not committed yet.
    let mut dashboard = db.client().await;
    let txn = dashboard.transaction().await.expect("begin");
    txn.execute(
        "UPDATE entry_context SET title = 'Alarms' WHERE name = 'swf-alarms'",
        &[],
    )
    .await
    .expect("dashboard write");

    let (code, text) = swf_alarms(&["migrate"], &config);
    assert_eq!(code, 2, "{text}");
    assert!(text.contains("lock timeout"), "{text}");
    let applied: i64 = client
        .query_one(
            "SELECT count(*) FROM swf_alarms_migrations WHERE version = 3",
            &[],
        )
        .await
        .expect("count")
        .get(0);
    assert_eq!(applied, 0, "the migration rolled back whole");

    // The writer commits; the migration goes through.
    txn.commit().await.expect("dashboard commits");
    let (code, text) = swf_alarms(&["migrate"], &config);
    assert_eq!(code, 0, "{text}");
    let title: String = client
        .query_one(
            "SELECT title FROM entry_context WHERE name = 'swf-alarms'",
            &[],
        )
        .await
        .expect("title")
        .get(0);
    assert_eq!(title, "Alarms", "the dashboard's edit stands");
}

/// Whether index `name` exists and is valid: `None` when it does not exist.
async fn index_valid(client: &tokio_postgres::Client, name: &str) -> Option<bool> {
    client
        .query_opt(
            "SELECT indisvalid FROM pg_index WHERE indexrelid = to_regclass($1)",
            &[&name],
        )
        .await
        .expect("pg_index")
        .map(|r| r.get(0))
}

#[tokio::test]
async fn issue_12_indexes_on_entry_are_built_concurrently_and_a_failed_build_is_redone() {
    let db = TestDb::new();
    let client = db.client().await;
    // 0002 is pending again, its alarm index gone.
    client
        .batch_execute(
            "DELETE FROM swf_alarms_migrations WHERE version = 2;
             DROP INDEX IF EXISTS entry_swf_alarms_alarms;",
        )
        .await
        .expect("make 0002 pending");
    let config = db.config_file("");
    let config_text = std::fs::read_to_string(&config).expect("config");
    std::fs::write(&config, with_db_keys(&config_text, "lock_timeout = 0.3")).expect("config");

    // A dashboard transaction has written to entry and not committed: a
    // concurrent build waits for it (a plain CREATE INDEX would instead
    // block every later write); the wait is bounded by lock_timeout.
    let mut dashboard = db.client().await;
    let txn = dashboard.transaction().await.expect("begin");
    txn.execute(
        "INSERT INTO entry (id, title, content, kind, context_id, data, archived,
                            timestamp_created, timestamp_modified)
         VALUES ('dashboard-note', 'note', '', 'note', NULL, '{}', false, 0, 0)",
        &[],
    )
    .await
    .expect("dashboard write");

    let (code, text) = swf_alarms(&["migrate"], &config);
    assert_eq!(code, 2, "{text}");
    assert!(text.contains("lock timeout"), "{text}");
    assert_eq!(
        index_valid(&client, "entry_swf_alarms_one_active_event").await,
        Some(false),
        "the failed concurrent build left an invalid index"
    );
    // Meanwhile the dashboard kept writing.
    insert_alarm(&client, "alarm_meanwhile", "", static_alarm(&["m"])).await;

    txn.commit().await.expect("dashboard commits");
    let (code, text) = swf_alarms(&["migrate"], &config);
    assert_eq!(code, 0, "{text}");
    assert!(
        text.contains("dropped invalid index entry_swf_alarms_one_active_event"),
        "{text}"
    );
    for index in [
        "entry_swf_alarms_one_active_event",
        "entry_swf_alarms_alarms",
        "entry_swf_alarms_events_by_alarm",
    ] {
        assert_eq!(index_valid(&client, index).await, Some(true), "{index}");
    }
    let recorded: i64 = client
        .query_one(
            "SELECT count(*) FROM swf_alarms_migrations WHERE version = 2 AND checksum IS NOT NULL",
            &[],
        )
        .await
        .expect("count")
        .get(0);
    assert_eq!(recorded, 1);
}

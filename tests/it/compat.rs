//! A database the dashboard created and the old engine wrote: `migrate`
//! then `run` must continue its events, not duplicate them.

use std::process::Command;

use serde_json::json;

use crate::harness::*;

/// The dashboard's DDL, as its ORM creates it: no engine indexes.
const DASHBOARD_DDL: &str = r#"
CREATE TABLE "entry_context" ("name" varchar(255) NOT NULL PRIMARY KEY, "title" varchar(255) NOT NULL,
    "description" text NOT NULL, "timestamp_created" double precision NOT NULL,
    "timestamp_modified" double precision NOT NULL, "data" jsonb NULL);
CREATE TABLE "entry" ("id" varchar(36) NOT NULL PRIMARY KEY, "title" varchar(255) NOT NULL,
    "content" text NOT NULL, "kind" varchar(50) NOT NULL, "name" varchar(255) NULL, "data" jsonb NULL,
    "priority" integer NULL, "status" varchar(50) NULL, "archived" boolean NOT NULL,
    "timestamp_created" double precision NOT NULL, "timestamp_modified" double precision NOT NULL,
    "deleted_at" double precision NULL,
    "context_id" varchar(255) NULL REFERENCES "entry_context" ("name") DEFERRABLE INITIALLY DEFERRED,
    "parent_id" varchar(36) NULL REFERENCES "entry" ("id") DEFERRABLE INITIALLY DEFERRED,
    CONSTRAINT "entry_context_id_name_uniq" UNIQUE ("context_id", "name"));
CREATE TABLE "entry_version" ("id" serial NOT NULL PRIMARY KEY, "version_num" integer NOT NULL,
    "title" varchar(255) NOT NULL, "content" text NOT NULL, "data" jsonb NULL,
    "changed_by" varchar(100) NOT NULL, "timestamp" double precision NOT NULL,
    "entry_id" varchar(36) NOT NULL REFERENCES "entry" ("id") DEFERRABLE INITIALLY DEFERRED,
    CONSTRAINT "entry_version_entry_id_version_num_uniq" UNIQUE ("entry_id", "version_num"));
CREATE INDEX "entry_kind_idx" ON "entry" ("kind");
CREATE INDEX "entry_context_id_idx" ON "entry" ("context_id");
INSERT INTO entry_context VALUES ('swf-alarms', 'SWF Alarms', 'Alarm engine', 1763000000.0, 1763000000.0, NULL);
"#;

/// Writes an event the way the old engine did.
async fn old_event(
    client: &tokio_postgres::Client,
    alarm_id: &str,
    key: &str,
    fire_time: f64,
    notified: Option<f64>,
) -> String {
    let id = uuid::Uuid::new_v4().to_string();
    let mut data = json!({
        "entry_id": "event_compat",
        "fire_time": fire_time,
        "clear_time": null,
        "last_seen": fire_time + 300.0,
        "dedupe_key": key,
        "subject": format!("{key} is bad"),
        "recipients": ["ops@test.example"],
        "alarm_config_id": alarm_id,
        "taskid": 35981,
        "rate": 0.12,
    });
    if let Some(t) = notified {
        data["last_notified"] = json!(t);
    }
    client
        .execute(
            "INSERT INTO entry (id, title, content, kind, context_id, data, status, archived,
                                timestamp_created, timestamp_modified)
             VALUES ($1, $2, 'old body', 'event', 'swf-alarms', $3, 'active', FALSE, $4, $4)",
            &[&id, &format!("{key} is bad"), &data, &fire_time],
        )
        .await
        .expect("old event");
    id
}

#[tokio::test]
async fn migrate_then_run_continues_the_old_engines_events() {
    let db = TestDb::empty();
    let client = db.client().await;
    client
        .batch_execute(DASHBOARD_DDL)
        .await
        .expect("dashboard DDL");

    let alarm = insert_alarm(
        &client,
        "alarm_compat",
        "Old alarm.",
        json!({"detector": "static_list", "enabled": true, "severity": "warning",
               "recipients": ["ops@test.example"], "renotification_window_hours": 24,
               "params": {"detections": detections(&["a", "b"])}}),
    )
    .await;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_secs_f64();
    let a = old_event(&client, &alarm, "a", now - 7200.0, Some(now - 7100.0)).await;
    let b_old = old_event(&client, &alarm, "b", now - 9000.0, Some(now - 8900.0)).await;
    let b_new = old_event(&client, &alarm, "b", now - 3600.0, Some(now - 3500.0)).await;
    client
        .execute(
            "INSERT INTO entry (id, title, content, kind, context_id, data, status, archived,
                                timestamp_created, timestamp_modified)
             VALUES ('run-old', 'Engine run', '', 'engine_run', 'swf-alarms',
                     '{\"entry_id\": \"run_1763890000\", \"started_at\": 1763890000.5}', 'done', false,
                     1763890000.5, 1763890001.5)",
            &[],
        )
        .await
        .expect("old run row");

    let config = db.config_file("");
    let out = Command::new(env!("CARGO_BIN_EXE_swf-alarms"))
        .args(["migrate", "--config"])
        .arg(&config)
        .output()
        .expect("migrate");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let log = String::from_utf8_lossy(&out.stdout);
    assert!(log.contains("cleared duplicate active event"), "{log}");
    assert!(
        log.contains(&b_old),
        "the report names the cleared row: {log}"
    );

    // The engine's table now holds the one active event per entity, and
    // `entry` keeps only the dashboard's indexes (none over `data`).
    let claimed: Vec<(String, String)> = client
        .query(
            "SELECT dedupe_key, event_id FROM swf_alarms_active_event
             WHERE alarm = 'event_compat' ORDER BY dedupe_key",
            &[],
        )
        .await
        .expect("active event table")
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(
        claimed,
        [("a".to_owned(), a.clone()), ("b".to_owned(), b_new.clone())]
    );
    let over_data: i64 = client
        .query_one(
            "SELECT count(*) FROM pg_indexes WHERE tablename = 'entry' AND indexdef LIKE '%data%'",
            &[],
        )
        .await
        .expect("indexes")
        .get(0);
    assert_eq!(over_data, 0, "no index of entry reads data");
    let duplicate = client
        .execute(
            "INSERT INTO swf_alarms_active_event (alarm, dedupe_key, event_id)
             VALUES ('event_compat', 'a', $1)",
            &[&b_old],
        )
        .await
        .expect_err("a second active event for a migrated entity");
    assert_eq!(
        duplicate.code(),
        Some(&tokio_postgres::error::SqlState::UNIQUE_VIOLATION)
    );

    let evs = events(&client, "alarm_compat").await;
    let by_id = |id: &str| evs.iter().find(|e| e.id == id).expect("row").clone();
    assert!(by_id(&a).active());
    assert!(by_id(&b_new).active(), "the newest duplicate is kept");
    assert!(!by_id(&b_old).active(), "the older duplicate is cleared");

    let s = tick(&db.config(), false).await;
    assert_eq!(
        (s.new_events, s.cleared, s.alarms_errored),
        (0, 0, 0),
        "{s:?}"
    );
    assert_eq!(
        s.emails_sent, 0,
        "both were notified within the 24 h window"
    );
    let after = active(&client, "alarm_compat").await;
    let ids: Vec<&str> = after.iter().map(|e| e.id.as_str()).collect();
    assert_eq!(ids.len(), 2);
    assert!(ids.contains(&a.as_str()) && ids.contains(&b_new.as_str()));
    let a_after = after.iter().find(|e| e.id == a).expect("a");
    assert_eq!(a_after.data["taskid"], 35981, "old keys are kept");
    assert_eq!(a_after.data["fire_time"], now - 7200.0);
    assert!(a_after.data["last_seen"].as_f64().expect("float") > now);

    // The teams context was missing; migrate created it.
    let teams: i64 = client
        .query_one(
            "SELECT count(*) FROM entry_context WHERE name = 'teams'",
            &[],
        )
        .await
        .expect("count")
        .get(0);
    assert_eq!(teams, 1);
}

//! Issue 12, point 8: `engine.retention_days` prunes run rows and cleared
//! events older than that, in bounded batches, from the tick; active
//! events stay whatever their age; `prune --dry-run` shows what would go.

use serde_json::json;

use crate::harness::*;

const DAY: f64 = 86_400.0;

fn unix_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs_f64()
}

/// `n` rows of `kind` created `age_days` ago, with `data`.
async fn old_rows(
    client: &tokio_postgres::Client,
    kind: &str,
    n: i64,
    age_days: f64,
    data: serde_json::Value,
) {
    let at = unix_now() - age_days * DAY;
    client
        .execute(
            "INSERT INTO entry (id, title, content, kind, context_id, name, data, archived,
                                timestamp_created, timestamp_modified)
             SELECT gen_random_uuid()::text, 'old', '', $1, 'swf-alarms', NULL,
                    $2::jsonb || jsonb_build_object('dedupe_key', 'k' || i), false, $3, $3
             FROM generate_series(1, $4::bigint) AS i",
            &[&kind, &data, &at, &n],
        )
        .await
        .expect("insert old rows");
}

async fn count(client: &tokio_postgres::Client, sql: &str) -> i64 {
    client.query_one(sql, &[]).await.expect("count").get(0)
}

fn run_bin(db: &TestDb, engine: &str, args: &[&str]) -> (i32, String) {
    let path = db.config_file(engine);
    let out = swf_alarms_bin()
        .args(args)
        .arg("--config")
        .arg(&path)
        .output()
        .expect("run swf-alarms");
    (out.status.code().unwrap_or(-1), output_text(&out))
}

#[tokio::test]
async fn issue_12_retention_prunes_old_runs_and_cleared_events_and_keeps_active_ones() {
    let db = TestDb::new();
    let client = db.client().await;
    let cleared_long_ago = unix_now() - 40.0 * DAY;
    let cleared_lately = unix_now() - 2.0 * DAY;
    old_rows(&client, "engine_run", 1_203, 40.0, json!({})).await;
    old_rows(&client, "engine_run", 4, 2.0, json!({})).await;
    old_rows(
        &client,
        "event",
        7,
        60.0,
        json!({"entry_id": "event_x", "fire_time": cleared_long_ago - DAY, "clear_time": cleared_long_ago}),
    )
    .await;
    old_rows(
        &client,
        "event",
        3,
        60.0,
        json!({"entry_id": "event_y", "fire_time": cleared_long_ago, "clear_time": cleared_lately}),
    )
    .await;
    old_rows(
        &client,
        "event",
        2,
        60.0,
        json!({"entry_id": "event_z", "fire_time": cleared_long_ago, "clear_time": null}),
    )
    .await;
    let runs = "SELECT count(*) FROM entry WHERE kind = 'engine_run'";
    let events = |entry_id: &'static str| {
        format!(
            "SELECT count(*) FROM entry WHERE kind = 'event' AND data->>'entry_id' = '{entry_id}'"
        )
    };

    // The default keeps everything.
    let (code, text) = run_bin(&db, "", &["run"]);
    assert_eq!(code, 0, "{text}");
    assert_eq!(count(&client, runs).await, 1_208);
    assert_eq!(count(&client, &events("event_x")).await, 7);

    // A dry run counts and deletes nothing.
    let (code, text) = run_bin(&db, "retention_days = 30", &["prune", "--dry-run"]);
    assert_eq!(code, 0, "{text}");
    assert!(
        text.contains("1203 run row(s)") && text.contains("7 cleared event(s)"),
        "{text}"
    );
    assert_eq!(count(&client, runs).await, 1_208);
    assert_eq!(count(&client, &events("event_x")).await, 7);

    // The tick prunes, in batches.
    let (code, text) = run_bin(&db, "retention_days = 30", &["run"]);
    assert_eq!(code, 0, "{text}");
    assert_eq!(
        count(&client, runs).await,
        4 + 2,
        "recent runs and this tick's stay"
    );
    assert_eq!(
        count(&client, &events("event_x")).await,
        0,
        "cleared 40 days ago"
    );
    assert_eq!(
        count(&client, &events("event_y")).await,
        3,
        "cleared lately"
    );
    assert_eq!(count(&client, &events("event_z")).await, 2, "still active");
    let (status, _) = last_run(&client).await;
    assert_eq!(status, "done");

    // Nothing old is left to prune.
    let (code, text) = run_bin(&db, "retention_days = 30", &["prune", "--dry-run"]);
    assert_eq!(code, 0, "{text}");
    assert!(
        text.contains("0 run row(s)") && text.contains("0 cleared event(s)"),
        "{text}"
    );
}

/// Deleting a row of `entry` makes Postgres look, at commit, for rows
/// whose `parent_id` is that row. Without an index that look-up reads the
/// whole table once per deleted row (seconds each at two million rows), so
/// pruning a large table would never finish.
#[tokio::test]
async fn deleting_a_row_looks_for_its_children_through_an_index() {
    let db = TestDb::new();
    let client = db.client().await;
    client
        .batch_execute("SET enable_seqscan = off")
        .await
        .expect("turn sequential scans off");
    // The query Postgres's foreign-key check runs for each deleted row.
    let plan: Vec<String> = client
        .query(
            "EXPLAIN SELECT 1 FROM ONLY entry x WHERE parent_id = $1::varchar FOR KEY SHARE OF x",
            &[&"0194b6f0-0000-7000-8000-000000000000"],
        )
        .await
        .expect("explain the check")
        .iter()
        .map(|r| r.get(0))
        .collect();
    let plan = plan.join("\n");
    assert!(
        plan.contains("Index") && !plan.contains("Seq Scan"),
        "the check reads entry without an index:\n{plan}"
    );
}

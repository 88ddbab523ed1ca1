//! One tick against a real database: the scenarios of DESIGN.md
//! "One tick, precisely".

use serde_json::json;

use crate::harness::*;

#[tokio::test]
async fn new_then_continuing_then_cleared_then_fires_again_as_a_new_row() {
    let db = TestDb::new();
    let client = db.client().await;
    let config = db.config();
    let alarm = insert_alarm(
        &client,
        "alarm_demo",
        "Demo alarm.",
        static_alarm(&["a", "b"]),
    )
    .await;

    let s = tick(&config, false).await;
    assert_eq!((s.new_events, s.emails_sent, s.alarms_errored), (2, 1, 0));
    let first = active(&client, "alarm_demo").await;
    assert_eq!(first.len(), 2);
    assert!(
        first.iter().all(Event::notified),
        "sent → last_notified stamped"
    );
    let a = first.iter().find(|e| e.key() == "a").expect("a").clone();
    assert_eq!(a.title, "a is bad");
    assert_eq!(a.content, "Demo alarm.\n\n---\n\ndetails of a");
    assert_eq!(a.status.as_deref(), Some("active"));
    assert_eq!(a.data["alarm_config_id"], json!(alarm));
    assert_eq!(a.data["recipients"], json!(["ops@test.example"]));
    assert_eq!(a.data["severity"], "warning");
    let (_, run) = last_run(&client).await;
    let per = &run["per_alarm"]["alarm_demo"];
    assert_eq!(per["bundle_new"], 2);
    assert_eq!(per["bundle_sent"], true);
    assert_eq!(per["bundle_subject"], "[alarm_demo] 2 detection(s), 2 new");

    // Same detections: both continue, quietly (notified, no window).
    let s = tick(&config, false).await;
    assert_eq!((s.new_events, s.emails_sent, s.cleared), (0, 0, 0));
    let second = active(&client, "alarm_demo").await;
    assert_eq!(second.len(), 2);
    let a2 = second.iter().find(|e| e.key() == "a").expect("a");
    assert_eq!(a2.id, a.id, "same row continues");
    assert!(a2.data["last_seen"].as_f64() >= a.data["last_seen"].as_f64());
    assert_eq!(a2.data["fire_time"], a.data["fire_time"]);

    // "a" stops firing: it clears, "b" continues.
    set_params(&client, &alarm, json!({"detections": detections(&["b"])})).await;
    let s = tick(&config, false).await;
    assert_eq!(s.cleared, 1);
    let all = events(&client, "alarm_demo").await;
    let a3 = all.iter().find(|e| e.id == a.id).expect("a row kept");
    assert!(
        a3.data["clear_time"].as_f64().is_some(),
        "cleared: {}",
        a3.data
    );

    // "a" fires again: a new row, a new email.
    set_params(
        &client,
        &alarm,
        json!({"detections": detections(&["a", "b"])}),
    )
    .await;
    let s = tick(&config, false).await;
    assert_eq!((s.new_events, s.emails_sent), (1, 1));
    let now_active = active(&client, "alarm_demo").await;
    let a4 = now_active.iter().find(|e| e.key() == "a").expect("a again");
    assert_ne!(a4.id, a.id);
    assert_eq!(events(&client, "alarm_demo").await.len(), 3);
}

#[tokio::test]
async fn a_failing_detector_clears_nothing_and_the_next_good_tick_carries_on() {
    let db = TestDb::new();
    let client = db.client().await;
    let config = db.config();
    let alarm = insert_alarm(&client, "alarm_flaky", "", static_alarm(&["a", "b"])).await;
    tick(&config, false).await;

    set_params(&client, &alarm, json!({"fail": true})).await;
    let s = tick(&config, false).await;
    assert_eq!((s.alarms_errored, s.cleared), (1, 0));
    assert_eq!(active(&client, "alarm_flaky").await.len(), 2);
    let (status, run) = last_run(&client).await;
    assert_eq!(status, "done");
    assert_eq!(run["errors"], 1);
    let per = &run["per_alarm"]["alarm_flaky"];
    assert_eq!(per["errors"], 1);
    assert!(
        per["error_message"]
            .as_str()
            .unwrap_or("")
            .contains("asked to fail"),
        "{per}"
    );
    assert!(run["error_details"]
        .as_str()
        .unwrap_or("")
        .contains("[alarm_flaky]"));

    set_params(&client, &alarm, json!({"detections": detections(&["a"])})).await;
    let s = tick(&config, false).await;
    assert_eq!((s.alarms_errored, s.cleared, s.new_events), (0, 1, 0));
}

#[tokio::test]
async fn duplicate_keys_in_one_tick_make_one_event() {
    let db = TestDb::new();
    let client = db.client().await;
    insert_alarm(
        &client,
        "alarm_dups",
        "",
        static_alarm(&["x", "x", "y", "x"]),
    )
    .await;
    let s = tick(&db.config(), false).await;
    assert_eq!((s.detections, s.new_events), (2, 2));
    assert_eq!(active(&client, "alarm_dups").await.len(), 2);
    let (_, run) = last_run(&client).await;
    assert_eq!(run["per_alarm"]["alarm_dups"]["alarms_seen"], 2);
}

#[tokio::test]
async fn disabled_alarm_writes_events_but_sends_nothing_until_enabled() {
    let db = TestDb::new();
    let client = db.client().await;
    let config = db.config();
    let mut data = static_alarm(&["a", "b"]);
    data["enabled"] = json!(false);
    let alarm = insert_alarm(&client, "alarm_quiet", "", data).await;

    let s = tick(&config, false).await;
    assert_eq!((s.new_events, s.emails_sent, s.alarms_errored), (2, 0, 0));
    let evs = active(&client, "alarm_quiet").await;
    assert_eq!(evs.len(), 2);
    assert!(evs.iter().all(|e| !e.notified()));
    let (_, run) = last_run(&client).await;
    let per = &run["per_alarm"]["alarm_quiet"];
    assert_eq!(per["enabled"], false);
    assert_eq!(per["bundle_sent"], false);
    assert_eq!(
        per["bundle_new"], 2,
        "the report shows what would have gone out"
    );

    // Still disabled: the un-notified events are composed again, not sent.
    tick(&config, false).await;
    assert!(active(&client, "alarm_quiet")
        .await
        .iter()
        .all(|e| !e.notified()));

    set_data_key(&client, &alarm, "enabled", json!(true)).await;
    let s = tick(&config, false).await;
    assert_eq!((s.new_events, s.emails_sent), (0, 1));
    let (_, run) = last_run(&client).await;
    let per = &run["per_alarm"]["alarm_quiet"];
    assert_eq!(
        per["bundle_renotify"], 2,
        "swept into the first bundle: {per}"
    );
    assert_eq!(
        per["bundle_subject"],
        "[alarm_quiet] 2 detection(s), 2 continuing"
    );
    assert!(active(&client, "alarm_quiet")
        .await
        .iter()
        .all(Event::notified));
}

#[tokio::test]
async fn renotification_window_elapsed_versus_not() {
    let db = TestDb::new();
    let client = db.client().await;
    let config = db.config();
    let mut data = static_alarm(&["a", "b"]);
    data["renotification_window_hours"] = json!(24);
    insert_alarm(&client, "alarm_window", "", data).await;
    tick(&config, false).await;

    // Within the window: quiet.
    let s = tick(&config, false).await;
    assert_eq!(s.emails_sent, 0);

    // Pretend "a" was last mailed 25 hours ago, "b" 23 hours ago.
    let evs = active(&client, "alarm_window").await;
    for e in &evs {
        let hours = if e.key() == "a" { 25.0 } else { 23.0 };
        let then = e.data["last_notified"].as_f64().expect("notified") - hours * 3600.0;
        set_data_key(&client, &e.id, "last_notified", json!(then)).await;
    }
    let s = tick(&config, false).await;
    assert_eq!(s.emails_sent, 1);
    let (_, run) = last_run(&client).await;
    let per = &run["per_alarm"]["alarm_window"];
    let a = evs.iter().find(|e| e.key() == "a").expect("a");
    assert_eq!(per["bundle_renotify_event_ids"], json!([a.id]));
    assert_eq!(per["bundle_new"], 0);
}

#[tokio::test]
async fn archived_and_soft_deleted_alarms_do_not_run() {
    let db = TestDb::new();
    let client = db.client().await;
    let archived = insert_alarm(&client, "alarm_archived", "", static_alarm(&["a"])).await;
    let deleted = insert_alarm(&client, "alarm_deleted", "", static_alarm(&["a"])).await;
    insert_alarm(&client, "alarm_live", "", static_alarm(&["a"])).await;
    client
        .execute(
            "UPDATE entry SET archived = true WHERE id = $1",
            &[&archived],
        )
        .await
        .expect("archive");
    client
        .execute("UPDATE entry SET deleted_at = 1 WHERE id = $1", &[&deleted])
        .await
        .expect("soft delete");

    let s = tick(&db.config(), false).await;
    assert_eq!(s.alarms_run, 1);
    assert!(events(&client, "alarm_archived").await.is_empty());
    assert!(events(&client, "alarm_deleted").await.is_empty());
    let (_, run) = last_run(&client).await;
    let keys: Vec<&String> = run["per_alarm"].as_object().expect("map").keys().collect();
    assert_eq!(keys, ["alarm_live"]);
}

#[tokio::test]
async fn archived_and_soft_deleted_events_are_not_continued() {
    let db = TestDb::new();
    let client = db.client().await;
    insert_alarm(&client, "alarm_ev", "", static_alarm(&["a"])).await;
    let config = db.config();
    tick(&config, false).await;
    let first = active(&client, "alarm_ev").await;
    client
        .execute(
            "UPDATE entry SET deleted_at = 1 WHERE id = $1",
            &[&first[0].id],
        )
        .await
        .expect("soft delete");
    let s = tick(&config, false).await;
    assert_eq!(
        s.new_events, 1,
        "a soft-deleted event is invisible, so the entity fires anew"
    );
}

/// An event that stops firing is cleared without its row being read
/// first; one the dashboard ended meanwhile must come through untouched.
#[tokio::test]
async fn events_ended_outside_the_engine_keep_their_rows_when_they_stop_firing() {
    let db = TestDb::new();
    let client = db.client().await;
    let config = db.config();
    let keys = ["by-hand", "archived", "deleted", "live"];
    let alarm = insert_alarm(&client, "alarm_ended", "", static_alarm(&keys)).await;
    tick(&config, false).await;
    let first = active(&client, "alarm_ended").await;
    let id = |key: &str| {
        first
            .iter()
            .find(|e| e.key() == key)
            .map(|e| e.id.clone())
            .expect("each key fired")
    };
    set_data_key(&client, &id("by-hand"), "clear_time", json!(12345.0)).await;
    for (sql, key) in [
        ("UPDATE entry SET archived = true WHERE id = $1", "archived"),
        ("UPDATE entry SET deleted_at = 1 WHERE id = $1", "deleted"),
    ] {
        client.execute(sql, &[&id(key)]).await.expect("end by hand");
    }
    let ended: Vec<String> = ["by-hand", "archived", "deleted"].map(id).to_vec();
    async fn rows(client: &tokio_postgres::Client, ids: &[String]) -> Vec<(String, String, f64)> {
        client
            .query(
                "SELECT id, data::text, timestamp_modified FROM entry
                 WHERE id = ANY($1) ORDER BY id",
                &[&ids],
            )
            .await
            .expect("read rows")
            .iter()
            .map(|r| (r.get(0), r.get(1), r.get(2)))
            .collect()
    }
    let before = rows(&client, &ended).await;

    set_params(&client, &alarm, json!({"detections": detections(&[])})).await;
    let s = tick(&config, false).await;
    assert_eq!(s.cleared, 1, "only the event still active is cleared");
    assert_eq!(
        rows(&client, &ended).await,
        before,
        "rows ended by hand are untouched"
    );
    let live = events(&client, "alarm_ended").await;
    let live = live.iter().find(|e| e.id == id("live")).expect("live row");
    assert!(!live.active(), "the event still active is cleared");

    // Every key was released: all four fire anew.
    set_params(&client, &alarm, json!({"detections": detections(&keys)})).await;
    let s = tick(&config, false).await;
    assert_eq!(s.new_events, 4);
}

#[tokio::test]
async fn one_broken_alarm_among_good_ones() {
    let db = TestDb::new();
    let client = db.client().await;
    insert_alarm(&client, "alarm_good_1", "", static_alarm(&["a"])).await;
    insert_alarm(&client, "alarm_good_2", "", static_alarm(&["b"])).await;
    insert_alarm(&client, "alarm_no_such_detector", "", json!({"params": {}})).await;
    insert_alarm(
        &client,
        "alarm_panics",
        "",
        json!({"detector": "static_list", "params": {"panic": true}}),
    )
    .await;
    insert_alarm(
        &client,
        "alarm_hangs",
        "",
        json!({"detector": "static_list", "params": {"delay_ms": 60000}}),
    )
    .await;
    insert_alarm(
        &client,
        "alarm_bad_params",
        "",
        json!({"detector": "static_list", "params": {"detections": "nope"}}),
    )
    .await;
    insert_alarm(
        &client,
        "alarm_bad_window",
        "",
        json!({"detector": "static_list", "renotification_window_hours": "daily"}),
    )
    .await;
    let bad_row = uuid::Uuid::new_v4().to_string();
    client
        .execute(
            "INSERT INTO entry (id, title, content, kind, context_id, data, archived, timestamp_created, timestamp_modified)
             VALUES ($1, 'no entry id', '', 'alarm', 'swf-alarms', '{\"params\": {}}', false, 0, 0)",
            &[&bad_row],
        )
        .await
        .expect("insert bad row");

    let config = db.config_with("alarm_timeout = 1");
    let started = std::time::Instant::now();
    let s = tick(&config, false).await;
    assert!(
        started.elapsed().as_secs() < 30,
        "the hung detector was abandoned"
    );
    assert_eq!(s.alarms_errored, 6, "{s:?}");
    assert_eq!(s.new_events, 2);
    assert_eq!(active(&client, "alarm_good_1").await.len(), 1);
    assert_eq!(active(&client, "alarm_good_2").await.len(), 1);

    let (_, run) = last_run(&client).await;
    let msg = |key: &str| {
        run["per_alarm"][key]["error_message"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    };
    assert!(msg("alarm_no_such_detector").contains("no detector named \"no_such_detector\""));
    assert!(
        msg("alarm_no_such_detector").contains("static_list"),
        "lists the registered ones"
    );
    assert!(
        msg("alarm_panics").contains("panicked"),
        "{}",
        msg("alarm_panics")
    );
    assert!(
        msg("alarm_hangs").contains("timed out"),
        "{}",
        msg("alarm_hangs")
    );
    assert!(
        msg("alarm_bad_params").contains("invalid params"),
        "{}",
        msg("alarm_bad_params")
    );
    assert!(msg("alarm_bad_window").contains("renotification_window_hours"));
    assert!(msg(&format!("row:{bad_row}")).contains("data.entry_id"));
    assert_eq!(run["per_alarm"]["alarm_good_1"]["errors"], 0);
    assert_eq!(run["errors"], 6);
}

#[tokio::test]
async fn dry_run_writes_state_and_sends_nothing() {
    let db = TestDb::new();
    let client = db.client().await;
    insert_alarm(&client, "alarm_dry", "", static_alarm(&["a"])).await;
    let s = tick(&db.config(), true).await;
    assert_eq!((s.new_events, s.emails_sent), (1, 0));
    let evs = active(&client, "alarm_dry").await;
    assert_eq!(evs.len(), 1);
    assert!(!evs[0].notified());
    let (_, run) = last_run(&client).await;
    assert_eq!(run["per_alarm"]["alarm_dry"]["bundle_sent"], false);
    assert_eq!(run["notifications_sent"], 0);

    // The next real tick sends what the dry run held back.
    let s = tick(&db.config(), false).await;
    assert_eq!(s.emails_sent, 1);
}

#[tokio::test]
async fn teams_expand_and_unknown_teams_are_recorded() {
    let db = TestDb::new();
    let client = db.client().await;
    insert_team(&client, "@ops", "one@x.example, Two@x.example").await;
    let mut data = static_alarm(&["a"]);
    data["recipients"] = json!("two@x.example; @ops @ghosts");
    insert_alarm(&client, "alarm_team", "", data).await;
    let s = tick(&db.config(), false).await;
    assert_eq!(s.alarms_errored, 0);
    let (_, run) = last_run(&client).await;
    let per = &run["per_alarm"]["alarm_team"];
    assert_eq!(per["recipients"], json!(["two@x.example", "one@x.example"]));
    assert!(per["error_message"]
        .as_str()
        .unwrap_or("")
        .contains("@ghosts"));
    let ev = &active(&client, "alarm_team").await[0];
    assert_eq!(ev.data["recipients"], per["recipients"]);
}

#[tokio::test]
async fn no_recipients_is_an_error_and_events_stay_unnotified() {
    let db = TestDb::new();
    let client = db.client().await;
    let mut data = static_alarm(&["a"]);
    data["recipients"] = json!("@nobody");
    let alarm = insert_alarm(&client, "alarm_lonely", "", data).await;
    let s = tick(&db.config(), false).await;
    assert_eq!((s.alarms_errored, s.emails_sent, s.new_events), (1, 0, 1));
    assert!(!active(&client, "alarm_lonely").await[0].notified());

    set_data_key(&client, &alarm, "recipients", json!(["ops@test.example"])).await;
    let s = tick(&db.config(), false).await;
    assert_eq!((s.alarms_errored, s.emails_sent), (0, 1));
    let (_, run) = last_run(&client).await;
    assert_eq!(run["per_alarm"]["alarm_lonely"]["bundle_renotify"], 1);
}

#[tokio::test]
async fn the_run_record_has_exactly_the_dashboard_fields() {
    let db = TestDb::new();
    let client = db.client().await;
    insert_alarm(&client, "alarm_fields", "", static_alarm(&["a"])).await;
    let s = tick_at(&db.config(), false, Some(1_800_000_000.5)).await;
    let (status, run) = last_run(&client).await;
    assert_eq!(status, "done");
    let mut keys: Vec<&str> = run
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "alarms_run",
            "alarms_seen",
            "entry_id",
            "error_details",
            "errors",
            "events_cleared",
            "events_new",
            "finished_at",
            "notifications_sent",
            "per_alarm",
            "started_at"
        ]
    );
    assert_eq!(run["entry_id"], "run_1800000000");
    assert_eq!(run["started_at"], 1_800_000_000.5);
    let per = run["per_alarm"]["alarm_fields"]
        .as_object()
        .expect("per alarm");
    let mut per_keys: Vec<&str> = per.keys().map(String::as_str).collect();
    per_keys.sort_unstable();
    assert_eq!(
        per_keys,
        [
            "alarms_seen",
            "bundle_new",
            "bundle_new_event_ids",
            "bundle_renotify",
            "bundle_renotify_event_ids",
            "bundle_sent",
            "bundle_subject",
            "enabled",
            "error_message",
            "errors",
            "params",
            "recipients"
        ]
    );
    let row = client
        .query_one(
            "SELECT title, content, context_id FROM entry WHERE id = $1",
            &[&s.run_id],
        )
        .await
        .expect("run row");
    assert_eq!(row.get::<_, String>(0), "Engine run 20270115 08:00:00 UTC");
    assert_eq!(row.get::<_, String>(2), "swf-alarms");
}

/// The statements one tick costs, counted by Postgres itself
/// (pg_stat_statements), for an alarm with `n` entities.
async fn statements_for(n: usize) -> Vec<(&'static str, i64)> {
    let db = TestDb::new();
    let client = db.client().await;
    let keys: Vec<String> = (0..n).map(|i| format!("task:{i}")).collect();
    let key_refs: Vec<&str> = keys.iter().map(String::as_str).collect();
    let alarm = insert_alarm(&client, "alarm_many", "", static_alarm(&key_refs)).await;
    let config = db.config_with("concurrency = 1");
    // Deferred foreign-key checks run inside the server at COMMIT, one per
    // inserted row, and show up as top-level queries; they are not
    // statements the engine sends, so they are left out.
    let count = || {
        let sql = format!(
            "SELECT COALESCE(sum(calls), 0) FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid
             WHERE d.datname = '{}' AND s.query NOT LIKE 'SELECT % FROM ONLY %FOR KEY SHARE OF x'",
            db.name
        );
        db.psql_admin(&sql).trim().parse::<i64>().expect("a count")
    };
    let mut costs = Vec::new();
    // Warm up so that prepared statements and sessions exist in both cases.
    let before = count();
    tick(&config, false).await; // all new
    costs.push(("create", count() - before));
    let before = count();
    tick(&config, false).await; // all continuing
    costs.push(("touch", count() - before));
    set_params(&client, &alarm, json!({"detections": []})).await;
    let before = count();
    tick(&config, false).await; // all cleared
    costs.push(("clear", count() - before));
    costs
}

#[tokio::test]
async fn statements_per_alarm_do_not_grow_with_entities() {
    let small = statements_for(3).await;
    let large = statements_for(600).await;
    println!("statements per tick, 3 entities: {small:?}; 600 entities: {large:?}");
    assert_eq!(small, large);
    for (_, n) in &large {
        assert!(
            *n < 40,
            "a tick of one alarm should cost a handful of statements: {large:?}"
        );
    }
}

#[tokio::test]
async fn a_second_tick_while_one_holds_the_lock_does_nothing() {
    let db = TestDb::new();
    let client = db.client().await;
    insert_alarm(&client, "alarm_lock", "", static_alarm(&["a"])).await;
    let holder = db.client().await;
    holder
        .query_one("SELECT pg_advisory_lock(8320231405206467181)", &[])
        .await
        .expect("take the tick lock");
    let outcome = swf_alarms::tick::run_tick(&db.config(), &Default::default())
        .await
        .expect("no error");
    let swf_alarms::tick::TickOutcome::AlreadyRunning(report) = outcome else {
        panic!("the tick ran: {outcome:?}");
    };
    assert!(!report.stuck, "{report:?}");
    assert_eq!(row_count(&client, "engine_run").await, 0);
    assert_eq!(row_count(&client, "event").await, 0);
    holder
        .query_one("SELECT pg_advisory_unlock(8320231405206467181)", &[])
        .await
        .expect("release the tick lock");
    tick(&db.config(), false).await;
    assert_eq!(row_count(&client, "event").await, 1);
}

#[tokio::test]
async fn a_continuing_event_keeps_its_fire_time_words_and_data() {
    let db = TestDb::new();
    let client = db.client().await;
    let alarm = insert_alarm(
        &client,
        "alarm_ctx",
        "Watch.",
        json!({"detector": "static_list", "recipients": "a@x.example", "params": {"detections": [
            {"dedupe_key": "task:1", "subject": "Task 1 at 19.9%", "body": "rate 19.9%",
             "extra": {"metric": "19.9%", "rate": 0.199, "subject": "spoof"}}
        ]}}),
    )
    .await;
    let t0 = 1_800_000_000.0;
    tick_at(&db.config(), false, Some(t0)).await;
    let ev = &active(&client, "alarm_ctx").await[0];
    assert_eq!(ev.data["rate"], 0.199);
    assert_eq!(ev.data["subject"], "Task 1 at 19.9%", "engine keys win");

    set_params(
        &client,
        &alarm,
        json!({"detections": [
            {"dedupe_key": "task:1", "subject": "Task 1 at 10.0%", "body": "rate 10.0%",
             "extra": {"metric": "10.0%", "rate": 0.1, "new_key": 1}}
        ]}),
    )
    .await;
    tick_at(&db.config(), false, Some(t0 + 300.0)).await;
    let ev2 = &active(&client, "alarm_ctx").await[0];
    assert_eq!(ev2.id, ev.id);
    assert_eq!(
        (ev2.title.as_str(), ev2.content.as_str()),
        (ev.title.as_str(), ev.content.as_str())
    );
    let mut bookkeeping_only = ev2.data.clone();
    bookkeeping_only["last_seen"] = ev.data["last_seen"].clone();
    assert_eq!(
        bookkeeping_only, ev.data,
        "only last_seen moved: the row never contradicts itself"
    );
    assert_eq!(ev2.data["last_seen"], t0 + 300.0);
    let modified: f64 = client
        .query_one(
            "SELECT timestamp_modified FROM entry WHERE id = $1",
            &[&ev.id],
        )
        .await
        .expect("row")
        .get(0);
    assert_eq!(modified, t0 + 300.0);
}

#[tokio::test]
async fn events_created_in_one_tick_are_ordered_by_detection() {
    let db = TestDb::new();
    let client = db.client().await;
    let keys = ["task:5", "task:3", "task:9", "task:1", "task:7"];
    insert_alarm(&client, "alarm_order", "", static_alarm(&keys)).await;
    tick_at(&db.config(), false, Some(1_800_000_000.0)).await;
    let rows = client
        .query(
            "SELECT data->>'dedupe_key', timestamp_created, (data->>'fire_time')::float8
             FROM entry WHERE kind = 'event' ORDER BY timestamp_created DESC",
            &[],
        )
        .await
        .expect("events");
    let newest_first: Vec<String> = rows.iter().map(|r| r.get(0)).collect();
    let mut want: Vec<&str> = keys.to_vec();
    want.reverse();
    assert_eq!(
        newest_first, want,
        "the dashboard's -timestamp_created order"
    );
    let created: Vec<f64> = rows.iter().map(|r| r.get(1)).collect();
    assert!(created.windows(2).all(|w| w[0] > w[1]), "{created:?}");
    for r in &rows {
        assert_eq!(
            r.get::<_, f64>(1),
            r.get::<_, f64>(2),
            "fire_time = creation"
        );
    }
    // Ids are version 7 UUIDs, in creation order too (README, "Where this
    // engine differs": the primary key keeps an alarm's events together).
    let ids: Vec<String> = client
        .query(
            "SELECT id FROM entry WHERE kind = 'event' ORDER BY timestamp_created",
            &[],
        )
        .await
        .expect("ids")
        .iter()
        .map(|r| r.get(0))
        .collect();
    for id in &ids {
        let uuid = uuid::Uuid::parse_str(id).expect("a UUID");
        assert_eq!(uuid.get_version_num(), 7, "{id}");
    }
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "{ids:?}");
}

/// The heap page of each event row, by id.
async fn pages(client: &tokio_postgres::Client, alarm: &str) -> Vec<(String, String)> {
    let event_entry_id = event_entry_id(alarm);
    client
        .query(
            "SELECT id, (ctid::text::point)[0]::bigint::text FROM entry
             WHERE kind = 'event' AND data->>'entry_id' = $1 ORDER BY id",
            &[&event_entry_id],
        )
        .await
        .expect("read the events' pages")
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect()
}

/// Creates 300 events of one alarm, then runs a second tick in which they
/// all still fire (`keep_firing`) or all clear: how many of the 300 rows
/// that tick moved to another heap page.
async fn rows_moved_by_the_second_tick(keep_firing: bool) -> usize {
    let db = TestDb::new();
    let client = db.client().await;
    let keys: Vec<String> = (0..300).map(|i| format!("task:{i}")).collect();
    let key_refs: Vec<&str> = keys.iter().map(String::as_str).collect();
    let alarm = insert_alarm(&client, "alarm_pages", "", static_alarm(&key_refs)).await;
    let config = db.config();
    assert_eq!(tick(&config, false).await.new_events, 300);
    let created = pages(&client, "alarm_pages").await;
    let spread: std::collections::HashSet<&String> = created.iter().map(|(_, p)| p).collect();
    assert!(
        spread.len() > 5,
        "300 events fill several pages: {spread:?}"
    );
    if !keep_firing {
        set_params(&client, &alarm, json!({"detections": []})).await;
    }
    tick(&config, false).await;
    created
        .iter()
        .zip(&pages(&client, "alarm_pages").await)
        .filter(|(before, after)| before != after)
        .count()
}

/// Each tick rewrites every continuing event row (`last_seen`). An update
/// that finds no room on its row's page moves the row and adds an entry to
/// every index of `entry`; with more than half of each page kept free
/// (migration 0009) the new version of every row fits beside it. (Later
/// ticks find that room again once Postgres has pruned the old versions,
/// which it does when no snapshot still needs them; not asserted here.)
#[tokio::test]
async fn continuing_events_are_rewritten_on_their_own_pages() {
    assert_eq!(rows_moved_by_the_second_tick(true).await, 0);
}

/// Clearing rewrites the row a little longer (`clear_time` was null); it
/// fits beside the rows too.
#[tokio::test]
async fn cleared_events_are_rewritten_on_their_own_pages() {
    assert_eq!(rows_moved_by_the_second_tick(false).await, 0);
}

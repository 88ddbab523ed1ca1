//! Issue 12, points 1 and 2: every wait has a deadline, and the exit
//! status tells the truth — a held lock names its holder, a stuck one is
//! an error, a blocked statement fails its alarm instead of hanging the
//! tick, a slow alarm is cut off at the tick's deadline, and a database
//! that goes away mid-tick gives exit 1 ("some of it happened"), never 2.

use serde_json::json;

use crate::harness::{
    mail::smtp_toml,
    net::{Proxy, Relay},
    pg::config_toml,
    *,
};

/// The tick lock's key, as the engine spells it.
const TICK_LOCK_KEY: i64 = 0x7377_6661_6c61_726d;

/// `toml` with `keys` added to its `[db]` table.
fn with_db_keys(toml: &str, keys: &str) -> String {
    toml.replacen("[db]\n", &format!("[db]\n{keys}\n"), 1)
}

fn write_config(db: &TestDb, tag: &str, toml: &str) -> std::path::PathBuf {
    let path = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("{}-{tag}.toml", db.name));
    std::fs::write(&path, toml).expect("write config");
    path
}

fn run_bin(config: &std::path::Path) -> (i32, String) {
    let out = swf_alarms_bin()
        .args(["run", "--config"])
        .arg(config)
        .output()
        .expect("run swf-alarms");
    (out.status.code().unwrap_or(-1), output_text(&out))
}

/// A session of the test's own, holding the tick lock.
async fn hold_tick_lock(db: &TestDb, application: &str) -> (tokio_postgres::Client, i32) {
    let (holder, conn) = tokio_postgres::Config::new()
        .host("127.0.0.1")
        .port(db.port)
        .user("postgres")
        .dbname(&db.name)
        .application_name(application)
        .connect(tokio_postgres::NoTls)
        .await
        .expect("connect the holder");
    tokio::spawn(conn);
    let pid: i32 = holder
        .query_one(
            "SELECT pg_backend_pid() FROM (SELECT pg_advisory_lock($1)) AS l",
            &[&TICK_LOCK_KEY],
        )
        .await
        .expect("take the tick lock")
        .get(0);
    (holder, pid)
}

#[tokio::test]
async fn issue_12_a_held_lock_names_its_holder_and_a_stuck_one_is_an_error() {
    let db = TestDb::new();
    let client = db.client().await;
    insert_alarm(&client, "alarm_locked", "", static_alarm(&["a"])).await;
    let (_holder, pid) = hold_tick_lock(&db, "dashboard-maintenance").await;

    // Now: an overlap, reported with who holds the lock.
    let config = db.config();
    let outcome = swf_alarms::tick::run_tick(&config, &Default::default())
        .await
        .expect("no error");
    let swf_alarms::tick::TickOutcome::AlreadyRunning(report) = outcome else {
        panic!("the tick ran: {outcome:?}");
    };
    let holder = report.holder.clone().expect("the holder is identified");
    assert_eq!(
        (holder.pid, holder.application.as_str()),
        (pid, "dashboard-maintenance")
    );
    assert!(!report.stuck, "{report:?}");

    // The same lock, seen 16 minutes later (default stuck_after: 15).
    let unix_now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs_f64();
    let later = unix_now + 16.0 * 60.0;
    let outcome = swf_alarms::tick::run_tick(
        &config,
        &swf_alarms::tick::TickOptions {
            dry_run: false,
            now: Some(later),
        },
    )
    .await
    .expect("no error");
    let swf_alarms::tick::TickOutcome::AlreadyRunning(report) = outcome else {
        panic!("the tick ran: {outcome:?}");
    };
    assert!(report.stuck, "{report:?}");
    assert!(report.held_for.expect("known").as_secs() >= 15 * 60);

    // Through the binary: an overlap exits 0 and names the holder...
    let (code, text) = run_bin(&db.config_file(""));
    assert_eq!(code, 0, "{text}");
    assert!(text.contains(&format!("pid={pid}")), "{text}");
    assert!(text.contains("dashboard-maintenance"), "{text}");

    // ...and a lock held past stuck_after exits 1 with an error. The
    // holder's session must first be older than stuck_after (0.6 s here).
    loop {
        let age: f64 = client
            .query_one(
                "SELECT extract(epoch FROM now() - backend_start)::float8
                 FROM pg_stat_activity WHERE pid = $1",
                &[&pid],
            )
            .await
            .expect("holder age")
            .get(0);
        if age > 1.0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let (code, text) = run_bin(&db.config_file("tick_timeout = 0.3\nstuck_after = 0.01"));
    assert_eq!(code, 1, "{text}");
    assert!(text.contains("ERROR") && text.contains("stuck"), "{text}");
    assert_eq!(
        row_count(&client, "engine_run").await,
        0,
        "nothing was done"
    );
    assert_eq!(row_count(&client, "event").await, 0);
}

#[tokio::test]
async fn issue_12_a_row_locked_by_the_dashboard_fails_that_alarm_within_lock_timeout() {
    let db = TestDb::new();
    let client = db.client().await;
    insert_alarm(&client, "alarm_blocked", "", static_alarm(&["a"])).await;
    insert_alarm(&client, "alarm_free", "", static_alarm(&["b"])).await;
    tick(&db.config(), false).await;
    let event = active(&client, "alarm_blocked").await.remove(0);

    // A dashboard transaction holds the event's row (an edit form, say).
    let mut dashboard = db.client().await;
    let txn = dashboard.transaction().await.expect("begin");
    txn.execute("SELECT 1 FROM entry WHERE id = $1 FOR UPDATE", &[&event.id])
        .await
        .expect("lock the event row");

    let config = write_config(
        &db,
        "lock",
        &with_db_keys(&db.toml("", ""), "lock_timeout = 0.2"),
    );
    let (code, text) = run_bin(&config);
    assert_eq!(code, 1, "{text}");
    let (status, run) = last_run(&client).await;
    assert_eq!(status, "done", "the tick finished and recorded itself");
    let blocked = &run["per_alarm"]["alarm_blocked"];
    assert_eq!(blocked["errors"], 1, "{run:#}");
    assert!(
        blocked["error_message"]
            .as_str()
            .is_some_and(|m| m.contains("lock timeout")),
        "{run:#}"
    );
    assert_eq!(run["per_alarm"]["alarm_free"]["errors"], 0, "{run:#}");

    // Once the dashboard lets go, the next tick is clean.
    txn.rollback().await.expect("rollback");
    let (code, text) = run_bin(&config);
    assert_eq!(code, 0, "{text}");
    assert_eq!(active(&client, "alarm_blocked").await.len(), 1);
}

#[tokio::test]
async fn issue_12_the_tick_deadline_cuts_off_a_slow_alarm_and_records_the_rest() {
    let db = TestDb::new();
    let client = db.client().await;
    insert_alarm(&client, "alarm_quick", "", static_alarm(&["q1", "q2"])).await;
    insert_alarm(
        &client,
        "alarm_sluggish",
        "",
        json!({"detector": "static_list", "recipients": ["ops@test.example"],
               "params": {"detections": detections(&["s"]), "delay_ms": 600_000}}),
    )
    .await;
    let started = std::time::Instant::now();
    let (code, text) = run_bin(&db.config_file("alarm_timeout = 900\ntick_timeout = 1"));
    assert_eq!(code, 1, "{text}");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(120),
        "the deadline bounds the tick"
    );
    let (status, run) = last_run(&client).await;
    assert_eq!(status, "done");
    assert_eq!(run["per_alarm"]["alarm_quick"]["errors"], 0, "{run:#}");
    let cut = &run["per_alarm"]["alarm_sluggish"];
    assert_eq!(cut["errors"], 1, "{run:#}");
    assert!(
        cut["error_message"]
            .as_str()
            .is_some_and(|m| m.contains("engine.tick_timeout")),
        "{run:#}"
    );
    assert_eq!(active(&client, "alarm_quick").await.len(), 2);
    assert!(events(&client, "alarm_sluggish").await.is_empty());
}

#[tokio::test]
async fn issue_12_the_database_going_away_during_a_send_is_exit_1_and_the_next_tick_catches_up() {
    let db = TestDb::new();
    let client = db.client().await;
    insert_alarm(&client, "alarm_midway", "", static_alarm(&["x"])).await;
    let proxy = std::sync::Arc::new(Proxy::start(db.port));
    let relay = Relay::start(&[]);
    {
        let proxy = std::sync::Arc::clone(&proxy);
        relay.before_reply(move || proxy.cut());
    }
    let toml = config_toml(proxy.port, &db.name, "", &smtp_toml(relay.port, 5));
    let config = write_config(&db, "midway", &with_db_keys(&toml, "connect_timeout = 2"));

    let (code, text) = run_bin(&config);
    assert_eq!(code, 1, "{text}");
    assert!(!text.contains("did not run"), "{text}");
    assert_eq!(relay.accepted().len(), 1, "the mail went out");
    assert!(
        events(&client, "alarm_midway").await.is_empty(),
        "the write after the send was lost whole"
    );
    let (status, _) = last_run(&client).await;
    assert_eq!(status, "active", "the run row could not be closed");

    // The database is back: the next tick sends again and writes the
    // event, stamped.
    relay.before_reply(|| {});
    proxy.restore();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let (code, text) = loop {
        // The server drops the cut session's tick lock once it notices.
        let (code, text) = run_bin(&config);
        if !text.contains("already running") {
            break (code, text);
        }
        assert!(std::time::Instant::now() < deadline, "lock never released");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    assert_eq!(code, 0, "{text}");
    assert_eq!(relay.accepted().len(), 2, "sent again: at least once");
    let ev = active(&client, "alarm_midway").await;
    assert_eq!(ev.len(), 1, "no duplicate event");
    assert!(ev[0].notified());
    let (status, _) = last_run(&client).await;
    assert_eq!(status, "done");
}

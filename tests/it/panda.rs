//! PanDA detectors against a loopback HTTP server speaking the task-list
//! API, and database detectors against real tables.

use std::time::Duration;

use serde_json::{json, Value};
use wiremock::{
    matchers::{method, path, query_param, query_param_is_missing},
    Mock, MockServer, ResponseTemplate,
};

use crate::harness::*;

const TASKS: &str = "/api/panda/tasks/";

/// A task as the server lists it; `rate` is the final failure rate.
fn task(id: i64, status: &str, rate: Option<f64>, final_failed: u64, finished: u64) -> Value {
    json!({
        "jeditaskid": id,
        "taskname": format!("user.sakib.campaign-{id}.sim"),
        "status": status,
        "username": "Sakib Rahman",
        "workinggroup": "EIC",
        "processingtype": "simul",
        "site": "BNL_PROD",
        "nactive": 4,
        "nfinished": finished,
        "nfailed": final_failed * 3,
        "nrunning": 2,
        "nretries": final_failed * 2,
        "nfinalfailed": final_failed,
        "nfilesfinished": finished,
        "computed_failurerate": rate.map(|r| (r * 3.0_f64).min(1.0)),
        "computed_finalfailurerate": rate,
        "failurerate": null,
        "modificationtime": "2026-11-23T10:00:00",
        "creationdate": "2026-11-22T08:00:00",
    })
}

fn page(items: Vec<Value>, next_before_id: Option<i64>) -> Value {
    json!({
        "items": items,
        "total_count": 0,
        "has_more": next_before_id.is_some(),
        "next_before_id": next_before_id,
        "summary": {},
        "filters": {},
    })
}

/// Serves `body` for one status (first page, or the page after `before`).
async fn serve(server: &MockServer, status: &str, before: Option<&str>, body: Value) {
    let mock = Mock::given(method("GET"))
        .and(path(TASKS))
        .and(query_param("status", status));
    let mock = match before {
        Some(b) => mock.and(query_param("before_id", b)),
        None => mock.and(query_param_is_missing("before_id")),
    };
    mock.respond_with(ResponseTemplate::new(200).set_body_json(body))
        .mount(server)
        .await;
}

/// The realistic listing: two pages of running tasks, one of failed, none broken.
async fn serve_realistic(server: &MockServer) {
    serve(
        server,
        "running",
        None,
        page(
            vec![
                task(1001, "running", Some(0.10), 5, 45), // fires
                task(1002, "running", Some(0.02), 1, 49), // below threshold
                task(1003, "running", Some(0.50), 1, 1),  // noise floor: 2 terminal jobs
                task(1004, "running", None, 0, 0),        // no terminal jobs: no rate
                task(1005, "running", Some(0.03), 3, 97), // exactly at threshold: fires
            ],
            Some(1000),
        ),
    )
    .await;
    serve(
        server,
        "running",
        Some("1000"),
        page(vec![task(990, "running", Some(0.2), 4, 16)], None),
    )
    .await;
    serve(
        server,
        "failed",
        None,
        page(vec![task(980, "failed", Some(0.04), 2, 48)], None),
    )
    .await;
    serve(server, "broken", None, page(vec![], None)).await;
}

fn engine_toml(server: &MockServer) -> String {
    format!(
        "service_base_url = \"{}\"\nrequest_timeout = 1\n\
         panda_task_url = \"https://monitor.test/tasks/{{jeditaskid}}/\"\n",
        server.uri()
    )
}

fn failure_rate_alarm(params: Value) -> Value {
    json!({"detector": "panda_failure_rate", "recipients": "ops@test.example",
           "renotification_window_hours": 24, "params": params})
}

fn keys(events: &[Event]) -> Vec<String> {
    let mut k: Vec<String> = events.iter().map(|e| e.key().to_owned()).collect();
    k.sort();
    k
}

#[tokio::test]
async fn failure_rate_over_pages_with_threshold_and_noise_floor() {
    let server = MockServer::start().await;
    serve_realistic(&server).await;
    let db = TestDb::new();
    let client = db.client().await;
    insert_alarm(
        &client,
        "alarm_rates",
        "Tasks failing too often.",
        failure_rate_alarm(json!({"threshold": 0.03, "username": "Sakib%", "since_days": 2})),
    )
    .await;
    let s = tick(&db.config_with(&engine_toml(&server)), false).await;
    assert_eq!(s.alarms_errored, 0, "{s:?}");
    let evs = active(&client, "alarm_rates").await;
    assert_eq!(
        keys(&evs),
        ["task:1001", "task:1005", "task:980", "task:990"]
    );

    let t = evs.iter().find(|e| e.key() == "task:1001").expect("1001");
    assert_eq!(t.data["rate"], 0.10);
    assert_eq!(t.data["rate_field"], "computed_finalfailurerate");
    assert_eq!(t.data["threshold"], 0.03);
    assert_eq!(t.data["username"], "Sakib Rahman");
    assert_eq!(t.data["site"], "BNL_PROD");
    assert_eq!(
        t.title,
        "task 1001 (running) failure rate 10.0% — user.sakib.campaign-1001.sim"
    );
    assert!(
        t.content
            .contains("Task page: https://monitor.test/tasks/1001/"),
        "{}",
        t.content
    );
    assert!(
        t.content
            .contains("Jobs:      5 failed, 45 finished, 4 active"),
        "{}",
        t.content
    );

    // Every request carried the owner filter and the window; each status was asked.
    let requests = server.received_requests().await.expect("recording");
    let mut statuses: Vec<String> = Vec::new();
    for r in &requests {
        let q: Vec<(String, String)> = r.url.query_pairs().into_owned().collect();
        let get = |k: &str| q.iter().find(|(key, _)| key == k).map(|(_, v)| v.clone());
        assert_eq!(get("username").as_deref(), Some("Sakib%"));
        assert_eq!(get("days").as_deref(), Some("2"));
        assert_eq!(get("limit").as_deref(), Some("200"));
        statuses.push(get("status").unwrap_or_default());
    }
    statuses.sort();
    assert_eq!(statuses, ["broken", "failed", "running", "running"]);
}

#[tokio::test]
async fn older_servers_fall_back_to_the_all_failures_rate() {
    let server = MockServer::start().await;
    let mut old = task(2001, "running", None, 0, 40);
    let map = old.as_object_mut().expect("object");
    map.remove("nfinalfailed");
    map.remove("computed_finalfailurerate");
    map.insert("computed_failurerate".into(), json!(0.2));
    map.insert("nfailed".into(), json!(10));
    serve(&server, "running", None, page(vec![old], None)).await;
    let db = TestDb::new();
    let client = db.client().await;
    insert_alarm(
        &client,
        "alarm_old_server",
        "",
        failure_rate_alarm(json!({"threshold": 0.1, "statuses": ["running"]})),
    )
    .await;
    let s = tick(&db.config_with(&engine_toml(&server)), false).await;
    assert_eq!(s.alarms_errored, 0);
    let evs = active(&client, "alarm_old_server").await;
    assert_eq!(keys(&evs), ["task:2001"]);
    assert_eq!(evs[0].data["rate_field"], "computed_failurerate");
}

#[tokio::test]
async fn production_rows_run_unchanged() {
    let server = MockServer::start().await;
    serve_realistic(&server).await;
    let db = TestDb::new();
    let client = db.client().await;
    // As the dashboard's seed wrote them: no `detector`; one with the
    // older param names.
    insert_alarm(
        &client,
        "alarm_panda_failure_rate_sakib",
        "Alert on PanDA tasks owned by Sakib Rahman.",
        json!({"enabled": true, "severity": "warning", "recipients": ["@prodops"],
               "renotification_window_hours": 24,
               "params": {"threshold": 0.03, "since_days": 1, "username": "Sakib Rahman", "min_terminal_jobs": 5}}),
    )
    .await;
    insert_alarm(
        &client,
        "alarm_panda_failure_rate_eic_all",
        "Catch-all.",
        json!({"kind": "task_failure_rate", "enabled": true, "severity": "info",
               "recipients": ["ops@test.example"], "renotification_window_hours": 48,
               "params": {"threshold": 0.05, "days_window": 1, "workinggroup": "EIC", "min_terminal_jobs": 5}}),
    )
    .await;
    insert_team(&client, "@prodops", "prod@test.example").await;
    // As cron runs it: the binary, against the fake PanDA server.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_swf-alarms"))
        .args(["run", "--dry-run", "--config"])
        .arg(db.config_file(&engine_toml(&server)))
        .output()
        .expect("run swf-alarms");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    // `check` accepts exactly what the tick runs: both rows, the one
    // written with the older `days_window` too.
    let checked = swf_alarms_bin()
        .args(["check", "--config"])
        .arg(db.config_file(&engine_toml(&server)))
        .output()
        .expect("run swf-alarms check");
    let text = output_text(&checked);
    assert_eq!(checked.status.code(), Some(0), "{text}");
    assert!(text.contains("2 alarm(s) checked, 0 problem(s)"), "{text}");
    assert_eq!(
        keys(&active(&client, "alarm_panda_failure_rate_sakib").await),
        ["task:1001", "task:1005", "task:980", "task:990"]
    );
    assert_eq!(
        keys(&active(&client, "alarm_panda_failure_rate_eic_all").await),
        ["task:1001", "task:990"]
    );
}

#[tokio::test]
async fn identical_requests_are_sent_once_per_tick() {
    let server = MockServer::start().await;
    serve_realistic(&server).await;
    let db = TestDb::new();
    let client = db.client().await;
    let params = json!({"threshold": 0.03});
    for name in ["alarm_share_a", "alarm_share_b", "alarm_share_c"] {
        insert_alarm(&client, name, "", failure_rate_alarm(params.clone())).await;
    }
    let s = tick(
        &db.config_with(&format!("{}concurrency = 3\n", engine_toml(&server))),
        false,
    )
    .await;
    assert_eq!(s.alarms_errored, 0);
    assert_eq!(s.new_events, 12);
    // 4 distinct pages (running ×2, failed, broken), each fetched once.
    assert_eq!(
        server.received_requests().await.expect("recording").len(),
        4
    );

    // Nothing is cached across ticks.
    tick(&db.config_with(&engine_toml(&server)), false).await;
    assert_eq!(
        server.received_requests().await.expect("recording").len(),
        8
    );
}

/// Each fault fails the alarm, clears nothing, and the next good tick works.
#[tokio::test]
async fn faults_fail_the_alarm_clear_nothing_and_recover() {
    let faults: Vec<(&str, ResponseTemplate, &str)> = vec![
        (
            "500",
            ResponseTemplate::new(500).set_body_string("Internal Server Error: database is down"),
            "HTTP 500: Internal Server Error",
        ),
        (
            "404",
            ResponseTemplate::new(404).set_body_string("<html>Not Found</html>"),
            "HTTP 404",
        ),
        (
            "timeout",
            ResponseTemplate::new(200)
                .set_body_json(page(vec![], None))
                .set_delay(Duration::from_secs(3)),
            "no answer within",
        ),
        (
            "non-JSON",
            ResponseTemplate::new(200).set_body_string("<html>login page</html>"),
            "not JSON",
        ),
        (
            "truncated",
            ResponseTemplate::new(200)
                .set_body_string(r#"{"items": [{"jeditaskid": 1, "status": "run"#),
            "not JSON",
        ),
        (
            "wrong shape",
            ResponseTemplate::new(200).set_body_json(json!({"tasks": []})),
            "no `items` list",
        ),
        (
            "cursor loop",
            ResponseTemplate::new(200)
                .set_body_json(page(vec![task(5, "running", Some(0.5), 5, 5)], Some(5000))),
            "does not decrease",
        ),
        (
            "has_more without cursor",
            ResponseTemplate::new(200).set_body_json(json!({"items": [], "has_more": true})),
            "no next_before_id",
        ),
    ];
    let server = MockServer::start().await;
    let db = TestDb::new();
    let client = db.client().await;
    insert_alarm(
        &client,
        "alarm_faulty",
        "",
        failure_rate_alarm(json!({"threshold": 0.03, "statuses": ["running"]})),
    )
    .await;
    let config = db.config_with(&engine_toml(&server));
    let good = || async {
        server.reset().await;
        serve(
            &server,
            "running",
            None,
            page(
                vec![
                    task(7, "running", Some(0.5), 5, 5),
                    task(8, "running", Some(0.5), 5, 5),
                ],
                None,
            ),
        )
        .await;
    };

    good().await;
    tick(&config, false).await;
    assert_eq!(active(&client, "alarm_faulty").await.len(), 2);

    for (name, response, expect) in faults {
        server.reset().await;
        if name == "cursor loop" {
            // The second page points back to the same cursor.
            serve(
                &server,
                "running",
                None,
                page(vec![task(7, "running", Some(0.5), 5, 5)], Some(5000)),
            )
            .await;
            Mock::given(method("GET"))
                .and(path(TASKS))
                .and(query_param("before_id", "5000"))
                .respond_with(response)
                .mount(&server)
                .await;
        } else {
            Mock::given(method("GET"))
                .and(path(TASKS))
                .respond_with(response)
                .mount(&server)
                .await;
        }
        let s = tick(&config, false).await;
        assert_eq!((s.alarms_errored, s.cleared), (1, 0), "{name}: {s:?}");
        assert_eq!(
            active(&client, "alarm_faulty").await.len(),
            2,
            "{name}: nothing cleared"
        );
        let (_, run) = last_run(&client).await;
        let message = run["per_alarm"]["alarm_faulty"]["error_message"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        assert!(message.contains(expect), "{name}: {message}");

        good().await;
        let s = tick(&config, false).await;
        assert_eq!(
            (s.alarms_errored, s.new_events, s.cleared),
            (0, 0, 0),
            "{name}: recovery {s:?}"
        );
    }
}

#[tokio::test]
async fn task_status_reports_dead_tasks() {
    let server = MockServer::start().await;
    serve(
        &server,
        "broken",
        None,
        page(vec![task(3001, "broken", None, 0, 0)], None),
    )
    .await;
    serve(
        &server,
        "aborted",
        None,
        page(vec![task(3002, "aborted", Some(0.0), 0, 10)], None),
    )
    .await;
    serve(&server, "failed", None, page(vec![], None)).await;
    let db = TestDb::new();
    let client = db.client().await;
    insert_alarm(
        &client,
        "alarm_dead",
        "",
        json!({"detector": "panda_task_status", "recipients": "ops@test.example", "params": {}}),
    )
    .await;
    let s = tick(&db.config_with(&engine_toml(&server)), false).await;
    assert_eq!(s.alarms_errored, 0, "{s:?}");
    let evs = active(&client, "alarm_dead").await;
    assert_eq!(keys(&evs), ["task:3001", "task:3002"]);
    assert!(evs
        .iter()
        .any(|e| e.title == "task 3001 broken — user.sakib.campaign-3001.sim"));
}

#[tokio::test]
async fn without_a_service_url_panda_alarms_fail_with_a_clear_message() {
    let db = TestDb::new();
    let client = db.client().await;
    insert_alarm(
        &client,
        "alarm_unconfigured",
        "",
        failure_rate_alarm(json!({"threshold": 0.03})),
    )
    .await;
    let s = tick(&db.config(), false).await;
    assert_eq!(s.alarms_errored, 1);
    let (_, run) = last_run(&client).await;
    let message = run["per_alarm"]["alarm_unconfigured"]["error_message"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(message.contains("engine.service_base_url"), "{message}");
}

/// Tables beside `entry`, as the dashboard's other apps create them.
pub(crate) const SIDE_TABLES: &str = "
CREATE TABLE swf_applog (id bigserial PRIMARY KEY, app_name varchar(100) NOT NULL,
    instance_name varchar(100) NOT NULL DEFAULT 'i', timestamp timestamptz NOT NULL,
    level integer NOT NULL DEFAULT 20, message text NOT NULL DEFAULT '', extra_data jsonb NULL);
CREATE TABLE snapper_system_snap (id bigserial PRIMARY KEY, scope varchar(64) NOT NULL,
    capture_policy varchar(64) NOT NULL, snap_time timestamptz NOT NULL);
CREATE TABLE job_marks (id serial PRIMARY KEY, kind text NOT NULL, at_epoch double precision NOT NULL);
";

async fn applog(client: &tokio_postgres::Client, hours_ago: f64, app: &str, extra: Value) {
    client
        .execute(
            "INSERT INTO swf_applog (app_name, timestamp, extra_data)
             VALUES ($1, now() - make_interval(secs => $2), $3)",
            &[&app, &(hours_ago * 3600.0), &extra],
        )
        .await
        .expect("insert applog");
}

#[tokio::test]
async fn database_detectors_against_real_tables() {
    let db = TestDb::new();
    let client = db.client().await;
    client
        .batch_execute(SIDE_TABLES)
        .await
        .expect("side tables");
    let alarm = |detector: &str, params: Value| json!({"detector": detector, "recipients": "ops@test.example", "params": params});
    insert_alarm(
        &client,
        "alarm_catalog",
        "",
        alarm("catalog_sync_freshness", json!({})),
    )
    .await;
    insert_alarm(
        &client,
        "alarm_delivery",
        "",
        alarm("delivery_record_freshness", json!({})),
    )
    .await;
    insert_alarm(
        &client,
        "alarm_fetches",
        "",
        alarm("payload_fetch_rate", json!({})),
    )
    .await;
    insert_alarm(
        &client,
        "alarm_epoch",
        "",
        alarm(
            "db_freshness",
            json!({"name": "marks", "table": "job_marks", "time_column": "at_epoch",
                                      "filters": {"kind": "nightly"}, "max_age_hours": 2}),
        ),
    )
    .await;
    let config = db.config();

    // Empty tables: the freshness checks say "never", the rate is quiet.
    let s = tick(&config, false).await;
    assert_eq!(s.alarms_errored, 0, "{s:?}");
    assert_eq!(
        keys(&active(&client, "alarm_catalog").await),
        ["catalog_sync:never"]
    );
    assert_eq!(
        keys(&active(&client, "alarm_delivery").await),
        ["delivery_record:never"]
    );
    assert_eq!(keys(&active(&client, "alarm_epoch").await), ["marks:never"]);
    assert!(active(&client, "alarm_fetches").await.is_empty());

    // Old successes, a failed recent sync, a recent delivery of another scope,
    // and a burst of fetches.
    let ok = json!({"action": "catalog_sync", "outcome": "ok"});
    applog(&client, 40.0, "epicprod", ok.clone()).await;
    applog(
        &client,
        1.0,
        "epicprod",
        json!({"action": "catalog_sync", "outcome": "error"}),
    )
    .await;
    applog(&client, 1.0, "otherapp", ok.clone()).await;
    client
        .batch_execute(
            "INSERT INTO snapper_system_snap (scope, capture_policy, snap_time) VALUES
               ('epicprod', 'delivery-daily-v1', now() - interval '2 hours'),
               ('other', 'backfill-v1', now());
             INSERT INTO job_marks (kind, at_epoch) VALUES ('nightly', extract(epoch from now()) - 3 * 3600);",
        )
        .await
        .expect("rows");
    for _ in 0..61 {
        applog(
            &client,
            0.5,
            "epicprod",
            json!({"action": "payload_log_fetch"}),
        )
        .await;
    }
    let s = tick(&config, false).await;
    assert_eq!(s.alarms_errored, 0, "{s:?}");
    let catalog = active(&client, "alarm_catalog").await;
    assert_eq!(
        keys(&catalog),
        ["catalog_sync:stale"],
        "the old success is stale"
    );
    assert!(catalog[0].data["age_hours"].as_f64().expect("age") > 39.0);
    assert!(
        active(&client, "alarm_delivery").await.is_empty(),
        "a delivery 2 h ago is fresh"
    );
    assert_eq!(keys(&active(&client, "alarm_epoch").await), ["marks:stale"]);
    assert_eq!(
        keys(&active(&client, "alarm_fetches").await),
        ["payload_fetch:rate"]
    );

    // A fresh success clears the catalog alarm.
    applog(&client, 0.1, "epicprod", ok).await;
    tick(&config, false).await;
    assert!(active(&client, "alarm_catalog").await.is_empty());
}

#[tokio::test]
async fn database_detectors_refuse_sql_in_params() {
    let db = TestDb::new();
    let client = db.client().await;
    insert_alarm(
        &client,
        "alarm_injection",
        "",
        json!({"detector": "db_freshness", "params": {"name": "x", "table": "entry; DROP TABLE entry",
               "time_column": "timestamp_created", "max_age_hours": 1}}),
    )
    .await;
    insert_alarm(
        &client,
        "alarm_readonly",
        "",
        json!({"detector": "db_rate", "params": {"name": "x", "table": "entry", "time_column": "timestamp_created",
               "filters": {"kind": "x'); DELETE FROM entry; --"}, "window_minutes": 5, "max_count": 0}}),
    )
    .await;
    let s = tick(&db.config(), false).await;
    assert_eq!(s.alarms_errored, 1, "{s:?}");
    let (_, run) = last_run(&client).await;
    let message = run["per_alarm"]["alarm_injection"]["error_message"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(message.contains("not a plain identifier"), "{message}");
    assert_eq!(
        run["per_alarm"]["alarm_readonly"]["errors"], 0,
        "the value was bound, not run"
    );
    assert_eq!(row_count(&client, "alarm").await, 2);
}

/// Not a pass/fail test: measures a tick of the two production alarms
/// over 2,000 running tasks (10 pages) and prints the request count and
/// wall time. Run: `cargo test --release --test it -- --ignored --nocapture panda_tick_over_2000_tasks`.
#[tokio::test]
#[ignore]
async fn panda_tick_over_2000_tasks() {
    let server = MockServer::start().await;
    let mut next = 1_000_000_i64;
    for page_no in 0..10 {
        let items: Vec<Value> = (0..200)
            .map(|i| {
                let id = next - i;
                let rate = (id % 17) as f64 / 100.0;
                task(id, "running", Some(rate), (id % 9) as u64, 40)
            })
            .collect();
        let cursor = (page_no < 9).then_some(next - 199);
        let before = (page_no > 0).then(|| (next + 1).to_string());
        let mock = Mock::given(method("GET"))
            .and(path(TASKS))
            .and(query_param("status", "running"));
        let mock = match &before {
            Some(b) => mock.and(query_param("before_id", b.as_str())),
            None => mock.and(query_param_is_missing("before_id")),
        };
        mock.respond_with(ResponseTemplate::new(200).set_body_json(page(items, cursor)))
            .mount(&server)
            .await;
        next -= 200;
    }
    serve(&server, "failed", None, page(vec![], None)).await;
    serve(&server, "broken", None, page(vec![], None)).await;
    let db = TestDb::new();
    let client = db.client().await;
    for (name, threshold) in [
        ("alarm_panda_failure_rate_sakib", 0.03),
        ("alarm_panda_failure_rate_eic_all", 0.05),
    ] {
        insert_alarm(
            &client,
            name,
            "",
            json!({"recipients": ["ops@test.example"], "renotification_window_hours": 24,
                   "params": {"threshold": threshold, "since_days": 1, "min_terminal_jobs": 5}}),
        )
        .await;
    }
    let config = db.config_with(&engine_toml(&server));
    for label in [
        "first tick (events created)",
        "second tick (events continue)",
    ] {
        let before = server.received_requests().await.expect("recording").len();
        let started = std::time::Instant::now();
        let s = tick(&config, false).await;
        let requests = server.received_requests().await.expect("recording").len() - before;
        println!(
            "{label}: 2,000 tasks, 2 alarms: {requests} requests, {:.0} ms wall, {} detections, {} new",
            started.elapsed().as_secs_f64() * 1000.0,
            s.detections,
            s.new_events
        );
        assert_eq!(s.alarms_errored, 0, "{:#}", last_run(&client).await.1);
    }
}

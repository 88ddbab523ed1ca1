//! PanDA detectors against a loopback HTTP server speaking the task-list
//! API, and database detectors against real tables.

use std::time::Duration;

use serde_json::{json, Value};
use wiremock::{
    matchers::{method, path, query_param, query_param_is_missing},
    Mock, MockServer, ResponseTemplate,
};

use crate::harness::{
    mail::{quoted_printable, SmtpSink},
    *,
};

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
    assert_eq!(t.data["rate_kind"], "final-failure");
    assert_eq!(t.data["threshold"], 0.03);
    assert_eq!(t.data["username"], "Sakib Rahman");
    assert_eq!(t.data["site"], "BNL_PROD");
    assert_eq!(
        t.title,
        "task 1001 (running) final-failure rate 10.0% — user.sakib.campaign-1001.sim"
    );
    assert!(
        t.content
            .contains("Task page: https://monitor.test/tasks/1001/"),
        "{}",
        t.content
    );
    assert!(
        t.content
            .contains("Jobs: nfailed=15  nfinished=45  nactive=4"),
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
    assert_eq!(evs[0].data["rate_kind"], "all-failures-fallback");
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
            "HTTP 500 Internal Server Error from http://",
        ),
        (
            "404",
            ResponseTemplate::new(404).set_body_string("<html>Not Found</html>"),
            "HTTP 404 Not Found from http://",
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
        if name == "500" {
            // Issue 9.6: status, reason phrase, URL and body excerpt.
            let url = format!("{}{TASKS}?days=1&status=running&limit=200", server.uri());
            assert!(
                message.contains(&format!(
                    "HTTP 500 Internal Server Error from {url}: Internal Server Error: database is down"
                )),
                "{message}"
            );
        }

        good().await;
        let s = tick(&config, false).await;
        assert_eq!(
            (s.alarms_errored, s.new_events, s.cleared),
            (0, 0, 0),
            "{name}: recovery {s:?}"
        );
    }
}

/// A task with every count given; `final_rate` and `all_rate` may be null.
#[allow(clippy::too_many_arguments)]
fn counted_task(
    id: i64,
    final_rate: Option<f64>,
    all_rate: Option<f64>,
    nfinalfailed: u64,
    nfailed: u64,
    nfinished: u64,
) -> Value {
    let mut t = task(id, "running", final_rate, nfinalfailed, nfinished);
    let map = t.as_object_mut().expect("object");
    map.insert("nfailed".into(), json!(nfailed));
    map.insert("computed_failurerate".into(), json!(all_rate));
    t
}

/// Issue 9.1: each task judged as the old engine's failure_rate.py judges
/// it — per-task fallback to the all-failures rate when the final rate is
/// null, and the noise floor on `nfailed + nfinished` under both rates.
#[tokio::test]
async fn issue_9_each_task_is_judged_as_the_old_engine_judges_it() {
    let server = MockServer::start().await;
    let mut old_server_task = counted_task(110, None, Some(0.5), 0, 6, 6);
    let map = old_server_task.as_object_mut().expect("object");
    map.remove("nfinalfailed");
    map.remove("computed_finalfailurerate");
    let population = vec![
        // Final rate, plenty of jobs: fires.
        counted_task(101, Some(0.10), Some(0.25), 5, 15, 45),
        // Final rate null, all-failures rate 1.0, 9 failed attempts, none finished: fires on the fallback.
        counted_task(102, None, Some(1.0), 0, 9, 0),
        // Fallback under the noise floor (2 + 2 < 5): skipped.
        counted_task(103, None, Some(0.5), 0, 2, 2),
        // Final rate 0.5 over 1 file + 1 finished, but 4 failed job records: 4 + 1 >= 5, fires.
        counted_task(104, Some(0.5), Some(0.8), 1, 4, 1),
        // Final rate under the noise floor (1 + 3 < 5): skipped.
        counted_task(105, Some(0.5), Some(0.5), 1, 1, 3),
        // The final rate is below the threshold; the higher all-failures rate is not consulted.
        counted_task(106, Some(0.02), Some(0.9), 1, 20, 49),
        // Neither rate: nothing to judge.
        counted_task(107, None, None, 0, 0, 0),
        // Fallback below the threshold: skipped.
        counted_task(108, None, Some(0.02), 0, 1, 49),
        // Final rate exactly at the threshold, noise floor exactly met: fires.
        counted_task(109, Some(0.03), Some(0.03), 1, 2, 3),
        // A server without the final fields at all: fallback, fires.
        old_server_task,
    ];
    serve(&server, "running", None, page(population, None)).await;
    let db = TestDb::new();
    let client = db.client().await;
    insert_alarm(
        &client,
        "alarm_population",
        "",
        failure_rate_alarm(
            json!({"threshold": 0.03, "statuses": ["running"], "min_terminal_jobs": 5}),
        ),
    )
    .await;
    let s = tick(&db.config_with(&engine_toml(&server)), false).await;
    assert_eq!(s.alarms_errored, 0, "{s:?}");
    let evs = active(&client, "alarm_population").await;
    assert_eq!(
        keys(&evs),
        ["task:101", "task:102", "task:104", "task:109", "task:110"]
    );
    let kind = |key: &str| {
        let e = evs.iter().find(|e| e.key() == key).expect("event");
        (
            e.data["rate_kind"].as_str().unwrap_or_default().to_owned(),
            e.data["metric"].as_str().unwrap_or_default().to_owned(),
        )
    };
    assert_eq!(kind("task:101"), ("final-failure".into(), "10.0%".into()));
    assert_eq!(
        kind("task:102"),
        ("all-failures-fallback".into(), "100.0%".into())
    );
    assert_eq!(kind("task:104"), ("final-failure".into(), "50.0%".into()));
    assert_eq!(kind("task:109"), ("final-failure".into(), "3.0%".into()));
    assert_eq!(
        kind("task:110"),
        ("all-failures-fallback".into(), "50.0%".into())
    );
    let fallback = evs.iter().find(|e| e.key() == "task:102").expect("102");
    assert_eq!(
        fallback.title,
        "task 102 (running) failure rate (fallback — swf-monitor stale) 100.0% — user.sakib.campaign-102.sim"
    );
    // Under the fallback the failures counted are the failed job records.
    assert_eq!(fallback.data["nfinalfailed"], 9);
}

/// Issue 9.2: one PanDA event row, field by field, and its email, in the
/// format the old engine's failure_rate.py and run.py write (title =
/// subject, content = description + separator + body, the data keys it
/// writes; the bundle layout of `_compose_bundle`).
#[tokio::test]
async fn issue_9_a_panda_event_row_reads_as_the_old_engine_writes_it() {
    let server = MockServer::start().await;
    let mut t = counted_task(35981, Some(0.125), Some(0.3), 3, 9, 21);
    let map = t.as_object_mut().expect("object");
    map.insert("nfilesfinished".into(), json!(21));
    map.insert("nretries".into(), json!(6));
    map.insert("failurerate".into(), json!(0.25));
    serve(&server, "running", None, page(vec![t], None)).await;
    let db = TestDb::new();
    let client = db.client().await;
    let alarm_id = insert_alarm(
        &client,
        "alarm_panda_failure_rate_sakib",
        "Alert on PanDA tasks owned by Sakib Rahman.\n",
        json!({"recipients": ["ops@test.example"],
               "params": {"threshold": 0.03, "since_days": 2, "statuses": ["running"]}}),
    )
    .await;
    let sink = SmtpSink::start();
    let s = tick(
        &db.config_mail(&engine_toml(&server), &sink.email_toml()),
        false,
    )
    .await;
    assert_eq!((s.alarms_errored, s.emails_sent), (0, 1), "{s:?}");
    let evs = active(&client, "alarm_panda_failure_rate_sakib").await;
    assert_eq!(evs.len(), 1);
    let e = &evs[0];
    let subject = "task 35981 (running) final-failure rate 12.5% — user.sakib.campaign-35981.sim";
    assert_eq!(e.title, subject);
    let expected_body = [
        "PanDA task 35981 — user.sakib.campaign-35981.sim",
        "Status:      running",
        "Owner:       Sakib Rahman",
        "Site:        BNL_PROD",
        "",
        "final-failure rate: 12.5%  (threshold 3.0%)",
        "Input files: retry-exhausted failed=3  finished=21",
        "Jobs: nfailed=9  nfinished=21  nactive=4",
        "(final failures = input files that exhausted all retries, JEDI file-level accounting;",
        " a job that failed then succeeded on retry does not count)",
        "Since: last 2 day(s)",
        "JEDI native failurerate: 0.25 (computed is the operative signal)",
        "",
        "Task page: https://monitor.test/tasks/35981/",
        "",
    ]
    .join("\n");
    assert_eq!(
        e.content,
        format!("Alert on PanDA tasks owned by Sakib Rahman.\n\n---\n\n{expected_body}")
    );
    let expected = json!({
        "entry_id": "event_panda_failure_rate_sakib",
        "dedupe_key": "task:35981",
        "subject": subject,
        "recipients": ["ops@test.example"],
        "alarm_config_id": alarm_id,
        "clear_time": null,
        "metric": "12.5%",
        "rate_kind": "final-failure",
        "jeditaskid": 35981,
        "taskname": "user.sakib.campaign-35981.sim",
        "status": "running",
        "username": "Sakib Rahman",
        "site": "BNL_PROD",
        "computed_failurerate": 0.3,
        "computed_finalfailurerate": 0.125,
        "native_failurerate": 0.25,
        "nactive": 4,
        "nfinished": 21,
        "nfailed": 9,
        "nfinalfailed": 3,
        "nfilesfinished": 21,
        "nretries": 6,
        "threshold": 0.03,
        "since_days": 2,
    });
    for (key, value) in expected.as_object().expect("object") {
        assert_eq!(&e.data[key], value, "data.{key}");
    }
    for key in ["fire_time", "last_seen"] {
        assert!(e.data[key].is_f64(), "data.{key} is a time");
    }

    // The email: one NEW section, the subject and the body indented by six.
    let raw = &sink.messages()[0];
    let (head, body) = raw.split_once("\r\n\r\n").expect("headers and body");
    assert!(
        head.contains("Subject: [alarm_panda_failure_rate_sakib] 1 detection(s), 1 new\r\n"),
        "{head}"
    );
    let indented: Vec<String> = expected_body
        .lines()
        .map(|line| format!("      {line}"))
        .collect();
    let expected_email = format!(
        "Alert on PanDA tasks owned by Sakib Rahman.\n\n---\n\nNEW (1):\n\n  [1] {subject}\n{}\n",
        indented.join("\n")
    );
    let body = quoted_printable(&body.replace("\r\n", "\n"));
    assert_eq!(body.strip_suffix('\n'), Some(expected_email.as_str()));
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
    let config = db.config_with(
        "db_check_tables = [\"swf_applog\", \"snapper_system_snap\", \"public.job_marks\"]\n",
    );

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
        ["payload_fetch_rate"]
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
    let s = tick(&db.config_with("db_check_tables = [\"entry\"]\n"), false).await;
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

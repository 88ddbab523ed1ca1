//! The SMTP channel against a real loopback SMTP sink (aiosmtpd), and
//! against relays that are down, refuse a recipient, or never answer.

use std::sync::atomic::Ordering;

use serde_json::json;

use crate::harness::{
    mail::{closed_port, smtp_toml, SilentServer, SmtpSink},
    *,
};

/// The value of header `name` in a raw message (first occurrence).
fn header<'a>(raw: &'a str, name: &str) -> Option<&'a str> {
    let head = raw.split("\r\n\r\n").next().unwrap_or("");
    head.split("\r\n")
        .find_map(|line| line.strip_prefix(&format!("{name}: ")))
}

fn body(raw: &str) -> &str {
    raw.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("")
}

#[tokio::test]
async fn one_bundle_arrives_with_exact_headers_and_body() {
    let sink = SmtpSink::start();
    let db = TestDb::new();
    let client = db.client().await;
    insert_alarm(
        &client,
        "alarm_mail",
        "Tasks failing too often.",
        json!({"detector": "static_list", "recipients": "a@test.example, b@test.example",
        "params": {"detections": [
            {"dedupe_key": "task:1", "subject": "Task 1 at 12%", "body": "owner: alice\nsite: BNL"},
            {"dedupe_key": "task:2", "subject": "Task 2 at 5%", "body": "owner: bob"}
        ]}}),
    )
    .await;
    let config = db.config_mail("", &sink.email_toml());
    let s = tick(&config, false).await;
    assert_eq!((s.emails_sent, s.alarms_errored), (1, 0), "{s:?}");

    let messages = sink.messages();
    assert_eq!(messages.len(), 1);
    let raw = &messages[0];
    assert_eq!(header(raw, "X-MailFrom"), Some("swf-alarms@test.example"));
    assert_eq!(
        header(raw, "X-RcptTo"),
        Some("a@test.example, b@test.example")
    );
    assert_eq!(header(raw, "From"), Some("swf-alarms@test.example"));
    assert_eq!(header(raw, "To"), Some("a@test.example, b@test.example"));
    assert_eq!(
        header(raw, "Subject"),
        Some("[alarm_mail] 2 detection(s), 2 new")
    );
    assert_eq!(
        header(raw, "Content-Type"),
        Some("text/plain; charset=utf-8")
    );
    assert_eq!(header(raw, "Content-Transfer-Encoding"), Some("7bit"));
    // DATA framing ends the message with one more CRLF before the dot.
    assert_eq!(
        body(raw).strip_suffix("\r\n").unwrap_or_default(),
        "Tasks failing too often.\r\n\r\n---\r\n\r\nNEW (2):\r\n\r\n  [1] Task 1 at 12%\r\n      owner: alice\r\n      site: BNL\r\n\r\n  [2] Task 2 at 5%\r\n      owner: bob\r\n"
    );
    assert!(active(&client, "alarm_mail")
        .await
        .iter()
        .all(Event::notified));
}

#[tokio::test]
async fn injected_line_breaks_never_make_a_header() {
    let sink = SmtpSink::start();
    let db = TestDb::new();
    let client = db.client().await;
    let evil = "evil\r\nBcc: victim@example.org";
    insert_alarm(
        &client,
        &format!("alarm_{evil}"),
        "",
        json!({"detector": "static_list", "recipients": "a@test.example",
               "params": {"detections": [
                   {"dedupe_key": "task:9", "subject": format!("Task {evil}"), "body": format!("name: {evil}")}
               ]}}),
    )
    .await;
    let s = tick(&db.config_mail("", &sink.email_toml()), false).await;
    assert_eq!(s.emails_sent, 1, "{s:?}");
    let raw = &sink.messages()[0];
    let head = raw.split("\r\n\r\n").next().unwrap_or("");
    assert!(!head.lines().any(|l| l.starts_with("Bcc")), "{head}");
    assert_eq!(header(raw, "X-RcptTo"), Some("a@test.example"));
    assert_eq!(
        header(raw, "Subject"),
        Some("[alarm_evil Bcc: victim@example.org] 1 detection(s), 1 new")
    );
}

#[tokio::test]
async fn non_ascii_subject_is_rfc2047_encoded() {
    let sink = SmtpSink::start();
    let db = TestDb::new();
    let client = db.client().await;
    insert_alarm(
        &client,
        "alarm_tâches_échouées",
        "Détails en français.",
        json!({"detector": "static_list", "recipients": "a@test.example",
               "params": {"detections": [{"dedupe_key": "k", "subject": "Tâche 1", "body": "é"}]}}),
    )
    .await;
    tick(&db.config_mail("", &sink.email_toml()), false).await;
    let raw = &sink.messages()[0];
    let subject = header(raw, "Subject").expect("subject");
    assert!(subject.starts_with("=?utf-8?"), "{subject}");
    assert!(raw.split("\r\n\r\n").next().unwrap_or("").is_ascii());
}

#[tokio::test]
async fn two_alarms_two_emails_and_ten_detections_one_email() {
    let sink = SmtpSink::start();
    let db = TestDb::new();
    let client = db.client().await;
    let ten: Vec<String> = (0..10).map(|i| format!("task:{i}")).collect();
    let ten: Vec<&str> = ten.iter().map(String::as_str).collect();
    insert_alarm(&client, "alarm_ten", "", static_alarm(&ten)).await;
    insert_alarm(&client, "alarm_one", "", static_alarm(&["x"])).await;
    let s = tick(&db.config_mail("", &sink.email_toml()), false).await;
    assert_eq!(s.emails_sent, 2);
    let subjects: Vec<String> = sink
        .messages()
        .iter()
        .filter_map(|m| header(m, "Subject").map(str::to_owned))
        .collect();
    assert_eq!(subjects.len(), 2);
    assert!(subjects.contains(&"[alarm_ten] 10 detection(s), 10 new".to_string()));
    assert!(subjects.contains(&"[alarm_one] 1 detection(s), 1 new".to_string()));
}

/// A send that fails must leave the events un-notified and the tick
/// finished; the next tick with a working relay carries them.
async fn failure_then_recovery(email_toml: &str, expect_in_error: &str) {
    let db = TestDb::new();
    let client = db.client().await;
    insert_alarm(&client, "alarm_relay", "", static_alarm(&["a", "b"])).await;

    let s = tick(&db.config_mail("", email_toml), false).await;
    assert_eq!(
        (
            s.emails_sent,
            s.emails_failed,
            s.alarms_errored,
            s.new_events
        ),
        (0, 1, 1, 2)
    );
    let (status, run) = last_run(&client).await;
    assert_eq!(status, "done");
    let per = &run["per_alarm"]["alarm_relay"];
    assert_eq!(per["bundle_sent"], false);
    let message = per["error_message"].as_str().unwrap_or("");
    assert!(message.contains(expect_in_error), "{message}");
    assert!(active(&client, "alarm_relay")
        .await
        .iter()
        .all(|e| !e.notified()));

    let sink = SmtpSink::start();
    let s = tick(&db.config_mail("", &sink.email_toml()), false).await;
    assert_eq!((s.emails_sent, s.alarms_errored), (1, 0));
    assert_eq!(sink.messages().len(), 1);
    assert_eq!(
        header(&sink.messages()[0], "Subject"),
        Some("[alarm_relay] 2 detection(s), 2 continuing")
    );
    assert!(active(&client, "alarm_relay")
        .await
        .iter()
        .all(Event::notified));
}

#[tokio::test]
async fn relay_down_is_recorded_and_retried_next_tick() {
    let closed = closed_port();
    failure_then_recovery(&smtp_toml(closed.port, 5), "transient").await;
}

#[tokio::test]
async fn relay_that_never_answers_times_out_and_is_retried() {
    let silent = SilentServer::start();
    let started = std::time::Instant::now();
    failure_then_recovery(&smtp_toml(silent.port, 1), "").await;
    assert!(started.elapsed().as_secs() < 30);
    assert!(silent.accepted.load(Ordering::SeqCst) >= 1);
}

#[tokio::test]
async fn recipient_refused_with_550_is_recorded_and_retried_after_the_fix() {
    let sink = SmtpSink::start();
    let db = TestDb::new();
    let client = db.client().await;
    let mut data = static_alarm(&["a"]);
    data["recipients"] = json!("ok@test.example reject-me@test.example");
    let alarm = insert_alarm(&client, "alarm_550", "", data).await;
    let config = db.config_mail("", &sink.email_toml());

    let s = tick(&config, false).await;
    assert_eq!((s.emails_sent, s.alarms_errored), (0, 1));
    let (_, run) = last_run(&client).await;
    let message = run["per_alarm"]["alarm_550"]["error_message"]
        .as_str()
        .unwrap_or("")
        .to_owned();
    assert!(message.contains("550"), "{message}");
    assert!(
        message.contains("permanent"),
        "a refused mailbox needs fixing: {message}"
    );
    assert!(sink.messages().is_empty());
    assert!(!active(&client, "alarm_550").await[0].notified());

    set_data_key(&client, &alarm, "recipients", json!("ok@test.example")).await;
    let s = tick(&config, false).await;
    assert_eq!((s.emails_sent, s.alarms_errored), (1, 0));
    assert_eq!(
        header(&sink.messages()[0], "X-RcptTo"),
        Some("ok@test.example")
    );
}

#[tokio::test]
async fn dry_run_never_connects_to_the_relay() {
    // A listener nobody accepts on: a connection made during the tick
    // would wait in its backlog, so once the tick has returned, an empty
    // backlog proves nothing connected (no waiting involved).
    let relay = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = relay.local_addr().expect("addr").port();
    let db = TestDb::new();
    let client = db.client().await;
    insert_alarm(&client, "alarm_dry_smtp", "", static_alarm(&["a"])).await;
    let s = tick(&db.config_mail("", &smtp_toml(port, 1)), true).await;
    assert_eq!((s.new_events, s.emails_sent, s.emails_failed), (1, 0, 0));
    relay.set_nonblocking(true).expect("nonblocking");
    match relay.accept() {
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
        other => panic!("the dry run connected to the relay: {other:?}"),
    }
}

#[tokio::test]
async fn a_renotification_shows_the_current_detection_while_the_row_keeps_its_fire_time_words() {
    let sink = SmtpSink::start();
    let db = TestDb::new();
    let client = db.client().await;
    let alarm = insert_alarm(
        &client,
        "alarm_rate",
        "",
        json!({"detector": "static_list", "recipients": "a@test.example",
               "renotification_window_hours": 1,
               "params": {"detections": [{"dedupe_key": "task:1", "subject": "Task 1 at 19.9%",
                                          "body": "rate 19.9%", "extra": {"metric": "19.9%"}}]}}),
    )
    .await;
    let config = db.config_mail("", &sink.email_toml());
    let t0 = 1_800_000_000.0;
    tick_at(&config, false, Some(t0)).await;
    set_params(
        &client,
        &alarm,
        json!({"detections": [{"dedupe_key": "task:1", "subject": "Task 1 at 10.0%",
                               "body": "rate 10.0%", "extra": {"metric": "10.0%"}}]}),
    )
    .await;
    let s = tick_at(&config, false, Some(t0 + 7200.0)).await;
    assert_eq!(s.emails_sent, 1, "{s:?}");
    let messages = sink.messages();
    assert_eq!(messages.len(), 2);
    let second = messages
        .iter()
        .find(|m| body(m).contains("CONTINUING"))
        .expect("the renotification");
    assert!(
        body(second).contains("[1] Task 1 at 10.0%\r\n      rate 10.0%"),
        "{second}"
    );
    let ev = &active(&client, "alarm_rate").await[0];
    assert_eq!(ev.title, "Task 1 at 19.9%");
    assert_eq!(ev.content, "rate 19.9%");
    assert_eq!(ev.data["metric"], "19.9%");
    assert_eq!(ev.data["last_notified"], t0 + 7200.0);
}

#[tokio::test]
async fn a_long_bundle_lists_the_first_events_counts_the_rest_and_stamps_them_all() {
    let sink = SmtpSink::start();
    let db = TestDb::new();
    let client = db.client().await;
    let keys: Vec<String> = (1..=5).map(|i| format!("task:{i}")).collect();
    let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
    insert_alarm(&client, "alarm_many", "", static_alarm(&keys)).await;
    let email = format!("{}max_events_per_section = 2\n", sink.email_toml());
    let s = tick(&db.config_mail("", &email), false).await;
    assert_eq!(s.emails_sent, 1, "{s:?}");
    let raw = &sink.messages()[0];
    assert_eq!(
        header(raw, "Subject"),
        Some("[alarm_many] 5 detection(s), 5 new")
    );
    // A line that long goes out quoted-printable: undo its soft breaks.
    let text = body(raw).replace("=\r\n", "");
    assert!(
        text.contains("[2] task:2 is bad") && !text.contains("task:3 is bad"),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "  ... and 3 more not listed here; all 5 are on the dashboard's report of engine run {}\r\n",
            s.run_id
        )),
        "{text}"
    );
    let events = active(&client, "alarm_many").await;
    assert_eq!(events.len(), 5);
    assert!(events.iter().all(Event::notified), "every event is stamped");
    let (_, run) = last_run(&client).await;
    assert_eq!(
        run["per_alarm"]["alarm_many"]["bundle_new_event_ids"]
            .as_array()
            .map(Vec::len),
        Some(5),
        "the run report lists them all"
    );
}

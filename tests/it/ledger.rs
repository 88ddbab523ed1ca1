//! The notification ledger: one row per send attempt over SMTP and SES,
//! failures included; a tick killed between a send and its record leaves
//! a `sending` row that the next tick reports and sends again; pruning
//! keeps rows inside the retention.

use std::{
    process::{Command, Output, Stdio},
    sync::{
        atomic::{AtomicU32, Ordering},
        Arc,
    },
};

use aws_sdk_sesv2::config::{BehaviorVersion, Credentials, Region};
use serde_json::{json, Value};
use tokio_postgres::Client;

use crate::harness::{
    mail::{closed_port, moto, smtp_toml, SmtpSink},
    net::Relay,
    *,
};

/// Every ledger row, oldest first, as JSON objects.
async fn ledger(client: &Client) -> Vec<Value> {
    client
        .query(
            "SELECT to_jsonb(l) FROM swf_alarms_ledger l ORDER BY id",
            &[],
        )
        .await
        .expect("ledger")
        .iter()
        .map(|r| r.get(0))
        .collect()
}

fn strings(v: &Value) -> Vec<String> {
    let mut out: Vec<String> = v
        .as_array()
        .expect("an array")
        .iter()
        .map(|s| s.as_str().expect("a string").to_owned())
        .collect();
    out.sort();
    out
}

#[tokio::test]
async fn every_smtp_send_leaves_a_completed_row_with_the_relays_reply() {
    let sink = SmtpSink::start();
    let db = TestDb::new();
    let client = db.client().await;
    insert_alarm(&client, "alarm_x", "Desc.", static_alarm(&["a", "b"])).await;
    let config = db.config_mail("", &sink.email_toml());
    tick_at(&config, false, Some(1_800_000_000.0)).await;
    let (_, run) = last_run(&client).await;
    let rows = ledger(&client).await;
    assert_eq!(rows.len(), 1, "{rows:#?}");
    let row = &rows[0];
    let per_alarm = &run["per_alarm"]["alarm_x"];
    assert_eq!(row["state"], "sent");
    assert_eq!(row["alarm"], "alarm_x");
    let run_row: String = client
        .query_one("SELECT id FROM entry WHERE kind = 'engine_run'", &[])
        .await
        .expect("the run row")
        .get(0);
    assert_eq!(row["run_id"], json!(run_row));
    assert_eq!(row["provider"], "smtp");
    assert_eq!(row["attempts"], 1);
    assert_eq!(row["subject"], per_alarm["bundle_subject"]);
    assert_eq!(strings(&row["recipients"]), ["ops@test.example"]);
    assert_eq!(
        strings(&row["event_ids"]),
        strings(&per_alarm["bundle_new_event_ids"])
    );
    assert!(
        row["message_id"]
            .as_str()
            .is_some_and(|m| m.starts_with("250")),
        "{row:#}"
    );
    assert_eq!(row["sending_at"].as_f64(), Some(1_800_000_000.0));
    assert_eq!(row["sent_at"].as_f64(), Some(1_800_000_000.0));
    assert!(row["error"].is_null() && row["failed_at"].is_null());
    assert_eq!(sink.messages().len(), 1);

    // Nothing new to say: no send, no row.
    tick_at(&config, false, Some(1_800_000_300.0)).await;
    assert_eq!(ledger(&client).await.len(), 1);
}

#[tokio::test]
async fn a_failed_send_leaves_a_failed_row_with_its_attempts_and_error() {
    let db = TestDb::new();
    let client = db.client().await;
    insert_alarm(&client, "alarm_x", "Desc.", static_alarm(&["a"])).await;
    let port = closed_port();
    let config = db.config_mail("", &smtp_toml(port.port, 2));
    let s = tick_at(&config, false, Some(1_800_000_000.0)).await;
    assert_eq!(s.emails_failed, 1);
    let rows = ledger(&client).await;
    assert_eq!(rows.len(), 1, "{rows:#?}");
    assert_eq!(rows[0]["state"], "failed");
    assert!(
        rows[0]["attempts"].as_i64().is_some_and(|n| n > 1),
        "a refused connection is retried: {:#}",
        rows[0]
    );
    assert!(rows[0]["error"].as_str().is_some_and(|e| !e.is_empty()));
    assert_eq!(rows[0]["failed_at"].as_f64(), Some(1_800_000_000.0));
    assert!(rows[0]["sent_at"].is_null() && rows[0]["message_id"].is_null());
}

fn run_engine(config: &std::path::Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_swf-alarms"))
        .args(["run", "--config"])
        .arg(config)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_CONFIG_FILE", "/nonexistent")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
        .output()
        .expect("run swf-alarms")
}

/// A sender of these tests' own, unknown to moto until verified.
const SES_SENDER: &str = "ledger@ses.test.example";

#[tokio::test]
async fn ses_sends_leave_rows_a_refusal_and_then_the_message_id_ses_returned() {
    let db = TestDb::new();
    let client = db.client().await;
    insert_alarm(&client, "alarm_x", "Desc.", static_alarm(&["a"])).await;
    let toml = format!(
        "[email]\nprovider = \"ses\"\nfrom = \"{SES_SENDER}\"\nregion = \"us-east-1\"\nendpoint_url = \"{}\"\n",
        moto().url()
    );
    let config = db.config_file_mail("", &toml);
    // Unverified sender: a permanent refusal, tried once.
    let out = run_engine(&config);
    assert_eq!(out.status.code(), Some(1), "{}", output_text(&out));
    let rows = ledger(&client).await;
    assert_eq!(rows.len(), 1, "{rows:#?}");
    assert_eq!(rows[0]["state"], "failed", "{:#}", rows[0]);
    assert_eq!(rows[0]["provider"], "ses");
    assert_eq!(rows[0]["attempts"], 1);
    assert!(
        rows[0]["error"]
            .as_str()
            .is_some_and(|e| e.contains("MessageRejected")),
        "{:#}",
        rows[0]
    );

    let ses = aws_sdk_sesv2::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(moto().url())
        .credentials_provider(Credentials::new("testing", "testing", None, None, "tests"))
        .build();
    aws_sdk_sesv2::Client::from_conf(ses)
        .create_email_identity()
        .email_identity(SES_SENDER)
        .send()
        .await
        .expect("verify the sender in moto");
    let out = run_engine(&config);
    assert!(out.status.success(), "{}", output_text(&out));
    let rows = ledger(&client).await;
    assert_eq!(rows.len(), 2, "{rows:#?}");
    assert_eq!(rows[1]["state"], "sent", "{:#}", rows[1]);
    assert_eq!(
        rows[1]["event_ids"], rows[0]["event_ids"],
        "the same events, again"
    );
    let id = rows[1]["message_id"]
        .as_str()
        .expect("a message id")
        .to_owned();
    assert!(
        moto().data().to_string().contains(&id),
        "moto holds no message {id}"
    );
}

#[tokio::test]
async fn the_events_of_a_sent_email_are_written_once_stamped_with_their_key() {
    let sink = SmtpSink::start();
    let db = TestDb::new();
    let client = db.client().await;
    insert_alarm(&client, "alarm_x", "Desc.", static_alarm(&["a", "b"])).await;
    let config = db.config_mail("", &sink.email_toml());
    let summary = tick_at(&config, false, Some(1_800_000_000.0)).await;
    assert_eq!(summary.emails_sent, 1);
    // Same transaction as the claim of its key, and no later version: the
    // row was not inserted first and stamped after the send.
    let rows = client
        .query(
            "SELECT e.xmin::text = a.xmin::text, (e.data->>'last_notified')::float8
             FROM entry e JOIN swf_alarms_active_event a ON a.event_id = e.id
             WHERE a.alarm = 'event_x'",
            &[],
        )
        .await
        .expect("events");
    assert_eq!(rows.len(), 2);
    for row in rows {
        assert!(row.get::<_, bool>(0), "the event row was rewritten");
        let notified: f64 = row.get(1);
        assert!(notified >= 1_800_000_000.0, "{notified}");
    }
}

#[tokio::test]
async fn a_recovery_notice_whose_send_failed_goes_out_next_tick_and_is_stamped_once() {
    let db = TestDb::new();
    let client = db.client().await;
    let mut data = static_alarm(&["p"]);
    data["notify_on_clear"] = json!(true);
    let alarm = insert_alarm(&client, "alarm_r", "", data).await;
    // The first email is taken, the recovery notice refused for good,
    // and taken when it comes again.
    let relay = Relay::start(&["250 OK", "554 5.7.1 Relay access denied"]);
    let config = db.config_mail("", &smtp_toml(relay.port, 5));
    let clear_notified = || async {
        client
            .query_one(
                "SELECT data->'clear_notified' FROM entry WHERE kind = 'event'",
                &[],
            )
            .await
            .expect("the event")
            .get::<_, Option<Value>>(0)
    };
    let t0 = 1_800_000_000.0;
    assert_eq!(tick_at(&config, false, Some(t0)).await.emails_sent, 1);

    set_params(&client, &alarm, json!({"detections": []})).await;
    let t = tick_at(&config, false, Some(t0 + 300.0)).await;
    assert_eq!(
        (t.cleared, t.emails_sent, t.emails_failed),
        (1, 0, 1),
        "{t:?}"
    );
    assert!(events(&client, "alarm_r").await.iter().all(|e| !e.active()));
    assert_eq!(clear_notified().await, None, "not sent, not stamped");

    let t = tick_at(&config, false, Some(t0 + 600.0)).await;
    assert_eq!((t.emails_sent, t.emails_failed), (1, 0), "{t:?}");
    let accepted = relay.accepted();
    assert_eq!(accepted.len(), 2);
    assert!(
        accepted[1].contains("[alarm_r] 1 resolved"),
        "{}",
        accepted[1]
    );
    assert_eq!(clear_notified().await, Some(json!(t0 + 600.0)));
    let t = tick_at(&config, false, Some(t0 + 900.0)).await;
    assert_eq!(t.emails_sent, 0, "sent once");
}

#[tokio::test]
async fn a_tick_killed_between_send_and_record_is_reported_and_sent_again() {
    let db = TestDb::new();
    let client = db.client().await;
    insert_alarm(&client, "alarm_x", "Desc.", static_alarm(&["a"])).await;
    let relay = Relay::start(&[]);
    let email = smtp_toml(relay.port, 5);
    // The first tick is killed once the relay has the message, before it
    // hears the reply (and so before it stamps or records anything).
    let pid = Arc::new(AtomicU32::new(0));
    let target = Arc::clone(&pid);
    relay.before_reply(move || {
        let pid = target.swap(0, Ordering::SeqCst);
        if pid != 0 {
            let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
        }
    });
    let mut child = Command::new(env!("CARGO_BIN_EXE_swf-alarms"))
        .args(["run", "--config"])
        .arg(db.config_file_mail("", &email))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start swf-alarms");
    pid.store(child.id(), Ordering::SeqCst);
    let status = child.wait().expect("wait");
    assert_eq!(status.code(), None, "killed by a signal");
    let rows = ledger(&client).await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["state"], "sending");
    assert!(
        events(&client, "alarm_x").await.is_empty(),
        "the events are written after the send, so none were"
    );
    // Its session's tick lock goes with the killed process's connection.
    for round in 0.. {
        assert!(round < 100_000, "the killed tick's lock was never released");
        let held: i64 = client
            .query_one(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted
                 AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
                &[],
            )
            .await
            .expect("locks")
            .get(0);
        if held == 0 {
            break;
        }
        tokio::task::yield_now().await;
    }

    let config = db.config_mail("", &email);
    let s = tick_at(&config, false, None).await;
    assert_eq!(s.emails_sent, 1);
    let (_, run) = last_run(&client).await;
    let details = run["error_details"].as_str().unwrap_or("");
    assert!(
        details.contains("possibly sent: [alarm_x]") && details.contains("sent again"),
        "{details}"
    );
    let rows = ledger(&client).await;
    assert_eq!(rows.len(), 2, "{rows:#?}");
    assert_eq!(rows[0]["state"], "possibly_sent");
    assert!(rows[0]["reported_at"].is_number());
    assert_eq!(rows[1]["state"], "sent");
    assert_eq!(
        rows[1]["subject"], rows[0]["subject"],
        "the same email again"
    );
    // The killed tick wrote no event, so the retry made it anew.
    let written: Vec<String> = events(&client, "alarm_x")
        .await
        .iter()
        .map(|e| {
            assert!(e.notified(), "stamped with the send");
            e.id.clone()
        })
        .collect();
    assert_eq!(rows[1]["event_ids"], json!(written));
    assert_eq!(relay.received().len(), 2, "sent once more");
    // Reported once: the next tick has nothing to say about it.
    tick_at(&config, false, None).await;
    let (_, run) = last_run(&client).await;
    assert!(!run["error_details"]
        .as_str()
        .unwrap_or("")
        .contains("possibly sent"));
}

#[tokio::test]
async fn pruning_keeps_the_rows_inside_the_retention() {
    let db = TestDb::new();
    let client = db.client().await;
    let now = 1_800_000_000.0_f64;
    let day = 86_400.0_f64;
    // 2,500 rows past 30 days (more than one batch), 40 inside.
    client
        .execute(
            "INSERT INTO swf_alarms_ledger
                 (alarm, run_id, recipients, subject, event_ids, provider, state, sending_at)
             SELECT 'alarm_x', 'r', ARRAY['a@test.example'], 's', ARRAY[]::text[], 'smtp', 'sent',
                    CASE WHEN i <= 2500 THEN $1::float8 - 31 * $2::float8 - i
                         ELSE $1::float8 - 29 * $2::float8 + i END
             FROM generate_series(1, 2540) AS i",
            &[&now, &day],
        )
        .await
        .expect("insert");
    let config = db.config_with("ledger_retention_days = 30\n");
    tick_at(&config, true, Some(now)).await;
    let rows = ledger(&client).await;
    assert_eq!(rows.len(), 40);
    assert!(rows
        .iter()
        .all(|r| r["sending_at"].as_f64().expect("time") >= now - 30.0 * day));

    // sends lists them, newest first; status shows the last ones.
    let file = db.config_file("");
    let out = swf_alarms_bin()
        .args(["sends", "alarm_x", "--json", "--config"])
        .arg(&file)
        .output()
        .expect("runs");
    assert!(out.status.success(), "{}", output_text(&out));
    let listed: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let times: Vec<f64> = listed
        .as_array()
        .expect("a list")
        .iter()
        .map(|r| r["sending_at"].as_f64().expect("time"))
        .collect();
    assert_eq!(times.len(), 40);
    assert!(times.windows(2).all(|w| w[0] >= w[1]));
    let out = swf_alarms_bin()
        .args(["sends", "--since", "2026-12-01", "--config"])
        .arg(&file)
        .output()
        .expect("runs");
    let text = output_text(&out);
    assert!(
        out.status.success() && text.contains("alarm_x") && text.contains("sent"),
        "{text}"
    );
    let out = swf_alarms_bin()
        .args(["status", "--config"])
        .arg(&file)
        .output()
        .expect("runs");
    let text = output_text(&out);
    assert!(text.contains("TRIES"), "{text}");
    assert!(text.lines().all(|l| l.chars().count() <= 80), "{text}");
}

//! The SES channel: the engine binary, with the real aws-sdk-sesv2 client
//! and the standard credential chain, against moto's SES server.

use std::process::{Command, Output};

use aws_sdk_sesv2::config::{BehaviorVersion, Credentials, Region};
use serde_json::{json, Value};

use crate::harness::{mail::moto, *};

const SENDER: &str = "swf-alarms@ses.test.example";

fn ses_toml(endpoint: &str) -> String {
    format!(
        "[email]\nprovider = \"ses\"\nfrom = \"{SENDER}\"\nregion = \"us-east-1\"\n\
         endpoint_url = \"{endpoint}\"\nsmtp_timeout = 5\n"
    )
}

/// Verifies the sender with moto through the SDK (SESv2 verifies at once).
async fn verify_sender() {
    let config = aws_sdk_sesv2::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(moto().url())
        .credentials_provider(Credentials::new("testing", "testing", None, None, "tests"))
        .build();
    aws_sdk_sesv2::Client::from_conf(config)
        .create_email_identity()
        .email_identity(SENDER)
        .send()
        .await
        .expect("create the sender identity in moto");
}

/// Runs the binary as cron would, with credentials in the environment.
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

/// The messages moto holds for one recipient.
fn sent_to(recipient: &str) -> Vec<Value> {
    let data = moto().data();
    let mut found = Vec::new();
    let mut stack = vec![&data];
    // moto nests messages by account and region; search the `ses` tree.
    while let Some(v) = stack.pop() {
        match v {
            Value::Object(map) => {
                if map.contains_key("destinations") && map.contains_key("subject") {
                    if v.to_string().contains(recipient) {
                        found.push(v.clone());
                    }
                } else {
                    stack.extend(map.values());
                }
            }
            Value::Array(items) => stack.extend(items),
            _ => {}
        }
    }
    found
}

#[tokio::test]
async fn the_bundle_arrives_through_the_sdk() {
    verify_sender().await;
    let db = TestDb::new();
    let client = db.client().await;
    let to = format!("{}@ses.test.example", db.name);
    insert_alarm(
        &client,
        "alarm_ses",
        "Watch these tasks.",
        json!({"detector": "static_list", "recipients": [to],
        "params": {"detections": [
            {"dedupe_key": "task:1", "subject": "Tâche 1 at 12%", "body": "owner: alice"}
        ]}}),
    )
    .await;
    let out = run_engine(&db.config_file_mail("", &ses_toml(&moto().url())));
    let log = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(0), "{log}");

    let messages = sent_to(&to);
    assert_eq!(messages.len(), 1, "{:#}", moto().data());
    let m = &messages[0];
    assert_eq!(m["source"], SENDER);
    assert_eq!(m["destinations"]["ToAddresses"], json!([to]));
    assert_eq!(m["subject"], "[alarm_ses] 1 detection(s), 1 new");
    let body = m["body"].as_str().unwrap_or_default();
    assert!(
        body.starts_with(
            "Watch these tasks.\n\n---\n\nNEW (1):\n\n  [1] Tâche 1 at 12%\n      owner: alice"
        ),
        "{body}"
    );
    assert!(active(&client, "alarm_ses")
        .await
        .iter()
        .all(Event::notified));
}

#[tokio::test]
async fn ses_down_is_recorded_and_the_events_go_out_next_tick() {
    verify_sender().await;
    let db = TestDb::new();
    let client = db.client().await;
    let to = format!("{}@ses.test.example", db.name);
    insert_alarm(
        &client,
        "alarm_ses_down",
        "",
        json!({"detector": "static_list", "recipients": [to],
               "params": {"detections": detections(&["a", "b"])}}),
    )
    .await;
    let closed = crate::harness::mail::closed_port();
    let down = format!("http://127.0.0.1:{}", closed.port);
    let out = run_engine(&db.config_file_mail("", &ses_toml(&down)));
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let (_, run) = last_run(&client).await;
    let per = &run["per_alarm"]["alarm_ses_down"];
    assert_eq!(per["bundle_sent"], false);
    assert!(
        per["error_message"].as_str().unwrap_or("").contains("ses"),
        "{per}"
    );
    assert!(active(&client, "alarm_ses_down")
        .await
        .iter()
        .all(|e| !e.notified()));

    let out = run_engine(&db.config_file_mail("", &ses_toml(&moto().url())));
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let messages = sent_to(&to);
    assert_eq!(messages.len(), 1);
    assert_eq!(
        messages[0]["subject"],
        "[alarm_ses_down] 2 detection(s), 2 continuing"
    );
}

#[tokio::test]
async fn an_unverified_sender_is_a_recorded_failure() {
    let db = TestDb::new();
    let client = db.client().await;
    insert_alarm(&client, "alarm_ses_unverified", "", static_alarm(&["a"])).await;
    let toml = ses_toml(&moto().url()).replace(SENDER, "nobody@unverified.example");
    let out = run_engine(&db.config_file_mail("", &toml));
    assert_eq!(out.status.code(), Some(1));
    let (_, run) = last_run(&client).await;
    let message = run["per_alarm"]["alarm_ses_unverified"]["error_message"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(message.contains("MessageRejected"), "{message}");
}

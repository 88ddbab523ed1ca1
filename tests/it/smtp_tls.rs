//! Issue 12, point 4: STARTTLS to a relay whose certificate a site CA
//! signed — trusted through `email.smtp_ca_file` (besides the platform's
//! store), refused with a wrong CA or a host name the certificate is not
//! for, and never sent in plain text when STARTTLS is asked for.

use crate::harness::{mail::SmtpSink, pki::pki, *};

fn tls_toml(host: &str, port: u16, ca_file: Option<&std::path::Path>) -> String {
    let ca = ca_file
        .map(|p| format!("smtp_ca_file = \"{}\"\n", p.display()))
        .unwrap_or_default();
    format!(
        "[email]\nprovider = \"smtp\"\nfrom = \"swf-alarms@test.example\"\nsmtp_host = \"{host}\"\n\
         smtp_port = {port}\nsmtp_timeout = 5\nsmtp_tls = \"starttls\"\n{ca}"
    )
}

fn run_bin(db: &TestDb, tag: &str, email: &str) -> (i32, String) {
    let path = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("{}-{tag}.toml", db.name));
    std::fs::write(&path, db.toml("", email)).expect("write config");
    let out = swf_alarms_bin()
        .args(["run", "--config"])
        .arg(&path)
        .output()
        .expect("run swf-alarms");
    (out.status.code().unwrap_or(-1), output_text(&out))
}

#[tokio::test]
async fn issue_12_starttls_to_a_relay_signed_by_a_site_ca() {
    let pki = pki();
    let sink = SmtpSink::start_tls(&pki.server_cert, &pki.server_key);
    let db = TestDb::new();
    let client = db.client().await;
    insert_alarm(&client, "alarm_tls_mail", "", static_alarm(&["a"])).await;

    // Refused before a word of the message goes out: the platform store
    // does not know the site CA, another CA is not it, and the relay's
    // certificate is for localhost, not 127.0.0.1.
    let refusals = [
        (
            "no CA file",
            tls_toml("localhost", sink.port, None),
            "UnknownIssuer",
        ),
        (
            "wrong CA",
            tls_toml("localhost", sink.port, Some(&pki.other_ca)),
            "UnknownIssuer",
        ),
        (
            "wrong name",
            tls_toml("127.0.0.1", sink.port, Some(&pki.ca)),
            "not valid for name",
        ),
    ];
    for (tag, email, why) in refusals {
        let (code, text) = run_bin(&db, "refused", &email);
        assert_eq!(code, 1, "{tag}: {text}");
        let (_, run) = last_run(&client).await;
        let message = run["per_alarm"]["alarm_tls_mail"]["error_message"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        assert!(message.contains(why), "{tag}: {message}");
        assert!(
            message.contains("permanent"),
            "{tag}: not retried: {message}"
        );
        assert!(sink.messages().is_empty(), "{tag}: nothing delivered");
        assert!(!active(&client, "alarm_tls_mail").await[0].notified());
    }

    // The site CA: delivered over TLS, and the event is stamped.
    let (code, text) = run_bin(
        &db,
        "good",
        &tls_toml("localhost", sink.port, Some(&pki.ca)),
    );
    assert_eq!(code, 0, "{text}");
    let messages = sink.messages();
    assert_eq!(messages.len(), 1);
    assert!(messages[0].contains("X-TLS: yes"), "{}", messages[0]);
    assert!(active(&client, "alarm_tls_mail").await[0].notified());
}

#[tokio::test]
async fn issue_12_a_missing_smtp_ca_file_names_the_key() {
    let db = TestDb::new();
    let (code, text) = run_bin(
        &db,
        "missing-ca",
        &tls_toml(
            "localhost",
            25,
            Some(std::path::Path::new("/nonexistent/ca.pem")),
        ),
    );
    assert_eq!(code, 2, "{text}");
    assert!(text.contains("email.smtp_ca_file"), "{text}");
}

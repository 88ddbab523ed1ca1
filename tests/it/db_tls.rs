//! Issue 12, point 3: TLS to Postgres, against a real server that takes
//! only TLS connections, with a throwaway CA — every `sslmode`, a wrong
//! CA and a wrong host name, asserting exit statuses and what was written.

use crate::harness::{pg::TlsServer, pki::pki, *};

/// Runs the binary with a config whose `[db]` table is `db`.
fn engine(server: &TlsServer, tag: &str, db: &str, args: &[&str]) -> (i32, String) {
    let path = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!(
        "tls-{}-{}-{tag}.toml",
        std::process::id(),
        server.port
    ));
    std::fs::write(
        &path,
        format!("[db]\n{db}\n[email]\nprovider = \"log\"\nfrom = \"alarms@test.example\"\n"),
    )
    .expect("write config");
    let out = swf_alarms_bin()
        .args(args)
        .arg("--config")
        .arg(&path)
        .output()
        .expect("run swf-alarms");
    (out.status.code().unwrap_or(-1), output_text(&out))
}

#[test]
fn issue_12_postgres_over_tls_in_every_sslmode() {
    let pki = pki();
    let server = TlsServer::start(&pki.server_cert, &pki.server_key);
    let dsn = |host: &str, tail: &str| {
        format!(
            "dsn = \"host={host} hostaddr=127.0.0.1 port={} user=postgres dbname=postgres {tail}\"",
            server.port
        )
    };
    let ca = pki.ca.display().to_string();
    let other_ca = pki.other_ca.display().to_string();

    // The server refuses plain text: disable cannot even migrate.
    let (code, text) = engine(
        &server,
        "disable",
        &dsn("localhost", "sslmode=disable"),
        &["migrate"],
    );
    assert_eq!(code, 2, "{text}");
    assert!(text.contains("no encryption"), "{text}");

    // require: encrypted, certificate unchecked.
    let (code, text) = engine(
        &server,
        "require",
        &dsn("localhost", "sslmode=require"),
        &["migrate"],
    );
    assert_eq!(code, 0, "{text}");
    let (code, text) = engine(
        &server,
        "require",
        &dsn("localhost", "sslmode=require"),
        &[
            "alarm",
            "create",
            "alarm_tls",
            "--detector",
            "static_list",
            "--params",
            r#"{"detections": [{"dedupe_key": "k", "subject": "s", "body": "b"}]}"#,
            "--recipients",
            "ops@test.example",
        ],
    );
    assert_eq!(code, 0, "{text}");
    let runs =
        || server.psql("SELECT count(*) FROM entry WHERE kind = 'engine_run' AND status = 'done'");
    let (code, text) = engine(
        &server,
        "require",
        &dsn("localhost", "sslmode=require"),
        &["run"],
    );
    assert_eq!(code, 0, "{text}");
    assert_eq!(runs(), "1");
    assert_eq!(
        server
            .psql("SELECT count(*) FROM entry WHERE kind = 'event' AND data->>'dedupe_key' = 'k'"),
        "1"
    );

    // Every mode that should connect does, and each run is recorded.
    let good = [
        ("prefer", dsn("localhost", "sslmode=prefer")),
        ("verify-full", dsn("localhost", &format!("sslmode=verify-full sslrootcert={ca}"))),
        // verify-ca ignores the name: the certificate is for localhost only.
        ("verify-ca", dsn("127.0.0.1", &format!("sslmode=verify-ca sslrootcert={ca}"))),
        // require with a root file checks the chain, as libpq does.
        ("require+root", dsn("localhost", &format!("sslmode=require sslrootcert={ca}"))),
        (
            "keys",
            format!(
                "host = \"127.0.0.1\"\nport = {}\nname = \"postgres\"\nuser = \"postgres\"\n\
                 sslmode = \"verify-ca\"\nsslrootcert = \"{ca}\"",
                server.port
            ),
        ),
        (
            "url",
            format!(
                "dsn = \"postgresql://postgres@localhost:{}/postgres?hostaddr=127.0.0.1&sslmode=verify-full&sslrootcert={}\"",
                server.port,
                ca.replace('/', "%2F")
            ),
        ),
    ];
    for (n, (tag, db)) in good.iter().enumerate() {
        let (code, text) = engine(&server, tag, db, &["run"]);
        assert_eq!(code, 0, "{tag}: {text}");
        assert_eq!(runs(), (n + 2).to_string(), "{tag}: recorded");
    }

    // A wrong CA, and a host name the certificate is not for: refused
    // before anything is done.
    let bad = [
        (
            "wrong CA",
            dsn(
                "localhost",
                &format!("sslmode=verify-full sslrootcert={other_ca}"),
            ),
            "UnknownIssuer",
        ),
        (
            "wrong CA, verify-ca",
            dsn(
                "127.0.0.1",
                &format!("sslmode=verify-ca sslrootcert={other_ca}"),
            ),
            "UnknownIssuer",
        ),
        (
            "wrong name",
            dsn(
                "127.0.0.1",
                &format!("sslmode=verify-full sslrootcert={ca}"),
            ),
            "not valid for name",
        ),
    ];
    for (tag, db, why) in bad {
        let (code, text) = engine(&server, "bad", &db, &["run"]);
        assert_eq!(code, 2, "{tag}: {text}");
        assert!(text.contains(why), "{tag}: {text}");
    }
    assert_eq!(
        runs(),
        (good.len() + 1).to_string(),
        "the refused runs wrote nothing"
    );

    // A root file that is not there is a clear error naming the key.
    let (code, text) = engine(
        &server,
        "missing",
        &dsn(
            "localhost",
            "sslmode=verify-full sslrootcert=/nonexistent/root.crt",
        ),
        &["run"],
    );
    assert_eq!(code, 2, "{text}");
    assert!(text.contains("sslrootcert"), "{text}");
}

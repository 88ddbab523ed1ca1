//! Silences, end to end: `swf-alarms silence add/list/expire` through the
//! binary, ticks against the real database and SMTP sink, and the
//! dashboard's own queries, which must not see silence rows.

use std::process::Output;

use serde_json::{json, Value};

use crate::harness::{mail::SmtpSink, *};

fn swf(config: &std::path::Path, args: &[&str]) -> Output {
    swf_alarms_bin()
        .args(args)
        .arg("--config")
        .arg(config)
        .output()
        .expect("run swf-alarms")
}

fn subject(raw: &str) -> String {
    raw.split("\r\n")
        .find_map(|l| l.strip_prefix("Subject: "))
        .unwrap_or_default()
        .to_owned()
}

/// The body with quoted-printable soft line breaks joined.
fn text(raw: &str) -> String {
    raw.replace("=\r\n", "")
}

/// (id, data) of every silence row.
async fn silence_rows(client: &tokio_postgres::Client) -> Vec<(String, Value)> {
    client
        .query(
            "SELECT id, data FROM entry WHERE kind = 'silence' AND context_id = 'swf-alarms'
             ORDER BY timestamp_created",
            &[],
        )
        .await
        .expect("silences")
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect()
}

fn event<'a>(all: &'a [Event], key: &str) -> &'a Event {
    all.iter()
        .find(|e| e.key() == key && e.active())
        .unwrap_or_else(|| panic!("no active {key}"))
}

#[tokio::test]
async fn a_silence_keeps_matching_events_out_of_the_mail_while_the_state_moves_on() {
    let sink = SmtpSink::start();
    let db = TestDb::new();
    let client = db.client().await;
    let mut data = static_alarm(&["storage:a", "power:b"]);
    data["notify_on_clear"] = json!(true);
    let alarm = insert_alarm(&client, "alarm_ops", "Platform health.", data).await;
    let file = db.config_file_mail("", &sink.email_toml());
    let config = db.config_mail("", &sink.email_toml());

    let out = swf(
        &file,
        &[
            "silence",
            "add",
            "alarm_ops",
            "--key",
            "storage:*",
            "--for",
            "2h",
            "--comment",
            "disk swap in progress",
            "--by",
            "alice",
        ],
    );
    assert!(out.status.success(), "{}", output_text(&out));
    let rows = silence_rows(&client).await;
    assert_eq!(rows.len(), 1);
    let (_, s) = &rows[0];
    assert_eq!(s["alarm"], "alarm_ops");
    assert_eq!(s["key_pattern"], "storage:*");
    assert_eq!(s["comment"], "disk swap in progress");
    assert_eq!(s["created_by"], "alice");
    let start = s["starts_at"].as_f64().expect("starts_at");
    let end = s["ends_at"].as_f64().expect("ends_at");
    assert_eq!(end - start, 7200.0);

    // Both events are created; only power:b is mailed.
    let t = tick_at(&config, false, Some(start + 60.0)).await;
    assert_eq!(
        (t.new_events, t.emails_sent, t.silenced),
        (2, 1, 1),
        "{t:?}"
    );
    let mails = sink.messages();
    assert_eq!(subject(&mails[0]), "[alarm_ops] 1 detection(s), 1 new");
    let body = text(&mails[0]);
    assert!(
        body.contains("power:b is bad") && !body.contains("storage:a is bad"),
        "{body}"
    );
    assert!(body.contains("Silenced, not listed: 1 event(s)"), "{body}");
    let (_, run) = last_run(&client).await;
    let per = &run["per_alarm"]["alarm_ops"];
    assert_eq!(per["bundle_new"], 1);
    assert_eq!(per["bundle_silenced"], 1);
    assert_eq!(run["events_silenced"], 1);
    let all = events(&client, "alarm_ops").await;
    let storage = event(&all, "storage:a").clone();
    assert!(!storage.notified());
    assert_eq!(storage.data["silenced_at"], json!(start + 60.0));
    assert_eq!(per["bundle_silenced_event_ids"], json!([storage.id]));

    // While silenced, the state moves on: new, touched and cleared events.
    set_params(
        &client,
        &alarm,
        json!({"detections": detections(&["storage:a", "storage:c", "power:b"])}),
    )
    .await;
    let t = tick_at(&config, false, Some(start + 600.0)).await;
    assert_eq!(
        (t.new_events, t.emails_sent, t.silenced),
        (1, 0, 2),
        "{t:?}"
    );
    let all = events(&client, "alarm_ops").await;
    assert_eq!(
        event(&all, "storage:a").data["last_seen"],
        json!(start + 600.0)
    );
    assert!(!event(&all, "storage:c").notified());
    set_params(
        &client,
        &alarm,
        json!({"detections": detections(&["storage:a", "power:b"])}),
    )
    .await;
    let t = tick_at(&config, false, Some(start + 900.0)).await;
    assert_eq!((t.cleared, t.emails_sent), (1, 0), "{t:?}");
    assert_eq!(sink.messages().len(), 1);

    // Just before its end the silence still holds; from its end on, the
    // still-firing event goes out as a new notice, once.
    let t = tick_at(&config, false, Some(end - 1.0)).await;
    assert_eq!((t.emails_sent, t.silenced), (0, 1));
    let t = tick_at(&config, false, Some(end)).await;
    assert_eq!((t.emails_sent, t.silenced), (1, 0), "{t:?}");
    let mails = sink.messages();
    assert_eq!(mails.len(), 2);
    assert_eq!(subject(&mails[1]), "[alarm_ops] 1 detection(s), 1 new");
    let body = text(&mails[1]);
    assert!(
        body.contains("NEW (1):") && body.contains("storage:a is bad"),
        "{body}"
    );
    let all = events(&client, "alarm_ops").await;
    assert_eq!(event(&all, "storage:a").id, storage.id, "the same event");
    assert!(event(&all, "storage:a").notified());
    let t = tick_at(&config, false, Some(end + 300.0)).await;
    assert_eq!(t.emails_sent, 0);

    // Expired silences stay as history.
    assert_eq!(silence_rows(&client).await.len(), 1);
}

#[tokio::test]
async fn expire_ends_a_silence_now_keeps_a_version_and_the_next_tick_mails() {
    let db = TestDb::new();
    let client = db.client().await;
    insert_alarm(
        &client,
        "alarm_x",
        "",
        static_alarm(&["task:41", "task:35"]),
    )
    .await;
    let file = db.config_file("");
    let config = db.config();
    let out = swf(
        &file,
        &[
            "silence",
            "add",
            "alarm_x",
            "--until",
            "2099-01-01 00:00",
            "--comment",
            "known",
            "--by",
            "bob",
        ],
    );
    assert!(out.status.success(), "{}", output_text(&out));
    let t = tick(&config, false).await;
    assert_eq!(
        (t.new_events, t.emails_sent, t.silenced),
        (2, 0, 2),
        "{t:?}"
    );

    let list = swf(&file, &["silence", "list"]);
    let listed = String::from_utf8_lossy(&list.stdout).into_owned();
    assert!(list.status.success(), "{}", output_text(&list));
    let (id, _) = silence_rows(&client).await.remove(0);
    let line = listed
        .lines()
        .find(|l| l.starts_with(&id[..8]))
        .unwrap_or_else(|| panic!("{listed}"));
    assert!(
        line.contains("alarm_x") && line.contains(" active ") && line.contains("20990101 00:00"),
        "{line}"
    );
    assert!(line.ends_with(" bob        known"), "{line:?}");

    let out = swf(&file, &["silence", "expire", &id[..8], "--by", "carol"]);
    assert!(out.status.success(), "{}", output_text(&out));
    let (_, data) = silence_rows(&client).await.remove(0);
    assert_eq!(data["expired_by"], "carol");
    assert!(data["ends_at"].as_f64() < Some(4_070_908_800.0));
    let version = client
        .query_one(
            "SELECT version_num, changed_by, data FROM entry_version WHERE entry_id = $1",
            &[&id],
        )
        .await
        .expect("one version");
    assert_eq!(version.get::<_, i32>(0), 1);
    assert_eq!(version.get::<_, String>(1), "carol");
    assert_eq!(
        version.get::<_, Value>(2)["ends_at"],
        json!(4_070_908_800.0)
    );

    let t = tick(&config, false).await;
    assert_eq!((t.emails_sent, t.silenced), (1, 0), "{t:?}");
    let (_, run) = last_run(&client).await;
    assert_eq!(run["per_alarm"]["alarm_x"]["bundle_new"], 2);

    // Listed as expired; expiring again is refused and writes nothing.
    let listed = String::from_utf8_lossy(&swf(&file, &["silence", "list"]).stdout).into_owned();
    assert!(listed.contains(" expired "), "{listed}");
    let again = swf(&file, &["silence", "expire", &id]);
    assert!(!again.status.success());
    assert!(
        output_text(&again).contains("already over"),
        "{}",
        output_text(&again)
    );
    let versions: i64 = client
        .query_one("SELECT count(*) FROM entry_version", &[])
        .await
        .expect("count")
        .get(0);
    assert_eq!(versions, 1);
    let json_list = swf(&file, &["silence", "list", "--json"]);
    let rows: Value = serde_json::from_slice(&json_list.stdout).expect("JSON");
    assert_eq!(rows[0]["state"], "expired");
    assert_eq!(rows[0]["id"], json!(id));
}

#[tokio::test]
async fn bad_silences_are_refused_with_a_clear_error_and_nothing_is_written() {
    let db = TestDb::new();
    let client = db.client().await;
    insert_alarm(&client, "alarm_x", "", static_alarm(&["a"])).await;
    let file = db.config_file("");
    let cases: [(&[&str], &str); 7] = [
        (
            &["alarm_nope", "--for", "1h", "--comment", "c"],
            "no alarm with data.entry_id = \"alarm_nope\"",
        ),
        (
            &[
                "alarm_x",
                "--until",
                "2001-01-01T00:00:00Z",
                "--comment",
                "c",
            ],
            "in the past",
        ),
        (
            &["alarm_x", "--for", "two hours", "--comment", "c"],
            "is not a duration",
        ),
        (
            &["alarm_x", "--until", "next tuesday", "--comment", "c"],
            "is not a time",
        ),
        (
            &["alarm_x", "--for", "1h", "--comment", "   "],
            "--comment is empty",
        ),
        (
            &["alarm_x", "--for", "1h", "--key", "", "--comment", "c"],
            "--key is empty",
        ),
        (&["alarm_x", "--comment", "c"], "--for"),
    ];
    for (args, want) in cases {
        let mut all = vec!["silence", "add"];
        all.extend_from_slice(args);
        let out = swf(&file, &all);
        assert!(!out.status.success(), "{args:?}");
        assert!(
            output_text(&out).contains(want),
            "{args:?}: {}",
            output_text(&out)
        );
    }
    assert_eq!(row_count(&client, "silence").await, 0);
    let out = swf(&file, &["silence", "expire", "nope-nope"]);
    assert!(
        output_text(&out).contains("no silence with id"),
        "{}",
        output_text(&out)
    );
}

/// The dashboard's queries (src/monitor_app/alarms_data.py), as SQL: the
/// alarm list, one alarm, an alarm's events, recent runs, engine health.
async fn dashboard_views(client: &tokio_postgres::Client) -> Vec<Vec<String>> {
    let queries = [
        "SELECT id FROM entry WHERE context_id = 'swf-alarms' AND kind = 'alarm'
           AND archived = false AND deleted_at IS NULL ORDER BY timestamp_created, id",
        "SELECT id FROM entry WHERE context_id = 'swf-alarms' AND kind = 'alarm'
           AND data->'entry_id' = '\"alarm_x\"' AND deleted_at IS NULL ORDER BY id",
        "SELECT id FROM entry WHERE context_id = 'swf-alarms' AND kind = 'event'
           AND data->'entry_id' = '\"event_x\"' AND archived = false AND deleted_at IS NULL
           ORDER BY timestamp_created DESC, id",
        "SELECT id FROM entry WHERE context_id = 'swf-alarms' AND kind = 'event'
           AND data->'entry_id' = '\"event_x\"' AND data->'dedupe_key' = '\"a\"'
           AND archived = false AND deleted_at IS NULL ORDER BY timestamp_created DESC, id",
        "SELECT id FROM entry WHERE context_id = 'swf-alarms' AND kind = 'engine_run'
           AND archived = false AND deleted_at IS NULL ORDER BY timestamp_created DESC, id LIMIT 20",
        "SELECT id FROM entry WHERE context_id = 'swf-alarms' AND kind = 'engine_run'
           AND deleted_at IS NULL ORDER BY timestamp_created DESC, id LIMIT 1",
    ];
    let mut out = Vec::new();
    for q in queries {
        let rows = client.query(q, &[]).await.expect("dashboard query");
        out.push(rows.iter().map(|r| r.get(0)).collect());
    }
    out
}

#[tokio::test]
async fn the_dashboards_queries_return_the_same_rows_with_and_without_silences() {
    let db = TestDb::new();
    let client = db.client().await;
    insert_alarm(&client, "alarm_x", "", static_alarm(&["a", "b"])).await;
    let config = db.config();
    tick(&config, true).await;
    let before = dashboard_views(&client).await;
    assert!(before.iter().all(|rows| !rows.is_empty()), "{before:?}");

    let file = db.config_file("");
    for args in [
        &[
            "silence",
            "add",
            "alarm_x",
            "--for",
            "1h",
            "--comment",
            "one",
        ][..],
        &[
            "silence",
            "add",
            "alarm_x",
            "--key",
            "a",
            "--for",
            "1d",
            "--comment",
            "two",
        ][..],
    ] {
        let out = swf(&file, args);
        assert!(out.status.success(), "{}", output_text(&out));
    }
    let (id, _) = silence_rows(&client).await.remove(0);
    let out = swf(&file, &["silence", "expire", &id]);
    assert!(out.status.success(), "{}", output_text(&out));
    assert_eq!(row_count(&client, "silence").await, 2);
    assert_eq!(dashboard_views(&client).await, before);
}

#[tokio::test]
async fn test_status_and_check_show_silences_and_failing_streaks() {
    let db = TestDb::new();
    let client = db.client().await;
    insert_alarm(
        &client,
        "alarm_x",
        "",
        static_alarm(&["task:41", "task:35"]),
    )
    .await;
    insert_alarm(
        &client,
        "alarm_f",
        "",
        json!({"detector": "static_list", "recipients": "ops@test.example", "params": {"fail": true}}),
    )
    .await;
    let file = db.config_file("");
    let out = swf(
        &file,
        &[
            "silence",
            "add",
            "alarm_x",
            "--key",
            "task:4*",
            "--for",
            "2h",
            "--comment",
            "known bad inputs",
            "--by",
            "sakib",
        ],
    );
    assert!(out.status.success(), "{}", output_text(&out));
    let config = db.config();
    tick(&config, false).await;
    tick(&config, false).await;

    let out = swf(&file, &["status"]);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(text.contains("  silenced: task:4* until "), "{text}");
    assert!(text.contains(" by sakib ("), "{text}");
    assert!(text.contains(", 2 tick(s) in a row"), "{text}");
    let out = swf(&file, &["status", "--json"]);
    let status: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let alarm = |id: &str| {
        status["alarms"]
            .as_array()
            .expect("alarms")
            .iter()
            .find(|a| a["entry_id"] == id)
            .cloned()
            .expect("listed")
    };
    assert_eq!(alarm("alarm_x")["silences"][0]["key_pattern"], "task:4*");
    assert_eq!(alarm("alarm_f")["silences"], json!([]));
    assert_eq!(alarm("alarm_f")["consecutive_failures"], 2);

    let out = swf(&file, &["test", "alarm_x"]);
    let text = output_text(&out);
    assert!(text.contains("Silenced: task:4* until "), "{text}");
    assert!(
        text.contains("leave 1 silenced event(s) out of the email"),
        "{text}"
    );
    let out = swf(&file, &["test", "alarm_f"]);
    let text = output_text(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains(", 2 tick(s) in a row; last error: "),
        "{text}"
    );
    assert!(
        text.contains(
            "A detector_failing event follows once it has failed on every tick for 30 minute(s)"
        ),
        "{text}"
    );

    // check: clean, then a broken silence row and one for an alarm that
    // does not exist (written behind the CLI's back) are named.
    let out = swf(&file, &["check"]);
    assert!(out.status.success(), "{}", output_text(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("; 1 silence row(s) checked"));
    for (id, data) in [
        (
            "bad-silence-row",
            json!({"alarm": "alarm_x", "comment": "no end"}),
        ),
        (
            "orphan-silence-row",
            json!({"alarm": "alarm_gone", "starts_at": 1.0, "ends_at": 4_000_000_000.0, "comment": "c", "created_by": "x"}),
        ),
    ] {
        client
            .execute(
                "INSERT INTO entry (id, title, content, kind, context_id, data, status, archived,
                                    timestamp_created, timestamp_modified)
                 VALUES ($1, 'Silence', 'c', 'silence', 'swf-alarms', $2, 'active', false, 1, 1)",
                &[&id, &data],
            )
            .await
            .expect("insert silence row");
    }
    let out = swf(&file, &["check"]);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("silence bad-silence-row: data.starts_at"),
        "{text}"
    );
    assert!(
        text.contains("silence orphan-silence-row: data.alarm: no live alarm has data.entry_id = \"alarm_gone\""),
        "{text}"
    );
    // A tick skips the broken rows and carries on.
    let t = tick(&config, false).await;
    assert_eq!(t.alarms_errored, 1, "only alarm_f: {t:?}");
}

#[tokio::test]
async fn a_recovery_notice_held_back_by_a_silence_goes_out_after_it() {
    let sink = SmtpSink::start();
    let db = TestDb::new();
    let client = db.client().await;
    let mut data = static_alarm(&["p"]);
    data["notify_on_clear"] = json!(true);
    let alarm = insert_alarm(&client, "alarm_r", "", data).await;
    let file = db.config_file_mail("", &sink.email_toml());
    let config = db.config_mail("", &sink.email_toml());
    let out = swf(
        &file,
        &[
            "silence",
            "add",
            "alarm_r",
            "--for",
            "1h",
            "--comment",
            "work",
        ],
    );
    assert!(out.status.success(), "{}", output_text(&out));
    let (_, s) = silence_rows(&client).await.remove(0);
    let start = s["starts_at"].as_f64().expect("starts_at");
    let end = s["ends_at"].as_f64().expect("ends_at");

    // Mailed before the silence began.
    let t = tick_at(&config, false, Some(start - 60.0)).await;
    assert_eq!(t.emails_sent, 1);
    // It clears during the silence: cleared at once, notice held back.
    set_params(&client, &alarm, json!({"detections": []})).await;
    let t = tick_at(&config, false, Some(start + 60.0)).await;
    assert_eq!((t.cleared, t.emails_sent, t.silenced), (1, 0, 1), "{t:?}");
    assert!(events(&client, "alarm_r").await.iter().all(|e| !e.active()));
    let t = tick_at(&config, false, Some(end - 1.0)).await;
    assert_eq!((t.emails_sent, t.silenced), (0, 1), "{t:?}");
    // Over: the recovery notice goes out, once.
    let t = tick_at(&config, false, Some(end)).await;
    assert_eq!((t.emails_sent, t.silenced), (1, 0), "{t:?}");
    let mails = sink.messages();
    assert_eq!(subject(&mails[1]), "[alarm_r] 1 resolved");
    assert!(text(&mails[1]).contains("p is bad"), "{}", mails[1]);
    let t = tick_at(&config, false, Some(end + 300.0)).await;
    assert_eq!(t.emails_sent, 0);
}

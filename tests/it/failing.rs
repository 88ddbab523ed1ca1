//! A detector that keeps failing raises one `detector_failing` event,
//! mailed through the real SMTP sink like any other event, and cleared
//! when the detector succeeds again; the alarm's other events stay as
//! they were meanwhile.

use serde_json::json;

use crate::harness::{mail::SmtpSink, *};

const T0: f64 = 1_900_000_000.0;
const MIN: f64 = 60.0;

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

fn failing_events(all: &[Event]) -> Vec<&Event> {
    all.iter()
        .filter(|e| e.key() == "detector_failing")
        .collect()
}

#[tokio::test]
async fn a_detector_failing_past_its_threshold_raises_one_event_mailed_renotified_and_resolved() {
    let sink = SmtpSink::start();
    let db = TestDb::new();
    let client = db.client().await;
    let mut data = static_alarm(&["a"]);
    data["notify_on_clear"] = json!(true);
    data["renotification_window_hours"] = json!(1);
    let alarm = insert_alarm(&client, "alarm_up", "Upstream watch.", data).await;
    let config = db.config_mail("", &sink.email_toml());

    let s = tick_at(&config, false, Some(T0)).await;
    assert_eq!((s.new_events, s.emails_sent), (1, 1));
    let a = active(&client, "alarm_up").await[0].clone();

    set_params(&client, &alarm, json!({"fail": true})).await;
    // Failing, but not for 30 minutes yet: no event, no mail.
    for minutes in [5.0, 20.0] {
        let s = tick_at(&config, false, Some(T0 + minutes * MIN)).await;
        assert_eq!((s.alarms_errored, s.new_events, s.emails_sent), (1, 0, 0));
    }
    let (_, run) = last_run(&client).await;
    let per = &run["per_alarm"]["alarm_up"];
    assert_eq!(per["consecutive_failures"], 2);
    assert_eq!(per["failing_since"], json!(T0 + 5.0 * MIN));
    assert_eq!(sink.messages().len(), 1);

    // 30 minutes of failing: the event, mailed in the alarm's bundle.
    let s = tick_at(&config, false, Some(T0 + 35.0 * MIN)).await;
    assert_eq!(
        (s.alarms_errored, s.new_events, s.emails_sent),
        (1, 1, 1),
        "{s:?}"
    );
    assert_eq!(s.consecutive_failures, vec![("alarm_up".to_string(), 3)]);
    let mails = sink.messages();
    assert_eq!(mails.len(), 2);
    assert_eq!(subject(&mails[1]), "[alarm_up] 1 detection(s), 1 new");
    let body = text(&mails[1]);
    assert!(
        body.contains("[1] Detector static_list failing since ")
            && body.contains(" UTC: upstream static_list: asked to fail by its params\r\n"),
        "{body}"
    );
    assert!(body.contains("(3 tick(s) in a row)"), "{body}");
    let all = events(&client, "alarm_up").await;
    let failing = failing_events(&all);
    assert_eq!(failing.len(), 1);
    assert!(failing[0].active() && failing[0].notified());
    assert_eq!(failing[0].data["consecutive_failures"], 3);
    assert_eq!(failing[0].data["detector"], "static_list");

    // Still failing: the same event, quiet until the window has passed.
    let s = tick_at(&config, false, Some(T0 + 40.0 * MIN)).await;
    assert_eq!((s.new_events, s.emails_sent), (0, 0));
    let s = tick_at(&config, false, Some(T0 + 100.0 * MIN)).await;
    assert_eq!((s.new_events, s.emails_sent), (0, 1));
    let mails = sink.messages();
    assert_eq!(
        subject(&mails[2]),
        "[alarm_up] 1 detection(s), 1 continuing"
    );
    // "a" is past its window too, but while the detector fails it is unknown.
    assert!(!text(&mails[2]).contains("a is bad"), "{}", mails[2]);

    // Throughout, the other event was neither cleared nor touched.
    let a_now = active(&client, "alarm_up")
        .await
        .into_iter()
        .find(|e| e.key() == "a")
        .expect("a still active");
    assert_eq!(a_now.data, a.data);

    // The detector succeeds: the failing event clears, with a RESOLVED line.
    set_params(&client, &alarm, json!({"detections": detections(&["a"])})).await;
    let s = tick_at(&config, false, Some(T0 + 105.0 * MIN)).await;
    assert_eq!(
        (s.alarms_errored, s.cleared, s.emails_sent),
        (0, 1, 1),
        "{s:?}"
    );
    assert_eq!(s.consecutive_failures, vec![("alarm_up".to_string(), 0)]);
    let mails = sink.messages();
    // "a" is known again, and past its window: it is renotified as well.
    assert_eq!(
        subject(&mails[3]),
        "[alarm_up] 1 detection(s), 1 continuing, 1 resolved"
    );
    assert!(
        text(&mails[3]).contains("(the detector runs again)"),
        "{}",
        mails[3]
    );
    let all = events(&client, "alarm_up").await;
    assert_eq!(failing_events(&all).len(), 1, "exactly one, ever");
    assert!(!failing_events(&all)[0].active());
    let (_, run) = last_run(&client).await;
    assert!(run["per_alarm"]["alarm_up"]
        .get("consecutive_failures")
        .is_none());
    assert_eq!(active(&client, "alarm_up").await.len(), 1, "a continues");
    assert_eq!(active(&client, "alarm_up").await[0].id, a.id);

    // A new failure starts a new streak from zero.
    set_params(&client, &alarm, json!({"fail": true})).await;
    let s = tick_at(&config, false, Some(T0 + 110.0 * MIN)).await;
    assert_eq!((s.new_events, s.emails_sent), (0, 0));
    assert_eq!(s.consecutive_failures, vec![("alarm_up".to_string(), 1)]);
}

#[tokio::test]
async fn zero_turns_it_off_and_fractions_of_minutes_work() {
    let db = TestDb::new();
    let client = db.client().await;
    let mut off = json!({"detector": "static_list", "recipients": "ops@test.example",
                         "params": {"fail": true}});
    off["detector_failing_after_minutes"] = json!(0);
    insert_alarm(&client, "alarm_off", "", off).await;
    let mut quick = json!({"detector": "static_list", "recipients": "ops@test.example",
                           "params": {"fail": true}});
    quick["detector_failing_after_minutes"] = json!(0.5);
    insert_alarm(&client, "alarm_quick", "", quick).await;
    let config = db.config();
    for seconds in [0.0, 20.0, 40.0, 86_400.0] {
        tick_at(&config, false, Some(T0 + seconds)).await;
    }
    assert!(events(&client, "alarm_off").await.is_empty());
    let quick = events(&client, "alarm_quick").await;
    assert_eq!(quick.len(), 1, "fired at 40 s, then continued");
    assert_eq!(quick[0].data["fire_time"], json!(T0 + 40.0));

    // status shows each streak.
    let out = swf_alarms_bin()
        .args(["status", "--json", "--config"])
        .arg(db.config_file(""))
        .output()
        .expect("status");
    assert!(out.status.success(), "{}", output_text(&out));
    let status: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let quick = status["alarms"]
        .as_array()
        .expect("alarms")
        .iter()
        .find(|a| a["entry_id"] == "alarm_quick")
        .expect("alarm_quick");
    assert_eq!(quick["consecutive_failures"], 4);
    assert_eq!(quick["failing_since"], json!(T0));
    let text = swf_alarms_bin()
        .args(["status", "--config"])
        .arg(db.config_file(""))
        .output()
        .expect("status");
    assert!(
        String::from_utf8_lossy(&text.stdout).contains(", 4 tick(s) in a row"),
        "{}",
        output_text(&text)
    );
}

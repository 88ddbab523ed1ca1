//! The status page (issue 16): written from a real Postgres state after
//! ticks, by `status --html` and by `run` (also when the tick fails),
//! opened in a real headless browser.

use std::path::{Path, PathBuf};

use serde_json::json;

use crate::harness::{mail::closed_port, *};

const H: f64 = 3600.0;
/// The page's "now".
const T0: f64 = 1_900_000_000.0;

const SCRIPT: &str =
    "<script>document.documentElement.setAttribute('data-pwned','script')</script>";
const IMG: &str =
    "\"><img src=x onerror=\"document.documentElement.setAttribute('data-pwned','img')\">";

/// A fresh file path under the test target directory.
fn page_path(db: &TestDb, name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("page_{}", db.name));
    std::fs::create_dir_all(&dir).expect("page dir");
    dir.join(name)
}

/// The rows of the table with this id, each as its cells' text.
fn table_rows(html: &str, id: &str) -> Vec<Vec<String>> {
    let start = html
        .find(&format!("<table id=\"{id}\">"))
        .unwrap_or_else(|| panic!("no table {id} in {html}"));
    let table = &html[start..];
    let table = &table[..table.find("</table>").expect("table end")];
    table
        .split("<tr>")
        .skip(2)
        .map(|row| {
            row.split("<td")
                .skip(1)
                .map(|cell| {
                    let text = &cell[cell.find('>').expect("cell start") + 1..];
                    text[..text.find("</td>").unwrap_or(text.len())].to_owned()
                })
                .collect()
        })
        .collect()
}

fn row_of<'a>(rows: &'a [Vec<String>], first: &str) -> &'a Vec<String> {
    rows.iter()
        .find(|r| r.first().is_some_and(|c| c.contains(first)))
        .unwrap_or_else(|| panic!("no row {first} in {rows:?}"))
}

/// Alarms firing, failing, disabled and hostile, and a TCP probe that was
/// down from 3 h to 1 h before `T0`; ticks at T0 - 3 h, T0 - 1 h, T0.
async fn scenario(db: &TestDb) {
    let client = db.client().await;
    let config = db.config();
    insert_alarm(
        &client,
        "alarm_fire",
        "Two bad things.",
        static_alarm(&["a", "b"]),
    )
    .await;
    let mut off = static_alarm(&["c"]);
    off["enabled"] = json!(false);
    insert_alarm(&client, "alarm_off", "Mail is off.", off).await;
    let mut failing = static_alarm(&[]);
    failing["params"]["fail"] = json!(true);
    insert_alarm(&client, "alarm_broken", "Its upstream is gone.", failing).await;
    let mut hostile = static_alarm(&[]);
    hostile["params"]["detections"] = json!([
        {"dedupe_key": "s", "subject": SCRIPT, "body": SCRIPT},
        {"dedupe_key": "i", "subject": IMG, "body": IMG},
    ]);
    insert_alarm(&client, "alarm_hostile", IMG, hostile).await;
    insert_alarm(
        &client,
        "alarm_hushed",
        "In maintenance.",
        static_alarm(&["q"]),
    )
    .await;
    client
        .execute(
            "INSERT INTO entry (id, title, content, kind, context_id, name, data, archived,
                                timestamp_created, timestamp_modified)
             VALUES ($1, 'Silence alarm_hushed', '', 'silence', 'swf-alarms', NULL, $2, false, 0, 0)",
            &[
                &uuid::Uuid::new_v4().to_string(),
                &json!({"alarm": "alarm_hushed", "key_pattern": null, "starts_at": T0 - 2.0 * H,
                        "ends_at": T0 + 2.0 * H, "comment": "maintenance <b>", "created_by": "alice"}),
            ],
        )
        .await
        .expect("silence row");

    let closed = closed_port();
    let open = std::net::TcpListener::bind("127.0.0.1:0").expect("listen");
    let open_port = open.local_addr().expect("address").port();
    let target = |port: u16| json!({"targets": [{"name": "broker", "host": "127.0.0.1", "port": port, "timeout_seconds": 5}]});
    let probe = insert_alarm(
        &client,
        "alarm_tcp_port",
        "The broker's port.",
        json!({"recipients": ["ops@test.example"], "params": target(closed.port)}),
    )
    .await;

    tick_at(&config, false, Some(T0 - 3.0 * H)).await;
    set_params(&client, &probe, target(open_port)).await;
    tick_at(&config, false, Some(T0 - H)).await;
    tick_at(&config, false, Some(T0)).await;
}

#[tokio::test]
async fn the_page_shows_alarms_uptime_and_ticks_from_the_database() {
    let db = TestDb::new();
    scenario(&db).await;
    let path = page_path(&db, "index.html");
    swf_alarms::status_page::write(&db.config(), &path, Some(T0 + 60.0), None)
        .await
        .expect("page written");
    let html = std::fs::read_to_string(&path).expect("page");

    assert!(html.contains("<meta http-equiv=\"refresh\" content=\"60\">"));
    assert!(html.contains("banner good"), "a tick a minute ago is fresh");
    let alarms = table_rows(&html, "alarms");
    assert_eq!(alarms.len(), 6, "{alarms:?}");
    assert_eq!(
        row_of(&alarms, "alarm_hushed")[1],
        "silenced: all events until 20300317 19:46:40 UTC: maintenance &lt;b&gt; (alice)"
    );
    assert_eq!(row_of(&alarms, "alarm_fire")[1], "firing (2)");
    assert_eq!(row_of(&alarms, "alarm_fire")[2], "2");
    assert_eq!(row_of(&alarms, "alarm_fire")[3], "3.0 h", "oldest active");
    assert_eq!(row_of(&alarms, "alarm_off")[1], "disabled");
    assert_eq!(row_of(&alarms, "alarm_tcp_port")[1], "ok");
    let broken = &row_of(&alarms, "alarm_broken")[1];
    assert!(
        broken.starts_with("failing since 20300317 14:46:40 UTC: ")
            && broken.contains("asked to fail by its params"),
        "{broken}"
    );
    // A sparkline per alarm, drawn from the three run records: one point
    // per hour with a tick, each its most detections (two, every time).
    let spark = &row_of(&alarms, "alarm_fire")[5];
    assert!(
        spark.contains("<title>max 2 over 7 days</title>"),
        "{spark}"
    );
    let points = spark
        .split("points=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("a polyline");
    assert_eq!(points.split_whitespace().count(), 3, "{spark}");

    let uptime = table_rows(&html, "uptime");
    let broker = row_of(&uptime, "alarm_tcp_port");
    assert_eq!(broker[1], "broker");
    assert_eq!(broker[2], "up");
    // Down 2 h of the last 24 (to the page's time, a minute after T0).
    let day = 1.0 - 2.0 * H / (24.0 * H);
    let week = 1.0 - 2.0 * H / (168.0 * H);
    assert_eq!(broker[3], format!("{:.2} %", day * 100.0));
    assert_eq!(broker[4], format!("{:.2} %", week * 100.0));
    assert_eq!(broker[3], "91.67 %");

    let ticks = table_rows(&html, "ticks");
    assert_eq!(ticks.len(), 3, "{ticks:?}");
    // Newest first: T0 changed nothing; T0 - 1 h cleared the broker and
    // raised the failing alarm's detector_failing event; T0 - 3 h
    // created a, b, c, q, the two hostile events and the broker's.
    let counts = |r: &Vec<String>| (r[4].clone(), r[5].clone(), r[7].clone());
    assert_eq!(counts(&ticks[0]), ("0".into(), "0".into(), "1".into()));
    assert_eq!(counts(&ticks[1]), ("1".into(), "1".into(), "1".into()));
    assert_eq!(counts(&ticks[2]), ("7".into(), "0".into(), "1".into()));

    // Hostile strings are text, everywhere they appear.
    assert!(!html.contains("<script"));
    assert!(!html.contains("<img"));
    assert!(html.contains("&lt;script&gt;document.documentElement"));
    assert!(html.contains("&quot;&gt;&lt;img src=x onerror="));
}

#[tokio::test]
async fn the_page_turns_red_when_the_last_tick_is_older_than_two_intervals() {
    let db = TestDb::new();
    let client = db.client().await;
    insert_alarm(&client, "alarm_fire", "x", static_alarm(&["a"])).await;
    tick_at(&db.config(), false, Some(T0)).await;
    let path = page_path(&db, "late.html");
    let config = db.config();
    let write = |now: f64| swf_alarms::status_page::write(&config, &path, Some(now), None);
    write(T0 + 590.0).await.expect("page");
    assert!(std::fs::read_to_string(&path)
        .unwrap()
        .contains("banner good"));
    write(T0 + 610.0).await.expect("page");
    let html = std::fs::read_to_string(&path).unwrap();
    assert!(
        html.contains("banner stale") && html.contains("STALE"),
        "{html}"
    );
}

#[tokio::test]
async fn run_writes_the_page_after_a_tick_and_after_a_failed_one_and_status_html_on_demand() {
    let db = TestDb::new();
    let client = db.client().await;
    insert_alarm(&client, "alarm_fire", "x", static_alarm(&["a"])).await;
    let path = page_path(&db, "run.html");
    let engine = format!("status_page = \"{}\"", path.display());
    let out = swf_alarms_bin()
        .args(["run", "--config"])
        .arg(db.config_file(&engine))
        .output()
        .expect("run");
    assert!(out.status.success(), "{}", output_text(&out));
    let html = std::fs::read_to_string(&path).expect("page after a tick");
    assert_eq!(
        row_of(&table_rows(&html, "alarms"), "alarm_fire")[1],
        "firing (1)"
    );
    assert_eq!(table_rows(&html, "ticks").len(), 1);

    // A database that does not exist: the tick fails, the page says so.
    let mut missing = std::fs::read_to_string(db.config_file(&engine)).unwrap();
    missing = missing.replace(&format!("name = \"{}\"", db.name), "name = \"no_such_db\"");
    let missing_file = page_path(&db, "missing.toml");
    std::fs::write(&missing_file, missing).unwrap();
    let out = swf_alarms_bin()
        .args(["run", "--config"])
        .arg(&missing_file)
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2), "{}", output_text(&out));
    let html = std::fs::read_to_string(&path).expect("page after a failed tick");
    assert!(html.contains("This run: the tick did not run"), "{html}");
    assert!(html.contains("no_such_db"), "{html}");
    assert!(html.contains("banner stale"));

    let on_demand = page_path(&db, "on-demand.html");
    let out = swf_alarms_bin()
        .args(["status", "--html"])
        .arg(&on_demand)
        .arg("--config")
        .arg(db.config_file(""))
        .output()
        .expect("status --html");
    assert!(out.status.success(), "{}", output_text(&out));
    let html = std::fs::read_to_string(&on_demand).expect("page on demand");
    assert_eq!(
        row_of(&table_rows(&html, "alarms"), "alarm_fire")[1],
        "firing (1)"
    );
    let leftovers: Vec<_> = std::fs::read_dir(on_demand.parent().unwrap())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
}

#[tokio::test]
async fn a_locked_out_run_still_writes_the_page_and_says_why() {
    let db = TestDb::new();
    let client = db.client().await;
    insert_alarm(&client, "alarm_fire", "x", static_alarm(&["a"])).await;
    tick_at(&db.config(), false, Some(T0)).await;
    // Another session holds the tick lock (the engine's key).
    client
        .query_one("SELECT pg_advisory_lock(8320231405206467181)", &[])
        .await
        .expect("lock");
    let path = page_path(&db, "locked.html");
    let engine = format!("status_page = \"{}\"", path.display());
    let out = swf_alarms_bin()
        .args(["run", "--config"])
        .arg(db.config_file(&engine))
        .output()
        .expect("run");
    assert!(out.status.success(), "{}", output_text(&out));
    let html = std::fs::read_to_string(&path).expect("page after a locked-out run");
    assert!(
        html.contains("This run: locked out: another tick holds the lock"),
        "{html}"
    );
    // The state shown is the last tick's.
    assert_eq!(
        row_of(&table_rows(&html, "alarms"), "alarm_fire")[1],
        "firing (1)"
    );
    assert_eq!(table_rows(&html, "ticks").len(), 1);
}

/// Runs headless Chromium with these arguments and a profile of its own.
fn chromium(args: &[&str], page: &Path) -> std::process::Output {
    let profile = tempdir_in_target("chromium-profile");
    std::process::Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("chromium runs (deploy/test.sh installs it)")
}

fn tempdir_in_target(prefix: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!(
        "{prefix}-{}-{}",
        std::process::id(),
        uuid::Uuid::new_v4()
    ));
    std::fs::create_dir_all(&dir).expect("profile dir");
    dir
}

#[tokio::test]
async fn a_real_browser_shows_the_page_runs_no_script_and_takes_a_screenshot() {
    let db = TestDb::new();
    scenario(&db).await;
    let path = page_path(&db, "browser.html");
    swf_alarms::status_page::write(&db.config(), &path, Some(T0 + 60.0), None)
        .await
        .expect("page written");

    let out = chromium(&["--dump-dom"], &path);
    assert!(out.status.success(), "{}", output_text(&out));
    let dom = String::from_utf8_lossy(&out.stdout);
    assert!(dom.contains("swf-alarms status"), "{dom}");
    // Either hostile subject, had it run, would have marked the root element.
    let root = &dom[dom.find("<html").expect("root element")..];
    let root = &root[..root.find('>').expect("root tag end")];
    assert_eq!(root, "<html lang=\"en\"", "a hostile subject ran");
    assert!(
        !dom.contains("data-pwned=\""),
        "a hostile subject ran: {dom}"
    );
    // The hostile subjects are text nodes, serialised escaped again.
    assert!(
        dom.contains("&lt;script&gt;document.documentElement"),
        "{dom}"
    );
    assert!(dom.contains("&lt;img src=x onerror="), "{dom}");
    for text in [
        "firing (2)",
        "disabled",
        "silenced: all events until",
        "91.67 %",
        "alarm_broken",
    ] {
        assert!(dom.contains(text), "{text} missing from {dom}");
    }

    let shot = page_path(&db, "shot.png");
    let out = chromium(
        &[
            &format!("--screenshot={}", shot.display()),
            "--window-size=1100,900",
        ],
        &path,
    );
    assert!(out.status.success(), "{}", output_text(&out));
    let png = std::fs::read(&shot).expect("screenshot written");
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n") && png.len() > 1000);
}

/// What the page costs from a real database: 100 alarms with 1,000
/// active events each, gathered and rendered. Prints the figure:
/// `cargo test --test it status_page::measure -- --ignored --nocapture`.
#[tokio::test]
#[ignore = "a measurement, not a check"]
async fn measure_the_page_for_a_hundred_alarms_of_a_thousand_events() {
    let db = TestDb::new();
    let client = db.client().await;
    for a in 0..100 {
        insert_alarm(
            &client,
            &format!("alarm_{a:03}"),
            "Load.",
            static_alarm(&[]),
        )
        .await;
    }
    client
        .execute(
            "INSERT INTO entry (id, title, content, kind, context_id, name, data, priority, status,
                                archived, parent_id, timestamp_created, timestamp_modified, deleted_at)
             SELECT gen_random_uuid()::text, 'Task ' || e || ' failing', '', 'event', 'swf-alarms', NULL,
                    jsonb_build_object('entry_id', 'event_' || lpad(a::text, 3, '0'),
                                       'fire_time', $1::float8 - e * 60, 'last_notified', $1::float8,
                                       'dedupe_key', 'task:' || e,
                                       'subject', 'Task ' || e || ' failing at site X <1%>'),
                    NULL, 'active', false, NULL, $1::float8 - e * 60, $1::float8, NULL
             FROM generate_series(0, 99) AS a, generate_series(1, 1000) AS e",
            &[&T0],
        )
        .await
        .expect("100,000 events");
    client
        .execute(
            "INSERT INTO swf_alarms_active_event (alarm, dedupe_key, event_id)
             SELECT data->>'entry_id', data->>'dedupe_key', id FROM entry WHERE kind = 'event'",
            &[],
        )
        .await
        .expect("the engine's record of them");
    client.execute("ANALYZE", &[]).await.expect("analyze");
    let path = page_path(&db, "large.html");
    let config = db.config();
    let started = std::time::Instant::now();
    swf_alarms::status_page::write(&config, &path, Some(T0 + 60.0), None)
        .await
        .expect("page written");
    let took = started.elapsed();
    let bytes = std::fs::metadata(&path).expect("page").len();
    println!("status page from Postgres: 100 alarms x 1,000 active events: {bytes} bytes, gathered and written in {took:?}");
    assert!(bytes < 2 * 1024 * 1024, "{bytes} bytes");
}

/// Writes the README's screenshot, docs/status-page.png:
/// `cargo test --test it status_page::readme_screenshot -- --ignored`.
#[tokio::test]
#[ignore = "regenerates docs/status-page.png"]
async fn readme_screenshot() {
    let db = TestDb::new();
    let client = db.client().await;
    let config = db.config();
    let tasks = json!([
        {"dedupe_key": "task:35981", "subject": "Task 35981 (reco.epic.26.02) failure rate 42% > 20%"},
        {"dedupe_key": "task:35990", "subject": "Task 35990 (simu.epic.26.02) failure rate 31% > 20%"},
    ]);
    let mut panda = static_alarm(&[]);
    panda["params"]["detections"] = tasks;
    insert_alarm(
        &client,
        "alarm_panda_failure_rate",
        "PanDA tasks failing.",
        panda,
    )
    .await;
    let mut off = static_alarm(&["ops:storage"]);
    off["enabled"] = json!(false);
    insert_alarm(&client, "alarm_ops_storage", "Storage filling up.", off).await;
    let mut broken = static_alarm(&[]);
    broken["params"]["fail"] = json!(true);
    insert_alarm(
        &client,
        "alarm_catalog_sync",
        "Catalog sync freshness.",
        broken,
    )
    .await;
    insert_alarm(
        &client,
        "alarm_quiet",
        "Nothing to report.",
        static_alarm(&[]),
    )
    .await;
    insert_alarm(
        &client,
        "alarm_http_health",
        "Web front.",
        static_alarm(&["http:web"]),
    )
    .await;
    client
        .execute(
            "INSERT INTO entry (id, title, content, kind, context_id, name, data, archived,
                                timestamp_created, timestamp_modified)
             VALUES ($1, 'Silence', '', 'silence', 'swf-alarms', NULL, $2, false, 0, 0)",
            &[
                &uuid::Uuid::new_v4().to_string(),
                &json!({"alarm": "alarm_http_health", "starts_at": T0 - 3.0 * H,
                        "ends_at": T0 + 2.0 * H, "comment": "web server upgrade", "created_by": "alice"}),
            ],
        )
        .await
        .expect("silence row");
    let closed = closed_port();
    let open = std::net::TcpListener::bind("127.0.0.1:0").expect("listen");
    let open_port = open.local_addr().expect("address").port();
    let target =
        |port: u16| json!({"targets": [{"name": "broker", "host": "127.0.0.1", "port": port}]});
    let probe = insert_alarm(
        &client,
        "alarm_tcp_port",
        "The broker's port.",
        json!({"recipients": ["ops@test.example"], "params": target(closed.port)}),
    )
    .await;
    for hours in (2..48).rev() {
        let now = T0 - f64::from(hours) * H;
        let port = if (4..6).contains(&hours) {
            closed.port
        } else {
            open_port
        };
        set_params(&client, &probe, target(port)).await;
        tick_at(&config, false, Some(now)).await;
    }
    tick_at(&config, false, Some(T0)).await;
    let path = page_path(&db, "readme.html");
    swf_alarms::status_page::write(&config, &path, Some(T0 + 60.0), None)
        .await
        .expect("page written");
    let shot = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("docs/status-page.png");
    std::fs::create_dir_all(shot.parent().unwrap()).expect("docs dir");
    let out = chromium(
        &[
            &format!("--screenshot={}", shot.display()),
            "--window-size=1000,760",
        ],
        &path,
    );
    assert!(out.status.success(), "{}", output_text(&out));
}

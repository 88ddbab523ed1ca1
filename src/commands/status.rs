//! `swf-alarms status`: per alarm — enabled, archived, active events,
//! oldest fire time, last notified, its detector's failing streak, last
//! error — then the last ticks and the last sends (the ledger).
//! Fits 80 columns; `--json` for scripts.

use std::process::ExitCode;

use serde_json::{json, Value};

use crate::{config::Config, store, time};

fn short_time(t: Option<f64>) -> String {
    t.map(time::short_label).unwrap_or_else(|| "-".into())
}

fn cut(text: &str, max: usize) -> String {
    let one_line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    match one_line.char_indices().nth(max) {
        Some((at, _)) => format!("{}…", &one_line[..at]),
        None => one_line,
    }
}

/// `status --html FILE`: the status page, written now.
pub(crate) async fn write_html(
    config: &Config,
    path: &std::path::Path,
) -> anyhow::Result<ExitCode> {
    use anyhow::Context;
    crate::status_page::write(config, path, None, None)
        .await
        .with_context(|| format!("writing the status page to {}", path.display()))?;
    say!("{}", path.display());
    Ok(ExitCode::SUCCESS)
}

pub(crate) async fn run(config: &Config, as_json: bool, ticks: i64) -> anyhow::Result<ExitCode> {
    let (_pool, client) = super::connect(config, 1).await?;
    let records = store::alarms::list(&client).await?;
    let summaries = store::events::active_summaries(&client).await?;
    let runs = store::runs::recent(&client, ticks.max(1)).await?;
    let streaks = store::health::failing(&client).await?;
    let sends = store::ledger::list(&client, None, None, ticks.max(1)).await?;
    let now = crate::time::now();
    let silences = crate::tick::load_silences(&client, now).await?;

    let last_error = |entry_id: &str| -> Option<String> {
        runs.iter()
            .find_map(|(_, data)| data.get("per_alarm").and_then(|p| p.get(entry_id)))
            .and_then(|p| p.get("error_message"))
            .and_then(Value::as_str)
            .filter(|m| !m.is_empty())
            .map(str::to_owned)
    };
    let alarms: Vec<Value> = records
        .iter()
        .map(|r| {
            let entry_id = r.entry_id();
            let name = entry_id
                .strip_prefix("alarm_")
                .unwrap_or(&entry_id)
                .to_owned();
            let summary = summaries.get(&store::keys::event_entry_id(&entry_id));
            json!({
                "entry_id": entry_id,
                "enabled": r.data.get("enabled").and_then(Value::as_bool).unwrap_or(true),
                "archived": r.archived,
                "detector": r.data.get("detector").and_then(Value::as_str).unwrap_or(&name),
                "active_events": summary.map(|s| s.count).unwrap_or(0),
                "oldest_fire_time": summary.and_then(|s| s.oldest_fire_time),
                "last_notified": summary.and_then(|s| s.last_notified),
                "last_error": last_error(&entry_id),
                "unreadable": r.unreadable,
                "failing_since": streaks.get(&entry_id).map(|s| s.since),
                "consecutive_failures": streaks.get(&entry_id).map_or(0, |s| s.failures),
                "silences": silences
                    .get(&entry_id)
                    .map(|all| {
                        all.iter()
                            .filter(|s| s.is_active(now))
                            .map(|s| json!({
                                "id": s.id,
                                "key_pattern": s.key_pattern,
                                "ends_at": s.ends_at,
                                "created_by": s.created_by,
                                "comment": s.comment,
                                "text": crate::silence::describe(s),
                            }))
                            .collect::<Vec<_>>()
                    })
                    .unwrap_or_default(),
            })
        })
        .collect();
    let tick_rows: Vec<Value> = runs
        .iter()
        .map(|(status, d)| {
            json!({
                "entry_id": d.get("entry_id"),
                "status": status,
                "started_at": d.get("started_at"),
                "finished_at": d.get("finished_at"),
                "alarms_run": d.get("alarms_run"),
                "alarms_seen": d.get("alarms_seen"),
                "notifications_sent": d.get("notifications_sent"),
                "errors": d.get("errors"),
                "error_details": d.get("error_details"),
                "unreadable": d.get("unreadable"),
            })
        })
        .collect();
    if as_json {
        say!(
            "{}",
            serde_json::to_string_pretty(
                &json!({"alarms": alarms, "ticks": tick_rows, "sends": sends})
            )?
        );
        return Ok(ExitCode::SUCCESS);
    }

    say!(
        "{:<32} {:<8} {:>6} {:<11} {:<11}",
        "ALARM",
        "STATE",
        "ACTIVE",
        "OLDEST",
        "NOTIFIED"
    );
    for a in &alarms {
        let state = if a["unreadable"].is_string() {
            "invalid"
        } else if a["archived"] == true {
            "archived"
        } else if a["enabled"] == true {
            "on"
        } else {
            "muted"
        };
        say!(
            "{:<32} {:<8} {:>6} {:<11} {:<11}",
            cut(a["entry_id"].as_str().unwrap_or(""), 31),
            state,
            a["active_events"],
            short_time(a["oldest_fire_time"].as_f64()),
            short_time(a["last_notified"].as_f64()),
        );
        if let Some(problem) = a["unreadable"].as_str() {
            say!("  row: {}", cut(problem, 64));
        }
        if let Some(since) = a["failing_since"].as_f64() {
            say!(
                "  failing since {} UTC, {} tick(s) in a row",
                short_time(Some(since)),
                a["consecutive_failures"]
            );
        }
        for s in a["silences"].as_array().into_iter().flatten() {
            say!("  silenced: {}", cut(s["text"].as_str().unwrap_or(""), 68));
        }
        if let Some(error) = a["last_error"].as_str() {
            say!("  last error: {}", cut(error, 64));
        }
    }
    say!("");
    say!(
        "{:<11} {:<6} {:>5} {:>10} {:>6} {:>6}",
        "TICK (UTC)",
        "STATUS",
        "RUN",
        "DETECTIONS",
        "SENT",
        "ERRORS"
    );
    for t in &tick_rows {
        say!(
            "{:<11} {:<6} {:>5} {:>10} {:>6} {:>6}",
            short_time(t["started_at"].as_f64()),
            t["status"].as_str().unwrap_or(""),
            t["alarms_run"],
            t["alarms_seen"],
            t["notifications_sent"],
            t["errors"],
        );
    }
    if !sends.is_empty() {
        say!("");
        super::sends::print_table(&sends);
    }
    Ok(ExitCode::SUCCESS)
}

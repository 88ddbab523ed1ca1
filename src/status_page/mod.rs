//! The status page (`engine.status_page`, `swf-alarms status --html`):
//! one self-contained HTML file showing the engine's health, every alarm,
//! uptime of probed targets and ops units, and the last ticks.
//!
//! `model` holds the data and the uptime arithmetic, `render` draws it
//! (both pure); this module reads the database and writes the file
//! atomically (a temporary file renamed over the old one), so a web
//! server never serves half a page.

mod model;
mod render;

use std::{
    collections::{BTreeMap, HashMap},
    io::Write as _,
    path::{Path, PathBuf},
    time::Duration,
};

use serde_json::Value;

use crate::{config::Config, silence::Silence, store, time};
use model::{AlarmState, AlarmView, EngineView, EventView, Snapshot, TickView, UptimeRow};

/// The cron interval the engine is run at; the page turns red when the
/// newest tick is older than two of them.
const TICK_INTERVAL_SECONDS: f64 = 300.0;

/// How many recent ticks the page lists.
const TICKS_LISTED: i64 = 20;

const DAY: f64 = 86_400.0;
const WEEK: f64 = 7.0 * DAY;

/// How long gathering the page may take after a tick, whatever the
/// database does.
const GATHER_TIMEOUT: Duration = Duration::from_secs(60);

/// Detectors whose entities are targets or units with an uptime, as the
/// detectors themselves declare (`alarms::ReportsUptime`).
fn has_uptime(detector: &str) -> bool {
    alarms::reports_uptime(detector)
}

/// Writes the page to `path` as of `now` (default: the clock). `note`
/// says what became of the run writing it, when that was not a plain
/// tick. When the database cannot be read, the page still gets written,
/// red, saying why.
pub async fn write(
    config: &Config,
    path: &Path,
    now: Option<f64>,
    note: Option<String>,
) -> std::io::Result<()> {
    let now = now.unwrap_or_else(time::now);
    let started = std::time::Instant::now();
    let gathered = tokio::time::timeout(GATHER_TIMEOUT, gather(config, now)).await;
    let gather_ms = started.elapsed().as_secs_f64() * 1e3;
    let snapshot = match gathered {
        Ok(Ok(mut snapshot)) => {
            snapshot.engine.note = note;
            snapshot
        }
        Ok(Err(error)) => unreadable(now, note, &format!("{error:#}")),
        Err(_) => unreadable(
            now,
            note,
            &format!(
                "reading the database took longer than {} s",
                GATHER_TIMEOUT.as_secs()
            ),
        ),
    };
    let started = std::time::Instant::now();
    let page = render::render(&snapshot);
    let render_ms = started.elapsed().as_secs_f64() * 1e3;
    write_atomically(path, page.as_bytes())?;
    tracing::debug!(
        path = %path.display(),
        gather_ms,
        render_ms,
        bytes = page.len(),
        "Status page written."
    );
    Ok(())
}

fn unreadable(now: f64, note: Option<String>, why: &str) -> Snapshot {
    let note = match note {
        Some(note) => format!("{note}; the database could not be read: {why}"),
        None => format!("the database could not be read: {why}"),
    };
    Snapshot {
        now,
        interval: TICK_INTERVAL_SECONDS,
        engine: EngineView {
            note: Some(note),
            ..EngineView::default()
        },
        alarms: vec![],
        uptime: vec![],
        ticks: vec![],
    }
}

/// Replaces `path` with `bytes` through a temporary file beside it.
fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut tmp = PathBuf::from(path);
    tmp.set_file_name(format!(
        ".{}.{}.tmp",
        path.file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("index.html"),
        std::process::id()
    ));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

async fn gather(config: &Config, now: f64) -> anyhow::Result<Snapshot> {
    use anyhow::Context as _;
    let pool = store::pool(&config.db, 1)?;
    let client = pool
        .get()
        .await
        .with_context(|| format!("connecting to {}", config.db.target()))?;
    let records = store::alarms::list(&client).await?;
    let active = store::status_page::active_events(&client, render::EVENTS_LISTED as i64).await?;
    let streaks = store::health::failing(&client).await?;
    let runs = store::runs::recent(&client, TICKS_LISTED).await?;
    let last_clean_tick = store::status_page::last_clean_tick(&client).await?;
    let sparks = store::status_page::hourly_detections(&client, now - WEEK).await?;
    let silences = silences_now(&client, now).await?;

    let mut alarms = Vec::new();
    let mut uptime_alarms: Vec<(String, String, Value)> = Vec::new();
    for r in records.iter().filter(|r| !r.archived) {
        let entry_id = r.entry_id();
        let name = entry_id.strip_prefix("alarm_").unwrap_or(&entry_id);
        let detector = r
            .data
            .get("detector")
            .and_then(Value::as_str)
            .unwrap_or(name)
            .to_owned();
        let event_entry_id = store::keys::event_entry_id(&entry_id);
        let summary = active.get(&event_entry_id);
        let active_count = summary.map_or(0, |s| usize::try_from(s.count).unwrap_or(0));
        let enabled = r
            .data
            .get("enabled")
            .and_then(Value::as_bool)
            .unwrap_or(true);
        let state = if let Some(why) = &r.unreadable {
            AlarmState::Unreadable(why.clone())
        } else if let Some(streak) = streaks.get(&entry_id) {
            AlarmState::Failing {
                since: streak.since,
                error: streak.last_error.clone(),
            }
        } else if let Some(words) = silences.get(&entry_id) {
            AlarmState::Silenced(words.clone())
        } else if !enabled {
            AlarmState::Disabled
        } else if active_count > 0 {
            AlarmState::Firing(active_count)
        } else {
            AlarmState::Ok
        };
        if has_uptime(&detector) {
            let params = r.data.get("params").cloned().unwrap_or(Value::Null);
            uptime_alarms.push((entry_id.clone(), event_entry_id.clone(), params));
        }
        alarms.push(AlarmView {
            description: r.content.clone(),
            state,
            active_count,
            oldest_fire_time: summary.and_then(|s| s.oldest_fire_time),
            last_notified: summary.and_then(|s| s.last_notified),
            events: summary
                .map(|s| {
                    s.listed
                        .iter()
                        .map(|e| EventView {
                            subject: e.subject.clone(),
                            fire_time: e.fire_time,
                            last_notified: e.last_notified,
                        })
                        .collect()
                })
                .unwrap_or_default(),
            sparkline: sparks.get(&entry_id).cloned().unwrap_or_default(),
            entry_id,
        });
    }

    let event_ids: Vec<String> = uptime_alarms.iter().map(|(_, e, _)| e.clone()).collect();
    let intervals = store::status_page::intervals(&client, &event_ids, now - WEEK).await?;
    let mut uptime = Vec::new();
    for (alarm, event_entry_id, params) in &uptime_alarms {
        let empty = Vec::new();
        let events = intervals.get(event_entry_id).unwrap_or(&empty);
        uptime.extend(uptime_rows(alarm, params, events, now));
    }

    let ticks = ticks(&client, &runs).await?;
    let newest = runs.first().map(|(_, d)| d);
    let engine = EngineView {
        last_tick: newest
            .and_then(|d| d.get("started_at"))
            .and_then(Value::as_f64),
        last_clean_tick,
        errors: newest
            .and_then(|d| d.get("error_details"))
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned(),
        note: None,
    };
    Ok(Snapshot {
        now,
        interval: TICK_INTERVAL_SECONDS,
        engine,
        alarms,
        uptime,
        ticks,
    })
}

/// Per alarm `entry_id`, what silences it at `now`, in words: until
/// when, which events, why and by whom (several silences joined by `; `).
/// A row that cannot be read is left out here, as the tick leaves it out.
async fn silences_now(
    client: &impl deadpool_postgres::GenericClient,
    now: f64,
) -> anyhow::Result<HashMap<String, String>> {
    let mut words: HashMap<String, String> = HashMap::new();
    for row in store::silences::load_current(client, now).await? {
        let Ok(s) = Silence::parse(&row.id, Some(&row.data)) else {
            continue;
        };
        if !s.is_active(now) {
            continue;
        }
        let what = format!(
            "{} until {}: {} ({})",
            s.key_pattern.as_deref().unwrap_or("all events"),
            time::utc_label(s.ends_at),
            s.comment,
            s.created_by
        );
        words
            .entry(s.alarm)
            .and_modify(|w| {
                w.push_str("; ");
                w.push_str(&what);
            })
            .or_insert(what);
    }
    Ok(words)
}

/// One row per target named in `params.targets` (HTTP and TCP probes)
/// and per other entity that had an event in the last week (ops units).
/// An entity's events are matched by dedupe key: the target's name, or
/// any `<prefix>:<name>`.
fn uptime_rows(
    alarm: &str,
    params: &Value,
    events: &[store::status_page::Interval],
    now: f64,
) -> Vec<UptimeRow> {
    let mut by_target: BTreeMap<String, Vec<(f64, Option<f64>)>> = BTreeMap::new();
    let named: Vec<String> = params
        .get("targets")
        .and_then(Value::as_array)
        .map(|targets| {
            targets
                .iter()
                .filter_map(|t| t.get("name").and_then(Value::as_str))
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    for name in &named {
        by_target.entry(name.clone()).or_default();
    }
    for e in events {
        let target = named
            .iter()
            .find(|n| {
                e.dedupe_key == **n
                    || e.dedupe_key
                        .split_once(':')
                        .is_some_and(|(_, rest)| rest == n.as_str())
            })
            .cloned()
            .unwrap_or_else(|| e.dedupe_key.clone());
        by_target
            .entry(target)
            .or_default()
            .push((e.fire_time, e.clear_time));
    }
    by_target
        .into_iter()
        .map(|(target, down)| UptimeRow {
            alarm: alarm.to_owned(),
            down_now: down.iter().any(|(_, clear)| clear.is_none()),
            day: model::up_fraction(&down, now - DAY, now),
            week: model::up_fraction(&down, now - WEEK, now),
            target,
        })
        .collect()
}

/// The recent ticks with their new and cleared events: as the run record
/// says (`events_new`, `events_cleared`), or, for a record written before
/// those keys existed or by a tick that never finished, counted from the
/// events: an event belongs to the newest tick that started at or before
/// its fire (clear) time and had not finished more than a second before it.
async fn ticks(
    client: &impl deadpool_postgres::GenericClient,
    runs: &[(String, Value)],
) -> anyhow::Result<Vec<TickView>> {
    // Each tick, and whether its record carries its own counts.
    let (mut ticks, recorded): (Vec<TickView>, Vec<bool>) = runs
        .iter()
        .filter_map(|(status, d)| {
            let int = |key: &str| d.get(key).and_then(Value::as_i64).unwrap_or(0);
            let counts = d
                .get("events_new")
                .and_then(Value::as_i64)
                .zip(d.get("events_cleared").and_then(Value::as_i64));
            let (new, cleared) = counts.unwrap_or((0, 0));
            let tick = TickView {
                started_at: d.get("started_at").and_then(Value::as_f64)?,
                finished_at: d.get("finished_at").and_then(Value::as_f64),
                status: status.clone(),
                detections: int("alarms_seen"),
                new,
                cleared,
                mails: int("notifications_sent"),
                errors: int("errors"),
            };
            Some((tick, counts.is_some()))
        })
        .unzip();
    let Some(oldest) = ticks
        .iter()
        .zip(&recorded)
        .filter(|(_, recorded)| !**recorded)
        .map(|(t, _)| t.started_at)
        .reduce(f64::min)
    else {
        return Ok(ticks);
    };
    let (fired, cleared) = store::status_page::changes_since(client, oldest).await?;
    let mut new_counts: HashMap<usize, i64> = HashMap::new();
    let mut clear_counts: HashMap<usize, i64> = HashMap::new();
    for (times, counts) in [(&fired, &mut new_counts), (&cleared, &mut clear_counts)] {
        for t in times {
            if let Some(i) = tick_of(&ticks, *t) {
                *counts.entry(i).or_default() += 1;
            }
        }
    }
    for (i, tick) in ticks.iter_mut().enumerate() {
        if !recorded[i] {
            tick.new = new_counts.get(&i).copied().unwrap_or(0);
            tick.cleared = clear_counts.get(&i).copied().unwrap_or(0);
        }
    }
    Ok(ticks)
}

fn tick_of(ticks: &[TickView], t: f64) -> Option<usize> {
    ticks
        .iter()
        .enumerate()
        .filter(|(_, tick)| tick.started_at <= t)
        .max_by(|a, b| a.1.started_at.total_cmp(&b.1.started_at))
        .filter(|(_, tick)| {
            t <= tick
                .finished_at
                .unwrap_or(tick.started_at)
                .max(tick.started_at)
                + 1.0
        })
        .map(|(i, _)| i)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use store::status_page::Interval;

    const NOW: f64 = 1_900_000_000.0;
    const H: f64 = 3600.0;

    #[test]
    fn targets_from_params_and_entities_from_events() {
        let params = json!({"targets": [{"name": "web"}, {"name": "db"}]});
        let events = [
            Interval {
                dedupe_key: "http:web".into(),
                fire_time: NOW - 10.0 * H,
                clear_time: Some(NOW - 8.0 * H),
            },
            Interval {
                dedupe_key: "pdu_1".into(),
                fire_time: NOW - H,
                clear_time: None,
            },
        ];
        let rows = uptime_rows("alarm_x", &params, &events, NOW);
        let by: HashMap<&str, &UptimeRow> = rows.iter().map(|r| (r.target.as_str(), r)).collect();
        assert_eq!(rows.len(), 3);
        assert!((by["web"].day - 22.0 / 24.0).abs() < 1e-9);
        assert!(!by["web"].down_now);
        assert_eq!(by["db"].day, 1.0);
        assert!(by["pdu_1"].down_now);
        assert!((by["pdu_1"].day - 23.0 / 24.0).abs() < 1e-9);
    }

    #[test]
    fn events_belong_to_the_tick_that_made_them() {
        let tick = |s: f64, f: f64| TickView {
            started_at: s,
            finished_at: Some(f),
            status: "done".into(),
            detections: 0,
            new: 0,
            cleared: 0,
            mails: 0,
            errors: 0,
        };
        let ticks = [tick(NOW, NOW + 3.0), tick(NOW - 300.0, NOW - 290.0)];
        assert_eq!(tick_of(&ticks, NOW + 0.5), Some(0));
        assert_eq!(tick_of(&ticks, NOW - 295.0), Some(1));
        assert_eq!(tick_of(&ticks, NOW - 100.0), None);
        assert_eq!(tick_of(&ticks, NOW - 400.0), None);
    }
}

//! Replaying one alarm over recorded history (`swf-alarms replay`).
//!
//! The ops monitor keeps every snapshot in its day files. A replay hands
//! the alarm's detector each recorded snapshot of a window in turn, with
//! the snapshot's own time as the tick's "now", and carries the alarm's
//! event state forward in memory through the tick's own decisions (see
//! [`simulate`]), silences included: when each event would have fired,
//! been mailed, renotified, silenced and cleared, and how many emails
//! that makes per day. It
//! reads the alarm row and its silences from the database, writes
//! nothing, and sends nothing.
//!
//! Which detectors can be replayed follows from what they read: the
//! replay context holds only the recorded snapshot, and a detector that
//! asks it for PanDA, a probe or the database gets
//! [`alarms::DetectError::NoHistory`], which ends the replay with a clear
//! error before any history is read.

mod simulate;

use std::{collections::BTreeMap, path::PathBuf, sync::Arc};

use alarms::{Ctx, DetectError, OpsSnapshots, Snapshot, SourceFuture};
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;

pub use crate::sources::history::{Gap, HistoryError, TornLine};
pub use simulate::{Action, Email, Failure, Step};

use crate::{
    alarm::Alarm,
    config::Config,
    error_chain,
    silence::Silence,
    sources::history,
    store::{self, StoreError},
    tick::{detect_in, AlarmError},
};
use simulate::{Failed, Simulation};

/// What to replay.
#[derive(Debug, Clone)]
pub struct ReplayRequest {
    /// The alarm's `entry_id`.
    pub alarm: String,
    /// Start of the window, Unix seconds (inclusive).
    pub from: f64,
    /// End of the window, Unix seconds (inclusive).
    pub to: f64,
    /// Params to try instead of the stored ones.
    pub params: Option<Value>,
    /// Where the day files are; else the params' `snapshot_dir`, else
    /// `engine.ops_snapshot_dir`.
    pub snapshot_dir: Option<PathBuf>,
}

/// What the replay found; `--json` prints it as it stands.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReplayReport {
    pub alarm: String,
    pub detector: String,
    /// The params replayed.
    pub params: Value,
    /// Whether the alarm row is enabled (the replay mails either way).
    pub enabled: bool,
    pub from: f64,
    pub to: f64,
    pub snapshot_dir: String,
    /// Records replayed.
    pub snapshots: usize,
    pub first_snapshot: Option<f64>,
    pub last_snapshot: Option<f64>,
    /// Lines of the day files that are not complete records, skipped.
    pub torn_lines: Vec<TornLine>,
    /// Stretches of the window without records.
    pub gaps: Vec<Gap>,
    /// Every fire, mail, renotification, clear and recovery notice.
    pub timeline: Vec<Step>,
    /// Every email the alarm would have sent.
    pub emails: Vec<Email>,
    /// Emails per UTC day, `YYYY-MM-DD`.
    pub emails_per_day: BTreeMap<String, usize>,
    /// Snapshots on which the detector failed (nothing cleared there).
    pub detector_failures: Vec<Failure>,
    /// Dedupe keys still active after the last snapshot.
    pub still_active: Vec<String>,
}

/// Why a replay could not be done; nothing was written either way.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    /// The window is backwards.
    #[error("--to ({to}) is before --from ({from})")]
    Window { from: String, to: String },
    /// No live alarm row has this `entry_id`.
    #[error("no alarm with data.entry_id = {0:?} (see `swf-alarms alarm list`)")]
    NoAlarm(String),
    /// The alarm row is not valid.
    #[error("{alarm}: {reason}")]
    BadRow { alarm: String, reason: String },
    /// The alarm names no registered detector.
    #[error("{alarm}: no detector named {detector:?} (see `swf-alarms detectors`)")]
    UnknownDetector { alarm: String, detector: String },
    /// The params fail the detector's schema.
    #[error("{alarm}: params do not fit detector {detector}: {message}")]
    BadParams {
        alarm: String,
        detector: String,
        message: String,
    },
    /// The detector reads a source that keeps no history.
    #[error(
        "{alarm}: detector {detector} cannot be replayed: {source}; \
         only detectors that read ops-monitor snapshots have a history"
    )]
    NoHistory {
        alarm: String,
        detector: String,
        source: DetectError,
    },
    /// Nowhere to read history from.
    #[error(
        "{0}: no snapshot directory: pass --snapshot-dir, or set params.snapshot_dir \
         or engine.ops_snapshot_dir"
    )]
    NoDirectory(String),
    /// The window holds no record.
    #[error("no snapshots in {dir} between {from} and {to}")]
    Empty {
        dir: String,
        from: String,
        to: String,
    },
    /// The day files could not be read.
    #[error("reading the snapshot history")]
    History(#[source] HistoryError),
    /// The alarm row could not be read.
    #[error("reading the alarm row")]
    Store(#[source] StoreError),
}

/// `YYYY-MM-DD HH:MM:SS UTC`.
pub fn utc(unix: f64) -> String {
    DateTime::<Utc>::from_timestamp(unix.floor() as i64, 0)
        .map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string())
        .unwrap_or_else(|| format!("{unix}"))
}

/// Replays `request.alarm` over the day files in the window.
pub async fn replay(config: &Config, request: &ReplayRequest) -> Result<ReplayReport, ReplayError> {
    if request.to < request.from || request.from.is_nan() || request.to.is_nan() {
        return Err(ReplayError::Window {
            from: utc(request.from),
            to: utc(request.to),
        });
    }
    let (alarm, silences) = load_alarm(config, request).await?;
    let entry_id = alarm.entry_id.clone();
    let registration =
        alarms::find(&alarm.detector).ok_or_else(|| ReplayError::UnknownDetector {
            alarm: entry_id.clone(),
            detector: alarm.detector.clone(),
        })?;
    (registration.validate)(alarm.params.clone()).map_err(|e| ReplayError::BadParams {
        alarm: entry_id.clone(),
        detector: alarm.detector.clone(),
        message: match e {
            DetectError::InvalidParams(message) => message,
            other => other.to_string(),
        },
    })?;
    let timeout = config.engine.alarm_timeout;
    let no_history = |source| ReplayError::NoHistory {
        alarm: entry_id.clone(),
        detector: alarm.detector.clone(),
        source,
    };
    // A run with no snapshot at all tells a detector without history
    // apart before any file is read.
    let probe = Ctx::replay(request.from, &entry_id, Arc::new(Recorded(None)));
    if let Err(AlarmError::Detect {
        source: source @ DetectError::NoHistory(_),
        ..
    }) = detect_in(probe, &alarm, timeout).await
    {
        return Err(no_history(source));
    }

    let dir = request
        .snapshot_dir
        .clone()
        .or_else(|| {
            alarm
                .params
                .get("snapshot_dir")
                .and_then(Value::as_str)
                .map(PathBuf::from)
        })
        .or_else(|| config.engine.ops_snapshot_dir.clone())
        .ok_or_else(|| ReplayError::NoDirectory(entry_id.clone()))?;
    let files = history::day_files(&dir, request.from, request.to).map_err(ReplayError::History)?;

    let mut sim = Simulation::new(&alarm, silences);
    let mut times = Vec::new();
    let mut torn = Vec::new();
    let (from, to, max_bytes) = (request.from, request.to, config.engine.max_read_bytes);
    // The next day is read while this one is replayed.
    let read = |file: PathBuf| {
        tokio::task::spawn_blocking(move || history::read_day(&file, from, to, max_bytes))
    };
    let mut files = files.into_iter();
    let mut next = files.next().map(read);
    while let Some(pending) = next.take() {
        let day = pending
            .await
            .map_err(|e| {
                ReplayError::History(HistoryError::Read {
                    file: dir.display().to_string(),
                    source: std::io::Error::other(e.to_string()),
                })
            })?
            .map_err(ReplayError::History)?;
        next = files.next().map(read);
        torn.extend(day.torn);
        for snapshot in day.snapshots {
            let now = snapshot.time;
            // Records of one instant in two files (a day boundary) count once.
            if times.last().is_some_and(|t| *t >= now) {
                continue;
            }
            times.push(now);
            let ctx = Ctx::replay(now, &entry_id, Arc::new(Recorded(Some(Arc::new(snapshot)))));
            let result = match detect_in(ctx, &alarm, timeout).await {
                Ok(detections) => Ok(detections),
                Err(AlarmError::Detect {
                    source: source @ DetectError::NoHistory(_),
                    ..
                }) => return Err(no_history(source)),
                Err(AlarmError::Detect { source, .. }) => Err(Failed {
                    error: error_chain(&source, ": "),
                    firing: match source {
                        DetectError::Partial { detections, .. } => detections,
                        _ => Vec::new(),
                    },
                }),
                Err(other) => Err(Failed {
                    error: error_chain(&other, ": "),
                    firing: Vec::new(),
                }),
            };
            sim.tick(now, result);
        }
    }
    if times.is_empty() {
        return Err(ReplayError::Empty {
            dir: dir.display().to_string(),
            from: utc(request.from),
            to: utc(request.to),
        });
    }
    Ok(ReplayReport {
        alarm: entry_id,
        detector: alarm.detector.clone(),
        params: alarm.params.clone(),
        enabled: alarm.enabled,
        from: request.from,
        to: request.to,
        snapshot_dir: dir.display().to_string(),
        snapshots: times.len(),
        first_snapshot: times.first().copied(),
        last_snapshot: times.last().copied(),
        torn_lines: torn,
        gaps: history::gaps(&times),
        emails_per_day: sim.emails_per_day(),
        still_active: sim.still_active(),
        timeline: sim.steps,
        emails: sim.emails,
        detector_failures: sim.failures,
    })
}

/// The alarm row, read (never written), with `--params` applied, and the
/// silences of that alarm (past, present and future; not archived).
async fn load_alarm(
    config: &Config,
    request: &ReplayRequest,
) -> Result<(Alarm, Vec<Silence>), ReplayError> {
    let pool = store::pool(&config.db, 1).map_err(ReplayError::Store)?;
    let client = pool
        .get()
        .await
        .map_err(|e| ReplayError::Store(StoreError::from(e)))?;
    let record = store::alarms::find(&client, &request.alarm)
        .await
        .map_err(ReplayError::Store)?
        .ok_or_else(|| ReplayError::NoAlarm(request.alarm.clone()))?;
    let mut alarm = Alarm::parse(&record.row()).map_err(|reason| ReplayError::BadRow {
        alarm: request.alarm.clone(),
        reason,
    })?;
    if let Some(params) = &request.params {
        alarm.params = params.clone();
    }
    let silences = store::silences::list(&client)
        .await
        .map_err(ReplayError::Store)?
        .into_iter()
        .filter(|row| !row.archived)
        .filter_map(|row| Silence::parse(&row.id, Some(&row.data)).ok())
        .filter(|s| s.alarm == alarm.entry_id)
        .collect();
    Ok((alarm, silences))
}

/// The replay's snapshot source: the one recorded snapshot of this step,
/// whatever directory the detector names.
struct Recorded(Option<Arc<Snapshot>>);

impl OpsSnapshots for Recorded {
    fn latest<'a>(&'a self, _dir: Option<&'a str>) -> SourceFuture<'a, Option<Arc<Snapshot>>> {
        let snapshot = self.0.clone();
        Box::pin(async move { Ok(snapshot) })
    }
}

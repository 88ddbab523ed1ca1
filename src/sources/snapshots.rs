//! Reading the ops monitor's snapshots: daily `ops_monitor_YYYYMMDD.jsonl`
//! files (one JSON object per line, appended every five minutes) and/or a
//! pretty-printed `latest.json`.
//!
//! The current state is the newest *complete* record: the collector may be
//! mid-write, so a last line that does not parse is skipped (and a day
//! file holding nothing complete yet falls back to the day before). Each
//! directory is read once per tick, however many alarms look at it.

use std::{
    io::{Read, Seek, SeekFrom},
    path::{Path, PathBuf},
    sync::Arc,
};

use alarms::{DetectError, OpsSnapshots, Snapshot, SourceFuture};
use serde_json::{Map, Value};

use super::once::PerTick;

/// Bytes read from the end of a day file: comfortably more than one
/// record (about 25 KB) without reading a whole day (about 7 MB).
const TAIL_BYTES: u64 = 1 << 20;

/// The tick's snapshot reader.
pub(crate) struct SnapshotReader {
    default_dir: Option<PathBuf>,
    cache: PerTick<Result<Option<Arc<Snapshot>>, DetectError>>,
}

impl SnapshotReader {
    pub(crate) fn new(default_dir: Option<PathBuf>) -> Self {
        SnapshotReader {
            default_dir,
            cache: PerTick::new(),
        }
    }
}

impl OpsSnapshots for SnapshotReader {
    fn latest<'a>(&'a self, dir: Option<&'a str>) -> SourceFuture<'a, Option<Arc<Snapshot>>> {
        Box::pin(async move {
            let dir =
                match dir.map(PathBuf::from).or_else(|| self.default_dir.clone()) {
                    Some(dir) => dir,
                    None => return Err(DetectError::InvalidParams(
                        "no snapshot directory: set params.snapshot_dir or engine.ops_snapshot_dir"
                            .into(),
                    )),
                };
            let key = dir.display().to_string();
            self.cache
                .get_or_fetch(key, || async move {
                    let shown = dir.display().to_string();
                    tokio::task::spawn_blocking(move || newest(&dir))
                        .await
                        .map_err(|e| DetectError::Upstream {
                            source_name: shown.clone(),
                            message: format!("reading snapshots failed: {e}"),
                        })?
                        .map(|s| s.map(Arc::new))
                })
                .await
        })
    }
}

/// The newest complete snapshot of a directory.
fn newest(dir: &Path) -> Result<Option<Snapshot>, DetectError> {
    let failed = |message: String| DetectError::Upstream {
        source_name: dir.display().to_string(),
        message,
    };
    let entries =
        std::fs::read_dir(dir).map_err(|e| failed(format!("cannot list the directory: {e}")))?;
    let mut day_files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("ops_monitor_") && n.ends_with(".jsonl"))
        })
        .collect();
    day_files.sort();

    let mut best: Option<Snapshot> = None;
    for file in day_files.iter().rev() {
        if let Some(found) =
            last_complete_line(file).map_err(|e| failed(format!("{}: {e}", file.display())))?
        {
            best = Some(found);
            break;
        }
    }
    let latest = dir.join("latest.json");
    if latest.exists() {
        // A half-written latest.json is as good as absent.
        if let Ok(Some(snapshot)) = std::fs::read(&latest).map(|bytes| parse(&bytes, &latest)) {
            if best.as_ref().is_none_or(|b| snapshot.time > b.time) {
                best = Some(snapshot);
            }
        }
    }
    Ok(best)
}

/// The last line of a day file that is a complete record.
fn last_complete_line(file: &Path) -> std::io::Result<Option<Snapshot>> {
    let mut f = std::fs::File::open(file)?;
    let len = f.metadata()?.len();
    let start = len.saturating_sub(TAIL_BYTES);
    f.seek(SeekFrom::Start(start))?;
    let mut tail = Vec::with_capacity((len - start) as usize);
    f.read_to_end(&mut tail)?;
    let mut lines: Vec<&[u8]> = tail.split(|b| *b == b'\n').collect();
    if start > 0 && !lines.is_empty() {
        // The first piece is the end of a line cut by the seek.
        lines.remove(0);
    }
    Ok(lines.iter().rev().find_map(|line| parse(line, file)))
}

/// One record, if `bytes` is a complete one with a readable time.
fn parse(bytes: &[u8], file: &Path) -> Option<Snapshot> {
    let text = std::str::from_utf8(bytes).ok()?.trim();
    if text.is_empty() {
        return None;
    }
    let record: Map<String, Value> = serde_json::from_str(text).ok()?;
    let time = record
        .get("time_utc")
        .and_then(Value::as_str)
        .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.timestamp() as f64 + f64::from(t.timestamp_subsec_micros()) / 1e6)
        .or_else(|| record.get("snapshot_epoch").and_then(Value::as_f64))?;
    Some(Snapshot {
        time,
        record,
        file: file.display().to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("swf-snap-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).expect("dir");
        d
    }

    #[test]
    fn torn_last_line_and_empty_new_day_fall_back() {
        let d = dir("torn");
        let a = r#"{"time_utc": "2026-08-21T14:16:02+00:00", "x": 1.0}"#;
        let b = r#"{"time_utc": "2026-08-21T14:21:02+00:00", "x": 2.0}"#;
        std::fs::write(
            d.join("ops_monitor_20260821.jsonl"),
            format!("{a}\n{b}\n{{\"time_utc\": \"2026-08-2"),
        )
        .expect("w");
        std::fs::write(d.join("ops_monitor_20260822.jsonl"), "{\"time_utc\": ").expect("w");
        let s = newest(&d).expect("reads").expect("a snapshot");
        assert_eq!(s.record["x"], 2.0);
        assert!(s.file.ends_with("ops_monitor_20260821.jsonl"));
        let _ = std::fs::remove_dir_all(d);
    }

    #[test]
    fn empty_directory_has_no_snapshot_and_a_missing_one_is_an_error() {
        let d = dir("empty");
        assert_eq!(newest(&d).expect("reads"), None);
        assert!(newest(&d.join("nope")).is_err());
        let _ = std::fs::remove_dir_all(d);
    }
}

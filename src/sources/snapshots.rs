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
    max_bytes: usize,
    cache: PerTick<Result<Option<Arc<Snapshot>>, DetectError>>,
}

impl SnapshotReader {
    /// `max_bytes`: the most one file (`latest.json`, or what is read of
    /// a day file's tail) may hold.
    pub(crate) fn new(default_dir: Option<PathBuf>, max_bytes: usize) -> Self {
        SnapshotReader {
            default_dir,
            max_bytes,
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
                    let max_bytes = self.max_bytes;
                    tokio::task::spawn_blocking(move || newest(&dir, max_bytes))
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

/// The newest complete snapshot of a directory. Only regular files are
/// read (a named pipe would block the reading thread for ever, a link to
/// `/dev/zero` would fill memory), and each read stops at `max_bytes`.
fn newest(dir: &Path, max_bytes: usize) -> Result<Option<Snapshot>, DetectError> {
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
        if let Some(found) = last_complete_line(file, max_bytes)
            .map_err(|e| failed(format!("{}: {e}", file.display())))?
        {
            best = Some(found);
            break;
        }
    }
    let latest = dir.join("latest.json");
    if latest.exists() {
        let bytes = read_regular(&latest, 0, max_bytes)
            .map_err(|e| failed(format!("{}: {e}", latest.display())))?;
        // A half-written latest.json is as good as absent.
        if let Some(snapshot) = parse(&bytes, &latest) {
            if best.as_ref().is_none_or(|b| snapshot.time > b.time) {
                best = Some(snapshot);
            }
        }
    }
    Ok(best)
}

/// Opens `file` only if it is a regular file (links followed), then reads
/// from `from_end` bytes before its end (0: all of it), at most `max`.
pub(super) fn read_regular(file: &Path, from_end: u64, max: usize) -> std::io::Result<Vec<u8>> {
    use std::io::{Error, ErrorKind};
    let not_regular = || {
        Error::new(
            ErrorKind::InvalidInput,
            "not a regular file (a pipe, device or directory); not read",
        )
    };
    // Checked before opening: opening a named pipe blocks until a writer
    // comes. The type is checked again on the open file, against a swap.
    if !std::fs::metadata(file)?.is_file() {
        return Err(not_regular());
    }
    let mut f = std::fs::File::open(file)?;
    let len = f.metadata()?.len();
    if !f.metadata()?.is_file() {
        return Err(not_regular());
    }
    let start = if from_end == 0 {
        0
    } else {
        len.saturating_sub(from_end)
    };
    if len - start > max as u64 {
        return Err(Error::new(
            ErrorKind::InvalidData,
            format!("{len} bytes, more than engine.max_read_mib allows ({max} bytes); not read"),
        ));
    }
    f.seek(SeekFrom::Start(start))?;
    let mut bytes = Vec::with_capacity((len - start) as usize);
    // The file may grow while it is read: never past the cap.
    f.take(max as u64 + 1).read_to_end(&mut bytes)?;
    if bytes.len() > max {
        return Err(Error::new(
            ErrorKind::InvalidData,
            format!("grew past engine.max_read_mib ({max} bytes) while being read"),
        ));
    }
    Ok(bytes)
}

/// The last line of a day file that is a complete record.
fn last_complete_line(file: &Path, max_bytes: usize) -> std::io::Result<Option<Snapshot>> {
    let tail = read_regular(file, TAIL_BYTES.min(max_bytes as u64), max_bytes)?;
    let len = std::fs::metadata(file)?.len();
    let mut lines: Vec<&[u8]> = tail.split(|b| *b == b'\n').collect();
    if (tail.len() as u64) < len && !lines.is_empty() {
        // The first piece is the end of a line cut by the seek.
        lines.remove(0);
    }
    Ok(lines.iter().rev().find_map(|line| parse(line, file)))
}

/// One record, if `bytes` is a complete one with a readable time.
pub(super) fn parse(bytes: &[u8], file: &Path) -> Option<Snapshot> {
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
        let s = newest(&d, 1 << 20).expect("reads").expect("a snapshot");
        assert_eq!(s.record["x"], 2.0);
        assert!(s.file.ends_with("ops_monitor_20260821.jsonl"));
        let _ = std::fs::remove_dir_all(d);
    }

    #[test]
    fn empty_directory_has_no_snapshot_and_a_missing_one_is_an_error() {
        let d = dir("empty");
        assert_eq!(newest(&d, 1 << 20).expect("reads"), None);
        assert!(newest(&d.join("nope"), 1 << 20).is_err());
        let _ = std::fs::remove_dir_all(d);
    }
}

//! The ops monitor's history, for a replay: every record of the day files
//! (`ops_monitor_YYYYMMDD.jsonl`) that falls in a window, one day at a
//! time so that a month of history never sits in memory at once.
//!
//! A line that is not a complete record (the collector was killed
//! mid-write) is skipped and reported with its place; `latest.json` is
//! not history and is not read.

use std::path::{Path, PathBuf};

use alarms::Snapshot;
use chrono::{DateTime, Days, NaiveDate, Utc};

use super::snapshots::{parse, read_regular};

/// Why the history could not be read.
#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    /// The directory could not be listed.
    #[error("cannot list the snapshot directory {dir}")]
    List {
        /// The directory.
        dir: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A day file could not be read.
    #[error("cannot read {file}")]
    Read {
        /// The file.
        file: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// A line of a day file that is not a complete record.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct TornLine {
    /// The day file.
    pub file: String,
    /// Its line number, from 1.
    pub line: usize,
}

/// The records of one day file inside the window, in time order.
#[derive(Debug, Default)]
pub(crate) struct DayRecords {
    pub snapshots: Vec<Snapshot>,
    pub torn: Vec<TornLine>,
}

/// The day files of `dir` that may hold records between `from` and `to`
/// (Unix seconds), oldest first. A day either side is included: a
/// collector writes the first record after midnight into the old file.
pub(crate) fn day_files(dir: &Path, from: f64, to: f64) -> Result<Vec<PathBuf>, HistoryError> {
    let date =
        |t: f64| DateTime::<Utc>::from_timestamp(t.floor() as i64, 0).map(|d| d.date_naive());
    let first = date(from).and_then(|d| d.checked_sub_days(Days::new(1)));
    let last = date(to).and_then(|d| d.checked_add_days(Days::new(1)));
    let entries = std::fs::read_dir(dir).map_err(|source| HistoryError::List {
        dir: dir.display().to_string(),
        source,
    })?;
    let mut files: Vec<(NaiveDate, PathBuf)> = entries
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let path = e.path();
            let name = path.file_name()?.to_str()?;
            let day = name.strip_prefix("ops_monitor_")?.strip_suffix(".jsonl")?;
            let day = NaiveDate::parse_from_str(day, "%Y%m%d").ok()?;
            let inside = first.is_none_or(|f| day >= f) && last.is_none_or(|l| day <= l);
            inside.then_some((day, path))
        })
        .collect();
    files.sort();
    Ok(files.into_iter().map(|(_, path)| path).collect())
}

/// Every complete record of `file` with `from <= time <= to`, sorted by
/// time (stable: two records of one instant keep their file order), and
/// the lines that are not records. At most `max_bytes` are read.
pub(crate) fn read_day(
    file: &Path,
    from: f64,
    to: f64,
    max_bytes: usize,
) -> Result<DayRecords, HistoryError> {
    let bytes = read_regular(file, 0, max_bytes).map_err(|source| HistoryError::Read {
        file: file.display().to_string(),
        source,
    })?;
    let mut day = DayRecords::default();
    for (index, line) in bytes.split(|b| *b == b'\n').enumerate() {
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        match parse(line, file) {
            Some(snapshot) if snapshot.time >= from && snapshot.time <= to => {
                day.snapshots.push(snapshot)
            }
            Some(_) => {}
            None => day.torn.push(TornLine {
                file: file.display().to_string(),
                line: index + 1,
            }),
        }
    }
    day.snapshots.sort_by(|a, b| a.time.total_cmp(&b.time));
    Ok(day)
}

/// A stretch of the window with no record.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Gap {
    /// The last record before it (Unix seconds).
    pub after: f64,
    /// The first record after it.
    pub before: f64,
}

/// The gaps in a sorted series of record times: intervals longer than
/// twice the usual one (the median), so that a collector's normal jitter
/// is not a gap and an hour without records is.
pub(crate) fn gaps(times: &[f64]) -> Vec<Gap> {
    let mut steps: Vec<f64> = times.windows(2).map(|w| w[1] - w[0]).collect();
    if steps.is_empty() {
        return Vec::new();
    }
    steps.sort_by(f64::total_cmp);
    let usual = steps[steps.len() / 2];
    if usual <= 0.0 {
        return Vec::new();
    }
    times
        .windows(2)
        .filter(|w| w[1] - w[0] > 2.0 * usual)
        .map(|w| Gap {
            after: w[0],
            before: w[1],
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("swf-hist-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).expect("dir");
        d
    }

    fn rec(time: &str, x: i64) -> String {
        format!(r#"{{"time_utc": "{time}", "x": {x}}}"#)
    }

    #[test]
    fn records_in_the_window_in_time_order_and_torn_lines_reported() {
        let d = dir("window");
        let text = [
            rec("2026-08-21T10:05:00+00:00", 2),
            rec("2026-08-21T10:00:00+00:00", 1),
            r#"{"time_utc": "2026-08-21T10:1"#.to_owned(),
            rec("2026-08-21T10:15:00+00:00", 3),
            rec("2026-08-21T12:00:00+00:00", 4),
        ]
        .join("\n");
        let file = d.join("ops_monitor_20260821.jsonl");
        std::fs::write(&file, text).expect("w");
        std::fs::write(d.join("ops_monitor_20260801.jsonl"), "").expect("w");
        std::fs::write(d.join("notes.txt"), "").expect("w");
        let from = 1_787_306_400.0; // 2026-08-21T10:00:00Z
        let files = day_files(&d, from, from + 3600.0).expect("lists");
        assert_eq!(files, vec![file.clone()]);
        let day = read_day(&file, from, from + 3600.0, 1 << 20).expect("reads");
        let xs: Vec<i64> = day
            .snapshots
            .iter()
            .map(|s| s.record["x"].as_i64().expect("x"))
            .collect();
        assert_eq!(xs, [1, 2, 3], "sorted, 12:00 outside the window");
        assert_eq!(day.torn.len(), 1);
        assert_eq!(day.torn[0].line, 3);
        let _ = std::fs::remove_dir_all(d);
    }

    #[test]
    fn a_missing_directory_is_an_error() {
        let d = dir("missing").join("nope");
        assert!(matches!(
            day_files(&d, 0.0, 1.0),
            Err(HistoryError::List { .. })
        ));
    }

    #[test]
    fn gaps_are_intervals_well_past_the_usual_one() {
        let mut times: Vec<f64> = (0..10).map(|i| f64::from(i) * 300.0 + 7.0).collect();
        times.extend((0..5).map(|i| 6000.0 + f64::from(i) * 300.0));
        let found = gaps(&times);
        assert_eq!(
            found,
            vec![Gap {
                after: 2707.0,
                before: 6000.0
            }]
        );
        assert!(gaps(&[1.0]).is_empty());
        assert!(gaps(&[0.0, 300.0, 610.0, 900.0]).is_empty());
    }
}

//! What the status page shows, as plain data, and the uptime arithmetic.
//! Built by `gather` from the database (or by tests by hand), drawn by
//! `render`.

/// Everything one page shows, as of `now`.
#[derive(Debug, Clone)]
pub(crate) struct Snapshot {
    /// When the page is written (Unix seconds).
    pub now: f64,
    /// The tick interval in seconds; the page turns red after two.
    pub interval: f64,
    pub engine: EngineView,
    pub alarms: Vec<AlarmView>,
    pub uptime: Vec<UptimeRow>,
    /// Newest first.
    pub ticks: Vec<TickView>,
}

/// The engine's own state.
#[derive(Debug, Clone, Default)]
pub(crate) struct EngineView {
    /// Start of the newest recorded tick.
    pub last_tick: Option<f64>,
    /// Start of the newest tick that finished with no alarm failing.
    pub last_clean_tick: Option<f64>,
    /// The newest tick's `error_details`.
    pub errors: String,
    /// What became of the run writing the page, when it is not a plain
    /// tick (locked out, failed, database unreachable).
    pub note: Option<String>,
}

/// One alarm's row.
#[derive(Debug, Clone)]
pub(crate) struct AlarmView {
    pub entry_id: String,
    /// The alarm's description (`content`).
    pub description: String,
    pub state: AlarmState,
    /// All active events, listed or not.
    pub active_count: usize,
    pub oldest_fire_time: Option<f64>,
    pub last_notified: Option<f64>,
    /// Active events, oldest first; at most the listed number.
    pub events: Vec<EventView>,
    /// (time, detections) over the last week, oldest first.
    pub sparkline: Vec<(f64, f64)>,
}

/// What one alarm is doing, most pressing first.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum AlarmState {
    /// The row cannot be read; the alarm fails every tick.
    Unreadable(String),
    /// Its detector fails (streak start, last error).
    Failing {
        since: f64,
        error: String,
    },
    /// Email held back by a silence (what silences it, in words).
    Silenced(String),
    /// Email off (`enabled = false`).
    Disabled,
    /// This many active events.
    Firing(usize),
    Ok,
}

/// One active event.
#[derive(Debug, Clone)]
pub(crate) struct EventView {
    pub subject: String,
    pub fire_time: f64,
    pub last_notified: Option<f64>,
}

/// One tick of the recent ones.
#[derive(Debug, Clone)]
pub(crate) struct TickView {
    pub started_at: f64,
    pub finished_at: Option<f64>,
    pub status: String,
    pub detections: i64,
    pub new: i64,
    pub cleared: i64,
    pub mails: i64,
    pub errors: i64,
}

/// Uptime of one probed target or ops unit.
#[derive(Debug, Clone)]
pub(crate) struct UptimeRow {
    pub alarm: String,
    pub target: String,
    /// An event for it is active now.
    pub down_now: bool,
    /// Fraction of the last 24 hours it had no active event.
    pub day: f64,
    /// Fraction of the last 7 days it had no active event.
    pub week: f64,
}

/// The fraction of `[from, to]` covered by none of the `down`
/// intervals (fire time, clear time; `None` = still active). Overlapping
/// intervals count once; intervals are clipped to the window. An empty
/// or inverted window is fully up.
pub(crate) fn up_fraction(down: &[(f64, Option<f64>)], from: f64, to: f64) -> f64 {
    if to.partial_cmp(&from) != Some(std::cmp::Ordering::Greater) {
        return 1.0;
    }
    let mut spans: Vec<(f64, f64)> = down
        .iter()
        .filter(|(start, _)| start.is_finite())
        .map(|&(start, end)| {
            let end = end.filter(|e| e.is_finite()).unwrap_or(to);
            (start.max(from), end.min(to))
        })
        .filter(|(s, e)| e > s)
        .collect();
    spans.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut covered = 0.0;
    let mut current: Option<(f64, f64)> = None;
    for (s, e) in spans {
        current = match current {
            Some((cs, ce)) if s <= ce => Some((cs, ce.max(e))),
            Some((cs, ce)) => {
                covered += ce - cs;
                Some((s, e))
            }
            None => Some((s, e)),
        };
    }
    if let Some((cs, ce)) = current {
        covered += ce - cs;
    }
    (1.0 - covered / (to - from)).clamp(0.0, 1.0)
}

#[cfg(test)]
mod tests {
    use super::up_fraction;

    const H: f64 = 3600.0;
    const NOW: f64 = 1_900_000_000.0;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    #[test]
    fn two_hours_down_of_the_last_day() {
        let down = [(NOW - 10.0 * H, Some(NOW - 8.0 * H))];
        assert!(close(up_fraction(&down, NOW - 24.0 * H, NOW), 22.0 / 24.0));
        assert!(close(
            up_fraction(&down, NOW - 168.0 * H, NOW),
            166.0 / 168.0
        ));
    }

    #[test]
    fn overlapping_and_repeated_intervals_count_once() {
        let down = [
            (NOW - 10.0 * H, Some(NOW - 8.0 * H)),
            (NOW - 9.0 * H, Some(NOW - 7.0 * H)),
            (NOW - 9.5 * H, Some(NOW - 9.0 * H)),
            (NOW - 3.0 * H, Some(NOW - 2.0 * H)),
        ];
        assert!(close(up_fraction(&down, NOW - 24.0 * H, NOW), 20.0 / 24.0));
    }

    #[test]
    fn intervals_are_clipped_to_the_window_and_open_ones_run_to_its_end() {
        // Down from two days ago until 23 hours ago: 1 h of the last day.
        let down = [(NOW - 48.0 * H, Some(NOW - 23.0 * H)), (NOW - H, None)];
        assert!(close(up_fraction(&down, NOW - 24.0 * H, NOW), 22.0 / 24.0));
        // Still down since the start of the window: 0 %.
        assert!(close(
            up_fraction(&[(NOW - 30.0 * H, None)], NOW - 24.0 * H, NOW),
            0.0
        ));
    }

    #[test]
    fn nothing_down_is_fully_up_and_odd_input_does_not_panic() {
        assert!(close(up_fraction(&[], NOW - H, NOW), 1.0));
        assert!(close(up_fraction(&[(NOW, Some(NOW))], NOW - H, NOW), 1.0));
        assert!(close(
            up_fraction(&[(NOW - 0.5 * H, Some(NOW - H))], NOW - H, NOW),
            1.0
        ));
        assert!(close(
            up_fraction(
                &[(f64::NAN, None), (NOW - 0.5 * H, Some(f64::NAN))],
                NOW - H,
                NOW
            ),
            0.5
        ));
        assert!(close(up_fraction(&[(NOW - H, None)], NOW, NOW), 1.0));
    }
}

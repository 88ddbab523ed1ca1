//! Silences: "do not mail about X until T", without touching the alarm.
//!
//! A silence is a `kind='silence'` row in context `swf-alarms`; its fields
//! live in `data` (see [`Silence`]). While one is active, the events it
//! matches are still created, touched and cleared as usual — the dashboard
//! stays truthful — but [`apply`] takes them out of the alarm's email. An
//! event a silence holds out before it was ever mailed is stamped
//! `silenced_at`, so that once the silence is over reconcile mails it as a
//! new notice.
//!
//! Pure: no clock, no I/O; the rows are read and written by `store::silences`.

use std::collections::HashMap;

use serde_json::{json, Map, Value};

use crate::reconcile::{BundleItem, Plan, Reason};

/// `data` keys of a silence row.
pub(crate) mod keys {
    /// The silenced alarm's `entry_id` (`alarm_<name>`).
    pub const ALARM: &str = "alarm";
    /// A glob (`*`, `?`) over dedupe keys; absent or null = every event.
    pub const KEY_PATTERN: &str = "key_pattern";
    pub const STARTS_AT: &str = "starts_at";
    pub const ENDS_AT: &str = "ends_at";
    pub const COMMENT: &str = "comment";
    pub const CREATED_BY: &str = "created_by";
    /// Set by `silence expire`: who ended it early, and when.
    pub const EXPIRED_BY: &str = "expired_by";
    pub const EXPIRED_AT: &str = "expired_at";
}

/// An event's `data` key: when a silence last kept it out of an email
/// while it had never been mailed.
pub(crate) const SILENCED_AT: &str = "silenced_at";

/// One silence, validated.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Silence {
    /// The row's id.
    pub id: String,
    /// The alarm's `entry_id`.
    pub alarm: String,
    /// Glob over dedupe keys; `None` silences every event of the alarm.
    pub key_pattern: Option<String>,
    /// Unix seconds.
    pub starts_at: f64,
    /// Unix seconds; the silence is over from this instant on.
    pub ends_at: f64,
    pub comment: String,
    pub created_by: String,
}

impl Silence {
    /// Whether it silences anything at `now`.
    pub fn is_active(&self, now: f64) -> bool {
        self.starts_at <= now && now < self.ends_at
    }

    /// Whether it covers this alarm's event with this dedupe key.
    pub fn matches(&self, alarm: &str, dedupe_key: &str) -> bool {
        self.alarm == alarm
            && self
                .key_pattern
                .as_deref()
                .is_none_or(|p| glob_match(p, dedupe_key))
    }

    /// Its row's `data`.
    pub fn data(&self) -> Value {
        json!({
            keys::ALARM: self.alarm,
            keys::KEY_PATTERN: self.key_pattern,
            keys::STARTS_AT: self.starts_at,
            keys::ENDS_AT: self.ends_at,
            keys::COMMENT: self.comment,
            keys::CREATED_BY: self.created_by,
        })
    }

    /// A one-line title for the row: what it silences.
    pub fn title(&self) -> String {
        match &self.key_pattern {
            Some(p) => format!("Silence {} {p}", self.alarm),
            None => format!("Silence {}", self.alarm),
        }
    }

    /// Validates a stored row; the message names the key to fix.
    pub fn parse(id: &str, data: Option<&Value>) -> Result<Silence, String> {
        let empty = Map::new();
        let data = match data {
            Some(Value::Object(map)) => map,
            None | Some(Value::Null) => &empty,
            Some(_) => return Err("data must be a JSON object".into()),
        };
        let text = |key: &str| match data.get(key) {
            Some(Value::String(s)) if !s.trim().is_empty() => Ok(s.trim().to_owned()),
            _ => Err(format!("data.{key} must be a non-empty string")),
        };
        let time = |key: &str| match data.get(key) {
            Some(Value::Number(n)) => n
                .as_f64()
                .filter(|t| t.is_finite())
                .ok_or_else(|| format!("data.{key} must be Unix seconds")),
            _ => Err(format!("data.{key} must be Unix seconds (a number)")),
        };
        let key_pattern = match data.get(keys::KEY_PATTERN) {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) if !s.trim().is_empty() => Some(s.trim().to_owned()),
            Some(other) => {
                return Err(format!(
                "data.key_pattern must be a glob over dedupe keys (or null for all), found {other}"
            ))
            }
        };
        let silence = Silence {
            id: id.to_owned(),
            alarm: text(keys::ALARM)?,
            key_pattern,
            starts_at: time(keys::STARTS_AT)?,
            ends_at: time(keys::ENDS_AT)?,
            comment: text(keys::COMMENT)?,
            created_by: text(keys::CREATED_BY).unwrap_or_else(|_| "unknown".into()),
        };
        if silence.ends_at < silence.starts_at {
            return Err("data.ends_at is before data.starts_at".into());
        }
        Ok(silence)
    }
}

/// When a silence asked for with `--for DURATION` or `--until TIME` ends;
/// it must lie after `now`. The message says which flag is wrong.
pub(crate) fn end_time(for_: Option<&str>, until: Option<&str>, now: f64) -> Result<f64, String> {
    let end = match (for_, until) {
        (Some(text), None) => {
            let duration = humantime::parse_duration(text.trim()).map_err(|e| {
                format!("--for {text:?} is not a duration ({e}); write e.g. 30m, 2h, 1d 12h")
            })?;
            if duration.is_zero() {
                return Err(format!(
                    "--for {text:?} is no time at all; give a positive duration"
                ));
            }
            now + duration.as_secs_f64()
        }
        (None, Some(text)) => parse_time(text)?,
        (Some(_), Some(_)) => return Err("give either --for or --until, not both".into()),
        (None, None) => return Err("say how long: --for DURATION or --until TIME".into()),
    };
    if end <= now {
        return Err(format!(
            "--until {} is in the past (now is {}); a silence must end in the future",
            until.unwrap_or_default(),
            crate::time::utc_label(now)
        ));
    }
    Ok(end)
}

/// A point in time as an operator writes it: RFC 3339 with an offset
/// (`2026-12-02T14:00:00+01:00`, `…Z`), or a date and time read as UTC
/// (`2026-12-02 14:00`, `2026-12-02T14:00:30`).
fn parse_time(text: &str) -> Result<f64, String> {
    use chrono::{DateTime, NaiveDateTime};
    let t = text.trim();
    if let Ok(time) = DateTime::parse_from_rfc3339(t) {
        return Ok(time.timestamp() as f64 + f64::from(time.timestamp_subsec_millis()) / 1e3);
    }
    for format in [
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%d %H:%M",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%dT%H:%M",
    ] {
        if let Ok(time) = NaiveDateTime::parse_from_str(t, format) {
            return Ok(time.and_utc().timestamp() as f64);
        }
    }
    Err(format!(
        "--until {text:?} is not a time; write e.g. 2026-12-02T14:00:00Z, 2026-12-02T14:00+01:00, \
         or 2026-12-02 14:00 (UTC)"
    ))
}

/// Whether `text` matches the glob `pattern`: `*` is any run of
/// characters (none included), `?` exactly one; everything else is itself.
pub(crate) fn glob_match(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti) = (0, 0);
    // Where the last `*` was, and the text position it currently covers up to.
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        match p.get(pi) {
            Some('*') => {
                star = Some((pi, ti));
                pi += 1;
            }
            Some(&c) if c == '?' || c == t[ti] => {
                pi += 1;
                ti += 1;
            }
            _ => match star {
                // Let the last `*` swallow one more character and retry.
                Some((sp, st)) => {
                    star = Some((sp, st + 1));
                    pi = sp + 1;
                    ti = st + 1;
                }
                None => return false,
            },
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

/// A firing event a silence took out of the email.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct SilencedItem {
    pub event_id: String,
    /// The silence covering it.
    pub silence_id: String,
    /// Why it would have been in the email.
    pub reason: Reason,
}

impl SilencedItem {
    /// Whether it has never been mailed: it then carries `silenced_at`,
    /// so that it goes out as a new notice once the silence is over.
    pub fn needs_mark(&self) -> bool {
        matches!(
            self.reason,
            Reason::New | Reason::NeverNotified | Reason::HoldElapsed
        )
    }
}

/// What a silence took out of one alarm's email.
#[derive(Debug, Default, Clone, PartialEq)]
pub(crate) struct Silenced {
    /// Events left out of NEW and CONTINUING.
    pub firing: Vec<SilencedItem>,
    /// Event ids left out of RESOLVED (their notice waits for the end).
    pub resolved: Vec<String>,
}

impl Silenced {
    /// Events left out of the email.
    pub fn count(&self) -> usize {
        self.firing.len() + self.resolved.len()
    }
}

/// Takes every event an active silence covers out of the plan's email
/// sections; the state changes (create, touch, clear) stay as they are.
pub(crate) fn apply(plan: &mut Plan<'_>, alarm: &str, silences: &[Silence], now: f64) -> Silenced {
    let active: Vec<&Silence> = silences.iter().filter(|s| s.is_active(now)).collect();
    let mut out = Silenced::default();
    if active.is_empty() {
        return out;
    }
    let covering = |key: &str| {
        active
            .iter()
            .find(|s| s.matches(alarm, key))
            .map(|s| s.id.clone())
    };
    let mut take = |items: &mut Vec<BundleItem<'_>>| {
        items.retain(|item| match covering(&item.detection.dedupe_key) {
            Some(silence_id) => {
                out.firing.push(SilencedItem {
                    event_id: item.event_id.clone(),
                    silence_id,
                    reason: item.reason,
                });
                false
            }
            None => true,
        });
    };
    take(&mut plan.bundle_new);
    take(&mut plan.bundle_renotify);
    plan.bundle_resolved
        .retain(|item| match covering(&item.dedupe_key) {
            Some(_) => {
                out.resolved.push(item.event_id.clone());
                false
            }
            None => true,
        });
    out
}

/// One line about a silence, for `test` and `status`.
pub(crate) fn describe(s: &Silence) -> String {
    format!(
        "{} until {} by {} ({}): {}",
        s.key_pattern.as_deref().unwrap_or("every event"),
        crate::time::utc_label(s.ends_at),
        s.created_by,
        s.id.get(..8).unwrap_or(&s.id),
        s.comment.split_whitespace().collect::<Vec<_>>().join(" ")
    )
}

/// The silences of each alarm, by its `entry_id`.
pub(crate) fn by_alarm(silences: Vec<Silence>) -> HashMap<String, Vec<Silence>> {
    let mut map: HashMap<String, Vec<Silence>> = HashMap::new();
    for s in silences {
        map.entry(s.alarm.clone()).or_default().push(s);
    }
    map
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reconcile::{reconcile, ActiveEvent, Outcome, Policy, Reason, ResolvedItem};
    use alarms::Detection;

    const NOW: f64 = 1_800_000_000.0;

    fn silence(pattern: Option<&str>, starts: f64, ends: f64) -> Silence {
        Silence {
            id: format!("s-{}", pattern.unwrap_or("all")),
            alarm: "alarm_x".into(),
            key_pattern: pattern.map(str::to_owned),
            starts_at: starts,
            ends_at: ends,
            comment: "maintenance".into(),
            created_by: "alice".into(),
        }
    }

    #[test]
    fn globs() {
        let cases = [
            ("task:4*", "task:4", true),
            ("task:4*", "task:4512", true),
            ("task:4*", "task:35", false),
            ("storage:*", "storage:aurora_root", true),
            ("storage:*", "power:battery_soc", false),
            ("*", "", true),
            ("", "", true),
            ("", "x", false),
            ("task:?", "task:7", true),
            ("task:?", "task:77", false),
            ("*:raw*", "storage:raw_mirror", true),
            ("a*b*c", "aXXbYYbZc", true),
            ("a*b*c", "aXXbYYbZ", false),
            (
                "stream:*:*_healthy_state",
                "stream:ass:ass_append_service_healthy_state",
                true,
            ),
            ("é?", "éé", true),
            ("detector_failing", "detector_failing", true),
        ];
        for (pattern, text, want) in cases {
            assert_eq!(glob_match(pattern, text), want, "{pattern:?} vs {text:?}");
        }
    }

    #[test]
    fn end_times_from_durations_and_times() {
        assert_eq!(end_time(Some("2h"), None, NOW), Ok(NOW + 7200.0));
        assert_eq!(end_time(Some(" 1d 12h "), None, NOW), Ok(NOW + 129_600.0));
        assert_eq!(end_time(Some("30m"), None, NOW), Ok(NOW + 1800.0));
        // 1_800_000_000 is 2027-01-15T08:00:00Z.
        let z = end_time(None, Some("2027-01-15T10:00:00Z"), NOW);
        assert_eq!(z, Ok(NOW + 7200.0));
        assert_eq!(
            end_time(None, Some("2027-01-15T10:00:00+01:00"), NOW),
            Ok(NOW + 3600.0)
        );
        assert_eq!(
            end_time(None, Some("2027-01-15 10:00"), NOW),
            Ok(NOW + 7200.0)
        );
        assert_eq!(
            end_time(None, Some("2027-01-15T09:30:30"), NOW),
            Ok(NOW + 5430.0)
        );
        let bad = [
            (Some("2 hrs please"), None, "--for"),
            (Some("0s"), None, "no time at all"),
            (None, Some("tomorrow"), "is not a time"),
            (None, Some("2027-01-15T07:00:00Z"), "in the past"),
            (None, Some("2027-01-15 08:00"), "in the past"),
            (Some("1h"), Some("2027-01-15 10:00"), "not both"),
            (None, None, "--for DURATION or --until TIME"),
        ];
        for (for_, until, want) in bad {
            let err = end_time(for_, until, NOW).unwrap_err();
            assert!(err.contains(want), "{for_:?} {until:?}: {err}");
        }
    }

    #[test]
    fn a_silence_is_active_from_its_start_until_its_end() {
        let s = silence(None, NOW, NOW + 60.0);
        assert!(!s.is_active(NOW - 1.0));
        assert!(s.is_active(NOW));
        assert!(s.is_active(NOW + 59.9));
        assert!(!s.is_active(NOW + 60.0), "over at its end");
        assert!(s.matches("alarm_x", "anything"));
        assert!(!s.matches("alarm_y", "anything"));
    }

    #[test]
    fn rows_round_trip_and_bad_rows_name_the_key() {
        let s = silence(Some("task:4*"), NOW, NOW + 60.0);
        assert_eq!(Silence::parse(&s.id, Some(&s.data())), Ok(s.clone()));
        let mut all = silence(None, NOW, NOW + 60.0);
        all.id = "x".into();
        assert_eq!(Silence::parse("x", Some(&all.data())), Ok(all));
        let cases = [
            (json!({}), "data.alarm"),
            (
                json!({"alarm": "alarm_x", "starts_at": NOW, "ends_at": "soon", "comment": "c"}),
                "data.ends_at",
            ),
            (
                json!({"alarm": "alarm_x", "starts_at": NOW, "ends_at": NOW + 1.0, "comment": " "}),
                "data.comment",
            ),
            (
                json!({"alarm": "alarm_x", "starts_at": NOW, "ends_at": NOW - 1.0, "comment": "c"}),
                "before",
            ),
            (
                json!({"alarm": "alarm_x", "key_pattern": 4, "starts_at": NOW, "ends_at": NOW + 1.0, "comment": "c"}),
                "data.key_pattern",
            ),
            (json!([1]), "JSON object"),
        ];
        for (data, want) in cases {
            let err = Silence::parse("id", Some(&data)).unwrap_err();
            assert!(err.contains(want), "{data}: {err}");
        }
    }

    fn det(key: &str) -> Detection {
        Detection::new(key, format!("subject {key}"), "")
    }

    #[test]
    fn silenced_events_leave_the_email_but_not_the_state() {
        let dets = [det("task:41"), det("task:35"), det("task:42")];
        let events = [ActiveEvent {
            id: "ev-gone".into(),
            dedupe_key: "task:49".into(),
            fire_time: NOW - 3600.0,
            subject: "gone".into(),
            last_notified: Some(NOW - 60.0),
            silenced: false,
        }];
        let policy = Policy {
            notify_on_clear: true,
            ..Policy::default()
        };
        let backlog: [ResolvedItem; 0] = [];
        let mut n = 0;
        let mut plan = reconcile(
            &events,
            &backlog,
            Outcome::Detected(&dets),
            NOW,
            policy,
            || {
                n += 1;
                format!("new-{n}")
            },
        );
        let silences = [
            silence(Some("task:4*"), NOW - 60.0, NOW + 60.0),
            silence(None, NOW + 10.0, NOW + 60.0), // not started yet
            silence(None, NOW - 90.0, NOW - 30.0), // over
        ];
        let out = apply(&mut plan, "alarm_x", &silences, NOW);
        let firing: Vec<(&str, &str, bool)> = out
            .firing
            .iter()
            .map(|i| (i.event_id.as_str(), i.silence_id.as_str(), i.needs_mark()))
            .collect();
        assert_eq!(
            firing,
            [("new-1", "s-task:4*", true), ("new-3", "s-task:4*", true)]
        );
        assert_eq!(out.resolved, ["ev-gone".to_string()]);
        assert_eq!(out.count(), 3);
        let listed: Vec<&str> = plan
            .bundle_new
            .iter()
            .map(|i| i.detection.dedupe_key.as_str())
            .collect();
        assert_eq!(listed, ["task:35"]);
        assert!(plan.bundle_resolved.is_empty());
        assert_eq!(
            (plan.create.len(), plan.clear.len()),
            (3, 1),
            "state moves on"
        );
        assert_eq!(plan.bundle_new[0].reason, Reason::New);

        // Another alarm's silence covers nothing here.
        let mut plan = reconcile(&[], &backlog, Outcome::Detected(&dets), NOW, policy, || {
            "id".into()
        });
        let other = Silence {
            alarm: "alarm_y".into(),
            ..silence(None, NOW - 1.0, NOW + 1.0)
        };
        assert_eq!(apply(&mut plan, "alarm_x", &[other], NOW).count(), 0);
        assert_eq!(plan.bundle_new.len(), 3);
    }
}

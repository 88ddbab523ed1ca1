//! What the dashboard reads, in one file: an event's `data` as first
//! written, the bookkeeping keys a later tick may change, and the engine
//! run record with its `per_alarm` entries.
//!
//! Each format is a typed struct serialized here and nowhere else; the
//! rest of the engine fills in fields. Key names are the dashboard's
//! (see [`keys`]).

use serde::{ser::SerializeMap, Serialize, Serializer};
use serde_json::{Map, Value};

use super::keys;

/// An event's `data` when it fires: the detection's structured context,
/// then the engine's keys (which win over a context key of the same name).
///
/// Only [`Bookkeeping`] keys change after this is written, so a row keeps
/// the words and numbers it fired with.
#[derive(Debug)]
pub(crate) struct EventData<'a> {
    /// `event_<name>`.
    pub entry_id: &'a str,
    /// Unix seconds; also the first `last_seen`.
    pub fire_time: f64,
    pub dedupe_key: &'a str,
    pub subject: &'a str,
    pub severity: &'a str,
    /// Resolved addresses.
    pub recipients: &'a [String],
    /// The alarm row's id.
    pub alarm_config_id: &'a str,
    /// The detection's `extra`.
    pub context: &'a Map<String, Value>,
    /// When an email carrying the event was sent, if one was in this tick
    /// (the email goes out before the tick's writes).
    pub last_notified: Option<f64>,
}

impl Serialize for EventData<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        for (key, value) in self.context {
            if !keys::ENGINE_EVENT_KEYS.contains(&key.as_str()) {
                map.serialize_entry(key, value)?;
            }
        }
        map.serialize_entry(keys::ENTRY_ID, self.entry_id)?;
        map.serialize_entry(keys::FIRE_TIME, &self.fire_time)?;
        map.serialize_entry(keys::CLEAR_TIME, &None::<f64>)?;
        map.serialize_entry(keys::LAST_SEEN, &self.fire_time)?;
        map.serialize_entry(keys::DEDUPE_KEY, self.dedupe_key)?;
        map.serialize_entry(keys::SUBJECT, self.subject)?;
        map.serialize_entry(keys::SEVERITY, self.severity)?;
        map.serialize_entry(keys::RECIPIENTS, self.recipients)?;
        map.serialize_entry(keys::ALARM_CONFIG_ID, self.alarm_config_id)?;
        if let Some(at) = self.last_notified {
            map.serialize_entry(keys::LAST_NOTIFIED, &at)?;
        }
        map.end()
    }
}

/// A new event row: `title` = subject (cut to the column's 255
/// characters), `content` = alarm description + separator + detection body.
#[derive(Debug)]
pub(crate) struct EventRow<'a> {
    pub id: &'a str,
    pub title: &'a str,
    pub content: String,
    /// `timestamp_created` (and `timestamp_modified`): distinct per event
    /// within a tick, in detection order.
    pub created: f64,
    pub data: EventData<'a>,
}

impl<'a> EventRow<'a> {
    /// Composes the row of an event that fires now.
    pub fn new(id: &'a str, description: &str, body: &str, data: EventData<'a>) -> Self {
        let description = description.trim_end();
        let content = if description.is_empty() {
            body.to_owned()
        } else {
            format!("{description}\n\n---\n\n{body}")
        };
        EventRow {
            id,
            title: truncate_chars(data.subject, 255),
            content,
            created: data.fire_time,
            data,
        }
    }
}

/// The keys of an event's `data` that change after it fired; nothing
/// else of an event row is ever rewritten by the engine (besides
/// `timestamp_modified`, which moves with each of these writes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Bookkeeping {
    /// Bumped every tick the entity is still detected.
    LastSeen,
    /// Set when an email carrying the event was sent.
    LastNotified,
    /// Set when the entity is no longer detected.
    ClearTime,
    /// Set when the recovery notice of a cleared event was sent.
    ClearNotified,
    /// Set while a silence keeps a never-mailed event out of the email.
    SilencedAt,
}

impl Bookkeeping {
    /// The `data` key.
    pub fn key(self) -> &'static str {
        match self {
            Bookkeeping::LastSeen => keys::LAST_SEEN,
            Bookkeeping::LastNotified => keys::LAST_NOTIFIED,
            Bookkeeping::ClearTime => keys::CLEAR_TIME,
            Bookkeeping::ClearNotified => keys::CLEAR_NOTIFIED,
            Bookkeeping::SilencedAt => keys::SILENCED_AT,
        }
    }
}

/// The run row's `data` when the tick starts.
#[derive(Debug, Serialize)]
pub(crate) struct RunStart {
    /// `run_<unix seconds>`.
    pub entry_id: String,
    pub started_at: f64,
}

impl RunStart {
    /// The start record of a tick that starts at `now`.
    pub fn at(now: f64) -> Self {
        RunStart {
            entry_id: format!("run_{}", now.floor() as i64),
            started_at: now,
        }
    }
}

/// What the tick merges into the run row's `data` when it ends.
#[derive(Debug, Serialize)]
pub(crate) struct RunRecord<'a> {
    pub finished_at: f64,
    /// Alarms whose detector ran.
    pub alarms_run: usize,
    /// Distinct detections over all alarms.
    pub alarms_seen: usize,
    /// Emails sent.
    pub notifications_sent: usize,
    /// Alarms that failed.
    pub errors: usize,
    /// `[entry_id] message` per failed alarm, separated by blank lines.
    pub error_details: String,
    /// One entry per alarm, keyed by its `entry_id`, in the given order.
    #[serde(serialize_with = "entries_as_map")]
    pub per_alarm: &'a [(String, AlarmRecord)],
    /// Events silences kept out of this tick's emails (only when some were).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub events_silenced: Option<usize>,
    /// Events this tick created (this engine's addition: the status page
    /// reads it instead of counting a day of events).
    pub events_new: usize,
    /// Events this tick cleared (the same).
    pub events_cleared: usize,
}

fn entries_as_map<S: Serializer>(
    entries: &&[(String, AlarmRecord)],
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.collect_map(entries.iter().map(|(k, v)| (k, v)))
}

/// One alarm's entry in `per_alarm`.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub(crate) struct AlarmRecord {
    /// Whether the alarm's emails are on.
    pub enabled: bool,
    /// Distinct detections this tick.
    pub alarms_seen: usize,
    /// 1 when the alarm failed, else 0.
    pub errors: u8,
    /// Everything that went wrong, one cause per line.
    pub error_message: String,
    pub bundle_new: usize,
    pub bundle_renotify: usize,
    /// Whether the email went out.
    pub bundle_sent: bool,
    pub bundle_subject: String,
    /// Events in the NEW section, in email order.
    pub bundle_new_event_ids: Vec<String>,
    /// Events in the CONTINUING section, in email order.
    pub bundle_renotify_event_ids: Vec<String>,
    /// Only for alarms with `notify_on_clear`, so that other alarms'
    /// entries keep exactly the dashboard's fields.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bundle_resolved: Option<usize>,
    /// Events in the RESOLVED section (with `bundle_resolved`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bundle_resolved_event_ids: Option<Vec<String>>,
    /// Events a silence kept out of the email (only when some were).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bundle_silenced: Option<usize>,
    /// Which ones (with `bundle_silenced`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bundle_silenced_event_ids: Option<Vec<String>>,
    /// While the detector fails: the first failed tick of the streak.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failing_since: Option<f64>,
    /// While the detector fails: failed ticks in a row.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub consecutive_failures: Option<i64>,
    /// The alarm's params as run.
    pub params: Value,
    /// The resolved addresses.
    pub recipients: Vec<String>,
}

impl Default for AlarmRecord {
    fn default() -> Self {
        AlarmRecord {
            enabled: true,
            alarms_seen: 0,
            errors: 0,
            error_message: String::new(),
            bundle_new: 0,
            bundle_renotify: 0,
            bundle_sent: false,
            bundle_subject: String::new(),
            bundle_new_event_ids: Vec::new(),
            bundle_renotify_event_ids: Vec::new(),
            bundle_resolved: None,
            bundle_resolved_event_ids: None,
            bundle_silenced: None,
            bundle_silenced_event_ids: None,
            failing_since: None,
            consecutive_failures: None,
            params: Value::Object(Map::new()),
            recipients: Vec::new(),
        }
    }
}

/// The first `max` characters of `text`.
pub(crate) fn truncate_chars(text: &str, max: usize) -> &str {
    match text.char_indices().nth(max) {
        Some((at, _)) => &text[..at],
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn titles_are_cut_on_char_boundaries() {
        assert_eq!(truncate_chars("ééé", 2), "éé");
        assert_eq!(truncate_chars("ab", 5), "ab");
        assert_eq!(truncate_chars(&"x".repeat(300), 255).len(), 255);
    }

    #[test]
    fn engine_keys_win_over_the_detections_context() {
        let context = json!({"rate": 0.5, "dedupe_key": "spoofed", "last_notified": 1});
        let recipients = vec!["a@x".to_owned()];
        let data = EventData {
            entry_id: "event_demo",
            fire_time: 100.0,
            dedupe_key: "k:1",
            subject: "Subject",
            severity: "critical",
            recipients: &recipients,
            alarm_config_id: "alarm-row",
            context: context.as_object().expect("object"),
            last_notified: None,
        };
        let row = EventRow::new("ev-1", "Desc\n", "Body", data);
        assert_eq!(row.content, "Desc\n\n---\n\nBody");
        assert_eq!(row.title, "Subject");
        assert_eq!(row.created, 100.0);
        // Serialized as Postgres would receive it (a later duplicate key wins there too).
        let value = serde_json::to_value(&row.data).expect("serializes");
        assert_eq!(
            value,
            json!({"rate": 0.5, "entry_id": "event_demo", "fire_time": 100.0,
                   "clear_time": null, "last_seen": 100.0, "dedupe_key": "k:1",
                   "subject": "Subject", "severity": "critical", "recipients": ["a@x"],
                   "alarm_config_id": "alarm-row"})
        );
        let text = serde_json::to_string(&row.data).expect("serializes");
        assert!(!text.contains("spoofed") && !text.contains("last_notified"));
        let no_description = EventRow::new("ev-2", "  \n", "Body", row.data);
        assert_eq!(no_description.content, "Body");
        // Written by a tick whose email went out: stamped at once.
        let notified = EventData {
            last_notified: Some(101.5),
            ..no_description.data
        };
        let value = serde_json::to_value(&notified).expect("serializes");
        assert_eq!(value["last_notified"], json!(101.5));
        assert_eq!(value["last_seen"], json!(100.0));
    }

    #[test]
    fn the_run_record_has_the_dashboards_fields() {
        let entries = vec![
            ("alarm_a".to_owned(), AlarmRecord::default()),
            (
                "alarm_b".to_owned(),
                AlarmRecord {
                    bundle_resolved: Some(1),
                    bundle_resolved_event_ids: Some(vec!["ev".into()]),
                    ..AlarmRecord::default()
                },
            ),
        ];
        let record = RunRecord {
            finished_at: 2.0,
            alarms_run: 2,
            alarms_seen: 0,
            notifications_sent: 0,
            errors: 0,
            error_details: String::new(),
            per_alarm: &entries,
            events_silenced: None,
            events_new: 0,
            events_cleared: 0,
        };
        let value = serde_json::to_value(&record).expect("serializes");
        assert!(value.get("events_silenced").is_none());
        let a = value["per_alarm"]["alarm_a"].as_object().expect("entry");
        assert_eq!(a.len(), 12, "{a:?}");
        assert!(a.get("bundle_resolved").is_none());
        assert_eq!(value["per_alarm"]["alarm_b"]["bundle_resolved"], 1);
        assert_eq!(
            serde_json::to_value(RunStart::at(1_800_000_000.5)).expect("serializes"),
            json!({"entry_id": "run_1800000000", "started_at": 1_800_000_000.5})
        );
    }
}

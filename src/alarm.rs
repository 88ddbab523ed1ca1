//! An alarm row, validated: what the tick needs to know about one alarm.
//!
//! A row the dashboard (or a hand edit) got wrong fails that alarm alone,
//! with a message naming the key to fix.

use serde_json::{Map, Value};

use crate::recipients::split_tokens;
use crate::reconcile::Policy;
use crate::store::{alarms::AlarmRow, keys};

/// One runnable alarm.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Alarm {
    /// The row's id (`alarm_config_id` in its events).
    pub id: String,
    /// `alarm_<name>`.
    pub entry_id: String,
    /// The detector to run: `data.detector`, else `<name>`.
    pub detector: String,
    /// The description at the top of every email.
    pub description: String,
    /// Whether emails go out (the alarm runs either way).
    pub enabled: bool,
    pub severity: String,
    /// Recipient tokens as written (addresses and `@team`s).
    pub recipient_tokens: Vec<String>,
    /// Re-send still-active events after this many hours; 0 = never.
    pub renotification_window_hours: f64,
    /// Hold new events out of emails this many minutes; 0 = at once.
    pub notify_after_minutes: f64,
    /// Add a RESOLVED section for events that cleared after being emailed.
    pub notify_on_clear: bool,
    /// Minutes of a detector failing on every tick before the alarm gets
    /// a `detector_failing` event; 0 = never.
    pub detector_failing_after_minutes: f64,
    /// The detector's params object.
    pub params: Value,
}

impl Alarm {
    /// `event_<name>`: the `entry_id` shared by all of this alarm's events.
    pub fn event_entry_id(&self) -> String {
        keys::event_entry_id(&self.entry_id)
    }

    /// What the row says about emailing, in reconcile's terms.
    pub fn policy(&self) -> Policy {
        Policy {
            renotify_after: (self.renotification_window_hours > 0.0)
                .then_some(self.renotification_window_hours * 3600.0),
            hold: self.notify_after_minutes * 60.0,
            notify_on_clear: self.notify_on_clear,
        }
    }

    /// Validates a stored row.
    pub fn parse(row: &AlarmRow) -> Result<Alarm, String> {
        if let Some(reason) = &row.unreadable {
            return Err(reason.clone());
        }
        let empty = Map::new();
        let data = match &row.data {
            Some(Value::Object(map)) => map,
            None | Some(Value::Null) => &empty,
            Some(other) => {
                return Err(format!(
                    "data must be a JSON object, found {}",
                    json_type(other)
                ))
            }
        };
        let entry_id = match data.get("entry_id") {
            Some(Value::String(s)) if !s.trim().is_empty() => s.trim().to_owned(),
            _ => {
                return Err("data.entry_id is missing; set it to \"alarm_<name>\"".into());
            }
        };
        let name = entry_id.strip_prefix("alarm_").unwrap_or(&entry_id);
        let detector = match data.get("detector") {
            None | Some(Value::Null) => name.to_owned(),
            Some(Value::String(s)) if !s.trim().is_empty() => s.trim().to_owned(),
            Some(other) => {
                return Err(format!(
                    "data.detector must be a detector name, found {}",
                    json_type(other)
                ))
            }
        };
        let enabled = match data.get("enabled") {
            None | Some(Value::Null) => true,
            Some(Value::Bool(b)) => *b,
            Some(other) => {
                return Err(format!("data.enabled must be true or false, found {other}"))
            }
        };
        let severity = match data.get("severity") {
            None | Some(Value::Null) => "warning".to_owned(),
            Some(Value::String(s)) => s.clone(),
            Some(other) => return Err(format!("data.severity must be a string, found {other}")),
        };
        let recipient_tokens = match data.get("recipients") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::String(s)) => split_tokens(s),
            Some(Value::Array(items)) => {
                let mut tokens = Vec::new();
                for item in items {
                    match item {
                        Value::String(s) => tokens.extend(split_tokens(s)),
                        other => {
                            return Err(format!("data.recipients must hold strings, found {other}"))
                        }
                    }
                }
                tokens
            }
            Some(other) => {
                return Err(format!(
                    "data.recipients must be a list or a string, found {}",
                    json_type(other)
                ))
            }
        };
        let renotification_window_hours = match data.get("renotification_window_hours") {
            None | Some(Value::Null) => 0.0,
            Some(Value::Number(n)) => n.as_f64().unwrap_or(f64::NAN),
            Some(Value::String(s)) if s.trim().is_empty() => 0.0,
            Some(Value::String(s)) => s.trim().parse().unwrap_or(f64::NAN),
            Some(other) => other.as_f64().unwrap_or(f64::NAN),
        };
        if !(renotification_window_hours.is_finite() && renotification_window_hours >= 0.0) {
            return Err(format!(
                "data.renotification_window_hours must be a number of hours (0 = never), found {}",
                data.get("renotification_window_hours")
                    .unwrap_or(&Value::Null)
            ));
        }
        let notify_after_minutes = match data.get("notify_after_minutes") {
            None | Some(Value::Null) => 0.0,
            Some(Value::Number(n)) => n.as_f64().unwrap_or(f64::NAN),
            Some(_) => f64::NAN,
        };
        if !(notify_after_minutes.is_finite() && notify_after_minutes >= 0.0) {
            return Err(format!(
                "data.notify_after_minutes must be a number of minutes (0 = at once), found {}",
                data.get("notify_after_minutes").unwrap_or(&Value::Null)
            ));
        }
        let notify_on_clear = match data.get("notify_on_clear") {
            None | Some(Value::Null) => false,
            Some(Value::Bool(b)) => *b,
            Some(other) => {
                return Err(format!(
                    "data.notify_on_clear must be true or false, found {other}"
                ))
            }
        };
        let detector_failing_after_minutes = match data.get("detector_failing_after_minutes") {
            None | Some(Value::Null) => crate::failing::DEFAULT_AFTER_MINUTES,
            Some(Value::Number(n)) => n.as_f64().unwrap_or(f64::NAN),
            Some(_) => f64::NAN,
        };
        if !(detector_failing_after_minutes.is_finite() && detector_failing_after_minutes >= 0.0) {
            return Err(format!(
                "data.detector_failing_after_minutes must be a number of minutes (0 = off), found {}",
                data.get("detector_failing_after_minutes")
                    .unwrap_or(&Value::Null)
            ));
        }
        let params = match data.get("params") {
            None | Some(Value::Null) => Value::Object(Map::new()),
            Some(p @ Value::Object(_)) => p.clone(),
            Some(other) => {
                return Err(format!(
                    "data.params must be a JSON object, found {}",
                    json_type(other)
                ))
            }
        };
        Ok(Alarm {
            id: row.id.clone(),
            entry_id,
            detector,
            description: row.content.clone(),
            enabled,
            severity,
            recipient_tokens,
            renotification_window_hours,
            notify_after_minutes,
            notify_on_clear,
            detector_failing_after_minutes,
            params,
        })
    }
}

fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn row(data: Value) -> AlarmRow {
        AlarmRow {
            id: "id-1".into(),
            content: "Description".into(),
            data: Some(data),
            unreadable: None,
        }
    }

    #[test]
    fn production_row_parses_with_defaults() {
        let alarm = Alarm::parse(&row(json!({
            "entry_id": "alarm_panda_failure_rate_sakib",
            "recipients": ["a@x", "@prodops"],
            "renotification_window_hours": 24,
            "params": {"threshold": 0.03}
        })))
        .expect("valid");
        assert_eq!(alarm.detector, "panda_failure_rate_sakib");
        assert_eq!(alarm.event_entry_id(), "event_panda_failure_rate_sakib");
        assert!(alarm.enabled);
        assert_eq!(alarm.severity, "warning");
        assert_eq!(alarm.recipient_tokens, ["a@x", "@prodops"]);
        assert_eq!(alarm.renotification_window_hours, 24.0);
        assert_eq!(alarm.detector_failing_after_minutes, 30.0);
        let quick = json!({"entry_id": "alarm_a", "detector_failing_after_minutes": 0.5});
        assert_eq!(
            Alarm::parse(&row(quick))
                .expect("valid")
                .detector_failing_after_minutes,
            0.5
        );
    }

    #[test]
    fn explicit_detector_and_string_recipients() {
        let alarm = Alarm::parse(&row(json!({
            "entry_id": "alarm_mine", "detector": "static_list",
            "recipients": "a@x; b@y, @ops", "renotification_window_hours": "12",
            "enabled": false
        })))
        .expect("valid");
        assert_eq!(alarm.detector, "static_list");
        assert_eq!(alarm.recipient_tokens, ["a@x", "b@y", "@ops"]);
        assert_eq!(alarm.renotification_window_hours, 12.0);
        assert!(!alarm.enabled);
    }

    #[test]
    fn each_bad_key_is_named() {
        let cases = [
            (json!({}), "data.entry_id"),
            (
                json!({"entry_id": "alarm_a", "renotification_window_hours": "soon"}),
                "renotification_window_hours",
            ),
            (
                json!({"entry_id": "alarm_a", "renotification_window_hours": -1}),
                "renotification_window_hours",
            ),
            (json!({"entry_id": "alarm_a", "params": [1]}), "data.params"),
            (
                json!({"entry_id": "alarm_a", "recipients": 5}),
                "data.recipients",
            ),
            (
                json!({"entry_id": "alarm_a", "enabled": "yes"}),
                "data.enabled",
            ),
            (
                json!({"entry_id": "alarm_a", "detector": 3}),
                "data.detector",
            ),
            (json!([1, 2]), "data must be a JSON object"),
            (
                json!({"entry_id": "alarm_a", "detector_failing_after_minutes": "soon"}),
                "data.detector_failing_after_minutes",
            ),
            (
                json!({"entry_id": "alarm_a", "detector_failing_after_minutes": -5}),
                "data.detector_failing_after_minutes",
            ),
        ];
        for (data, want) in cases {
            let err = Alarm::parse(&row(data.clone())).unwrap_err();
            assert!(err.contains(want), "{data}: {err}");
        }
    }
}

//! The tick's decisions replayed in memory: one alarm's event state
//! carried from snapshot to snapshot through the same pure steps as a
//! tick (the failing streak, `reconcile`, `compose`), with every bundle
//! taken as sent. No I/O, no clock.

use std::collections::BTreeMap;

use alarms::Detection;
use serde::Serialize;

use crate::{
    alarm::Alarm,
    failing::{self, Streak},
    notify::compose::{compose, Limits},
    reconcile::{reconcile, ActiveEvent, Outcome, Reason, ResolvedItem},
    silence::{self, Silence},
    tick::creation_time,
    time,
};

/// What happened to an event at one step of the replay.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// The entity started firing: a tick would create its event.
    Fired,
    /// Its first email (at once, or once its hold ran out).
    Mailed,
    /// Emailed again: the renotification window elapsed.
    Renotified,
    /// No longer detected: a tick would set its `clear_time`.
    Cleared,
    /// Listed in a RESOLVED section (`notify_on_clear`).
    ResolvedNotice,
    /// Kept out of the email by a silence (it would have been mailed,
    /// renotified or listed as resolved).
    Silenced,
}

impl Action {
    /// The word the text timeline shows.
    pub fn label(self) -> &'static str {
        match self {
            Action::Fired => "FIRED",
            Action::Mailed => "MAILED",
            Action::Renotified => "RENOTIFIED",
            Action::Cleared => "CLEARED",
            Action::ResolvedNotice => "RESOLVED",
            Action::Silenced => "SILENCED",
        }
    }
}

/// One line of the timeline.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Step {
    /// The snapshot's time, Unix seconds: the replayed tick's "now".
    pub time: f64,
    pub action: Action,
    pub dedupe_key: String,
    /// The event's subject (as at fire time for clears).
    pub subject: String,
}

/// One email the alarm would have sent.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Email {
    pub time: f64,
    pub subject: String,
    pub new: usize,
    pub renotify: usize,
    pub resolved: usize,
}

/// A snapshot on which the detector failed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Failure {
    pub time: f64,
    pub error: String,
}

/// A detector's failure at one step: its error (causes joined by `: `,
/// as the tick records it) and what it could judge all the same
/// (`DetectError::Partial`).
#[derive(Debug, Clone, Default)]
pub(crate) struct Failed {
    pub error: String,
    pub firing: Vec<Detection>,
}

/// One alarm's replayed state and what it has done so far.
#[derive(Debug)]
pub(crate) struct Simulation<'a> {
    alarm: &'a Alarm,
    active: Vec<ActiveEvent>,
    streak: Option<Streak>,
    next_id: u64,
    pub steps: Vec<Step>,
    pub emails: Vec<Email>,
    pub failures: Vec<Failure>,
    /// The alarm's silences, each applied while it is in force.
    silences: Vec<Silence>,
    /// Recovery notices a silence held back: listed once it is over.
    owed: Vec<ResolvedItem>,
}

impl<'a> Simulation<'a> {
    /// Starts with no active events, as on an empty database.
    pub(crate) fn new(alarm: &'a Alarm, silences: Vec<Silence>) -> Self {
        Simulation {
            alarm,
            silences,
            owed: Vec::new(),
            active: Vec::new(),
            streak: None,
            next_id: 0,
            steps: Vec::new(),
            emails: Vec::new(),
            failures: Vec::new(),
        }
    }

    /// The events still active, by dedupe key.
    pub(crate) fn still_active(&self) -> Vec<String> {
        self.active.iter().map(|e| e.dedupe_key.clone()).collect()
    }

    /// One replayed tick at `now`: the detector's detections, or its
    /// failure.
    pub(crate) fn tick(&mut self, now: f64, result: Result<Vec<Detection>, Failed>) {
        let alarm = self.alarm;
        let (detections, failure, partial) = match result {
            Ok(detections) => (detections, None, Vec::new()),
            Err(failed) => (Vec::new(), Some(failed.error), failed.firing),
        };
        let streak = failing::next_streak(self.streak.as_ref(), failure.as_deref(), now);
        let failing_detection = streak.as_ref().and_then(|s| {
            failing::detection(
                &alarm.entry_id,
                &alarm.detector,
                s,
                alarm.detector_failing_after_minutes * 60.0,
                now,
            )
        });
        self.streak = streak;
        // As the tick: what a partly failed detector judged, and the
        // alarm's own detector_failing event when due, fire regardless.
        let firing: Vec<Detection> = partial.into_iter().chain(failing_detection).collect();
        let outcome = match &failure {
            None => Outcome::Detected(&detections),
            Some(_) => Outcome::Failed { firing: &firing },
        };
        if let Some(error) = failure {
            self.failures.push(Failure { time: now, error });
        }
        let next_id = &mut self.next_id;
        let mut plan = reconcile(
            &self.active,
            &self.owed,
            outcome,
            now,
            alarm.policy(),
            || {
                *next_id += 1;
                format!("replay-{next_id}")
            },
        );
        // As the tick: silences take events out of the email, not out of
        // the state; a held-back recovery notice waits for the silence's end.
        let listed = plan.bundle_resolved.clone();
        let silenced = silence::apply(&mut plan, &alarm.entry_id, &self.silences, now);
        self.owed = listed
            .into_iter()
            .filter(|r| silenced.resolved.contains(&r.event_id))
            .collect();

        let step = |action, dedupe_key: &str, subject: &str| Step {
            time: now,
            action,
            dedupe_key: dedupe_key.to_owned(),
            subject: subject.to_owned(),
        };
        for id in &plan.clear {
            if let Some(event) = self.active.iter().find(|e| &e.id == id) {
                self.steps
                    .push(step(Action::Cleared, &event.dedupe_key, &event.subject));
            }
        }
        self.active.retain(|e| !plan.clear.contains(&e.id));
        for (i, new) in plan.create.iter().enumerate() {
            let d = new.detection;
            self.steps
                .push(step(Action::Fired, &d.dedupe_key, &d.subject));
            self.active.push(ActiveEvent {
                id: new.id.clone(),
                dedupe_key: d.dedupe_key.clone(),
                fire_time: creation_time(now, i),
                subject: d.subject.clone(),
                last_notified: None,
                silenced: false,
            });
        }
        for item in &silenced.firing {
            if let Some(event) = self.active.iter_mut().find(|e| e.id == item.event_id) {
                // Never mailed: a new notice once the silence is over.
                event.silenced |= item.needs_mark();
                let (key, subject) = (event.dedupe_key.clone(), event.subject.clone());
                self.steps.push(step(Action::Silenced, &key, &subject));
            }
        }
        for resolved in self.owed.clone() {
            self.steps.push(step(
                Action::Silenced,
                &resolved.dedupe_key,
                &resolved.subject,
            ));
        }
        if !plan.has_bundle() {
            return;
        }
        let bundle = compose(
            &alarm.entry_id,
            &alarm.description,
            &plan.bundle_new,
            &plan.bundle_renotify,
            &plan.bundle_resolved,
            // Only the subject and the counts are replayed, not the body.
            Limits {
                max_per_section: usize::MAX,
                full_list: "",
            },
        );
        self.emails.push(Email {
            time: now,
            subject: bundle.subject,
            new: plan.bundle_new.len(),
            renotify: plan.bundle_renotify.len(),
            resolved: plan.bundle_resolved.len(),
        });
        for item in plan.bundle_new.iter().chain(&plan.bundle_renotify) {
            let action = match item.reason {
                Reason::New | Reason::HoldElapsed | Reason::NeverNotified | Reason::Unsilenced => {
                    Action::Mailed
                }
                Reason::WindowElapsed => Action::Renotified,
            };
            let subject = self
                .active
                .iter()
                .find(|e| e.id == item.event_id)
                .map_or(item.detection.subject.as_str(), |e| e.subject.as_str());
            self.steps
                .push(step(action, &item.detection.dedupe_key, subject));
            // Taken as sent: stamped like a tick's successful send.
            if let Some(event) = self.active.iter_mut().find(|e| e.id == item.event_id) {
                event.last_notified = Some(now);
            }
        }
        for resolved in &plan.bundle_resolved {
            self.steps.push(step(
                Action::ResolvedNotice,
                &resolved.dedupe_key,
                &resolved.subject,
            ));
        }
    }

    /// Emails per UTC day (`YYYY-MM-DD`), in date order.
    pub(crate) fn emails_per_day(&self) -> BTreeMap<String, usize> {
        let mut days = BTreeMap::new();
        for email in &self.emails {
            *days.entry(day_label(email.time)).or_insert(0) += 1;
        }
        days
    }
}

/// `YYYY-MM-DD` (UTC).
pub(crate) fn day_label(unix: f64) -> String {
    time::utc_label(unix)
        .get(..8)
        .map(|d| format!("{}-{}-{}", &d[..4], &d[4..6], &d[6..8]))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    use crate::store::alarms::AlarmRow;

    const T0: f64 = 1_787_306_400.0;
    const MIN: f64 = 60.0;

    fn alarm(data: serde_json::Value) -> Alarm {
        let row = AlarmRow {
            id: "row-1".into(),
            content: "Desc.".into(),
            data: Some(data),
            unreadable: None,
        };
        Alarm::parse(&row).expect("valid alarm")
    }

    fn failed(error: &str) -> Failed {
        Failed {
            error: error.into(),
            firing: Vec::new(),
        }
    }

    fn det(key: &str) -> Detection {
        Detection::new(key, format!("{key} is bad"), "body")
    }

    fn actions(sim: &Simulation<'_>) -> Vec<(f64, Action, String)> {
        sim.steps
            .iter()
            .map(|s| ((s.time - T0) / MIN, s.action, s.dedupe_key.clone()))
            .collect()
    }

    #[test]
    fn fires_mails_renotifies_and_clears_like_a_tick() {
        let a = alarm(
            json!({"entry_id": "alarm_x", "renotification_window_hours": 0.25,
                             "notify_on_clear": true}),
        );
        let mut sim = Simulation::new(&a, Vec::new());
        sim.tick(T0, Ok(vec![det("a")]));
        sim.tick(T0 + 5.0 * MIN, Ok(vec![det("a"), det("b")]));
        sim.tick(T0 + 15.0 * MIN, Ok(vec![det("a"), det("b")]));
        sim.tick(T0 + 20.0 * MIN, Ok(vec![det("b")]));
        use Action::*;
        assert_eq!(
            actions(&sim),
            vec![
                (0.0, Fired, "a".into()),
                (0.0, Mailed, "a".into()),
                (5.0, Fired, "b".into()),
                (5.0, Mailed, "b".into()),
                (15.0, Renotified, "a".into()),
                (20.0, Cleared, "a".into()),
                (20.0, Renotified, "b".into()),
                (20.0, ResolvedNotice, "a".into()),
            ]
        );
        assert_eq!(sim.emails.len(), 4);
        assert_eq!(sim.still_active(), vec!["b".to_string()]);
        assert_eq!(sim.emails_per_day().get("2026-08-21"), Some(&4));
    }

    #[test]
    fn a_hold_delays_the_mail_and_a_failure_clears_nothing() {
        let a = alarm(json!({"entry_id": "alarm_x", "notify_after_minutes": 10}));
        let mut sim = Simulation::new(&a, Vec::new());
        sim.tick(T0, Ok(vec![det("a")]));
        sim.tick(T0 + 5.0 * MIN, Err(failed("upstream: gone")));
        sim.tick(T0 + 10.0 * MIN, Ok(vec![det("a")]));
        sim.tick(T0 + 15.0 * MIN, Ok(vec![]));
        use Action::*;
        assert_eq!(
            actions(&sim),
            vec![
                (0.0, Fired, "a".into()),
                (10.0, Mailed, "a".into()),
                (15.0, Cleared, "a".into()),
            ]
        );
        assert_eq!(sim.failures.len(), 1);
        assert_eq!(sim.emails.len(), 1);
    }

    #[test]
    fn a_long_failure_raises_detector_failing() {
        let a = alarm(json!({"entry_id": "alarm_x", "detector_failing_after_minutes": 10}));
        let mut sim = Simulation::new(&a, Vec::new());
        for i in 0..4 {
            sim.tick(T0 + f64::from(i) * 5.0 * MIN, Err(failed("down")));
        }
        sim.tick(T0 + 20.0 * MIN, Ok(vec![]));
        let keys: Vec<_> = actions(&sim);
        assert_eq!(keys[0], (10.0, Action::Fired, "detector_failing".into()));
        assert_eq!(keys[1], (10.0, Action::Mailed, "detector_failing".into()));
        assert_eq!(keys[2], (20.0, Action::Cleared, "detector_failing".into()));
    }

    #[test]
    fn day_labels() {
        assert_eq!(day_label(T0), "2026-08-21");
    }
}

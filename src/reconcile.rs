//! Reconciling one alarm's detections with its stored events.
//!
//! This is the decision at the heart of a tick, kept free of I/O and of
//! the clock so that it can be tested exhaustively: given the active
//! events, what the detector said, the time and the alarm's policy, it
//! returns the [`Plan`] — which events to create, touch and clear, and
//! which go into this tick's email, each with the reason it is there.

use std::collections::{HashMap, HashSet};

use alarms::Detection;

/// An active event (`clear_time` null) as reconcile needs to see it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ActiveEvent {
    pub id: String,
    pub dedupe_key: String,
    /// Unix seconds of the first detection of this firing.
    pub fire_time: f64,
    /// Its subject, for a recovery notice.
    pub subject: String,
    /// Unix seconds of the last email that carried it; `None` (or 0 in
    /// rows the old engine wrote) means it was never sent.
    pub last_notified: Option<f64>,
    /// A silence kept it out of an email before it was ever sent
    /// (`data.silenced_at`): once mailed, it goes out as a new notice.
    pub silenced: bool,
}

/// What the alarm's row says about emailing.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct Policy {
    /// Re-send a still-active event once this many seconds have passed
    /// since it was last sent; `None` means never.
    pub renotify_after: Option<f64>,
    /// Seconds an event must have been active before its first email
    /// (a detection may set its own); 0 = at once.
    pub hold: f64,
    /// List events that cleared after having been emailed in a RESOLVED
    /// section.
    pub notify_on_clear: bool,
}

/// What the detector said this tick.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Outcome<'a> {
    /// The full set of what is firing now.
    Detected(&'a [Detection]),
    /// The detector failed: nothing is known about the alarm's other
    /// entities, so none of their events is touched or cleared. `firing`
    /// is what is known to fire all the same: what a partly failed
    /// detector could judge (`DetectError::Partial`), and the
    /// `detector_failing` detection once the failure has lasted the
    /// alarm's threshold (see `failing`). Only these events are handled.
    Failed { firing: &'a [Detection] },
}

/// Why an event is in this tick's email.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reason {
    /// The entity started firing this tick.
    New,
    /// Still firing and no email has carried it yet (the alarm was
    /// disabled, or an earlier send failed).
    NeverNotified,
    /// Still firing and the renotification window has elapsed.
    WindowElapsed,
    /// Still firing, never emailed, and its hold has just run out.
    HoldElapsed,
    /// Still firing, never emailed because a silence covered it: a new
    /// notice once the silence is over.
    Unsilenced,
}

/// An event in the RESOLVED section: it cleared after having been emailed.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ResolvedItem {
    pub event_id: String,
    pub dedupe_key: String,
    pub subject: String,
}

/// One event in the email, pointing at the detection that produced it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct BundleItem<'a> {
    pub event_id: String,
    pub detection: &'a Detection,
    pub reason: Reason,
}

/// An event to insert.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct NewEvent<'a> {
    pub id: String,
    pub detection: &'a Detection,
}

/// An active event seen again.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Touch<'a> {
    pub id: String,
    pub detection: &'a Detection,
}

/// Everything this tick changes for one alarm.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct Plan<'a> {
    pub create: Vec<NewEvent<'a>>,
    pub touch: Vec<Touch<'a>>,
    /// Ids of active events whose entity is no longer detected.
    pub clear: Vec<String>,
    /// The NEW section of the email, in detection order.
    pub bundle_new: Vec<BundleItem<'a>>,
    /// The CONTINUING section of the email, in detection order.
    pub bundle_renotify: Vec<BundleItem<'a>>,
    /// The RESOLVED section (only with `notify_on_clear`).
    pub bundle_resolved: Vec<ResolvedItem>,
    /// Events kept out of the email by their hold.
    pub held: usize,
}

impl Plan<'_> {
    /// Number of distinct entities detected this tick.
    pub fn detected(&self) -> usize {
        self.create.len() + self.touch.len()
    }

    /// Whether an email is due.
    pub fn has_bundle(&self) -> bool {
        !self.bundle_new.is_empty()
            || !self.bundle_renotify.is_empty()
            || !self.bundle_resolved.is_empty()
    }
}

/// Decides one alarm's tick. `new_id` names the events it creates;
/// `unsent_resolved` are earlier clears whose recovery notice has not been
/// sent yet (only read with `notify_on_clear`).
pub(crate) fn reconcile<'a>(
    active: &[ActiveEvent],
    unsent_resolved: &[ResolvedItem],
    outcome: Outcome<'a>,
    now: f64,
    policy: Policy,
    mut new_id: impl FnMut() -> String,
) -> Plan<'a> {
    let (detections, known) = match outcome {
        Outcome::Detected(detections) => (detections, true),
        Outcome::Failed { firing } => (firing, false),
    };
    let by_key: HashMap<&str, &ActiveEvent> =
        active.iter().map(|e| (e.dedupe_key.as_str(), e)).collect();
    let mut seen: HashSet<&str> = HashSet::with_capacity(detections.len());
    let mut plan = Plan::default();

    for detection in detections {
        if !seen.insert(detection.dedupe_key.as_str()) {
            continue;
        }
        let hold = detection
            .notify_after_minutes
            .map(|m| m * 60.0)
            .unwrap_or(policy.hold);
        match by_key.get(detection.dedupe_key.as_str()) {
            None => {
                let id = new_id();
                if hold > 0.0 {
                    plan.held += 1;
                } else {
                    plan.bundle_new.push(BundleItem {
                        event_id: id.clone(),
                        detection,
                        reason: Reason::New,
                    });
                }
                plan.create.push(NewEvent { id, detection });
            }
            Some(event) => {
                let item = |reason| BundleItem {
                    event_id: event.id.clone(),
                    detection,
                    reason,
                };
                match renotify_reason(event, now, policy, hold) {
                    Some(reason @ (Reason::HoldElapsed | Reason::Unsilenced)) => {
                        plan.bundle_new.push(item(reason))
                    }
                    Some(reason) => plan.bundle_renotify.push(item(reason)),
                    None if never_notified(event) => plan.held += 1,
                    None => {}
                }
                plan.touch.push(Touch {
                    id: event.id.clone(),
                    detection,
                });
            }
        }
    }

    if !known {
        return plan;
    }
    let cleared: Vec<&ActiveEvent> = active
        .iter()
        .filter(|e| !seen.contains(e.dedupe_key.as_str()))
        .collect();
    plan.clear = cleared.iter().map(|e| e.id.clone()).collect();
    if policy.notify_on_clear {
        plan.bundle_resolved = unsent_resolved
            .iter()
            .cloned()
            .chain(
                cleared
                    .iter()
                    .filter(|e| !never_notified(e))
                    .map(|e| ResolvedItem {
                        event_id: e.id.clone(),
                        dedupe_key: e.dedupe_key.clone(),
                        subject: e.subject.clone(),
                    }),
            )
            .collect();
    }
    plan
}

fn never_notified(event: &ActiveEvent) -> bool {
    event.last_notified.is_none_or(|t| t <= 0.0)
}

/// Why a still-firing event goes into this tick's email, if it does.
fn renotify_reason(event: &ActiveEvent, now: f64, policy: Policy, hold: f64) -> Option<Reason> {
    if never_notified(event) {
        return match hold > 0.0 {
            true if now - event.fire_time < hold => None,
            _ if event.silenced => Some(Reason::Unsilenced),
            false => Some(Reason::NeverNotified),
            true => Some(Reason::HoldElapsed),
        };
    }
    let last = event.last_notified.unwrap_or_default();
    match policy.renotify_after {
        Some(window) if window > 0.0 && now - last >= window => Some(Reason::WindowElapsed),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const NOW: f64 = 1_800_000_000.0;
    const HOUR: f64 = 3600.0;

    fn det(key: &str) -> Detection {
        Detection::new(key, format!("subject {key}"), format!("body {key}"))
    }

    fn active(key: &str, last_notified: Option<f64>) -> ActiveEvent {
        ActiveEvent {
            id: format!("ev-{key}"),
            dedupe_key: key.into(),
            fire_time: NOW - 10.0 * HOUR,
            subject: format!("subject {key}"),
            last_notified,
            silenced: false,
        }
    }

    fn ids() -> impl FnMut() -> String {
        let mut n = 0;
        move || {
            n += 1;
            format!("new-{n}")
        }
    }

    fn keys(items: &[BundleItem<'_>]) -> Vec<String> {
        items
            .iter()
            .map(|i| i.detection.dedupe_key.clone())
            .collect()
    }

    #[test]
    fn new_continuing_and_cleared() {
        let events = [
            active("a", Some(NOW - HOUR)),
            active("gone", Some(NOW - HOUR)),
        ];
        let dets = [det("a"), det("b")];
        let plan = reconcile(
            &events,
            &[],
            Outcome::Detected(&dets),
            NOW,
            Policy::default(),
            ids(),
        );
        assert_eq!(plan.create.len(), 1);
        assert_eq!(plan.create[0].detection.dedupe_key, "b");
        assert_eq!(plan.create[0].id, "new-1");
        assert_eq!(plan.touch.len(), 1);
        assert_eq!(plan.touch[0].id, "ev-a");
        assert_eq!(plan.clear, vec!["ev-gone".to_string()]);
        assert_eq!(keys(&plan.bundle_new), ["b"]);
        assert!(
            plan.bundle_renotify.is_empty(),
            "notified, no window: quiet"
        );
    }

    #[test]
    fn renotification_table() {
        // (last_notified, window hours, expected reason)
        let cases = [
            (None, None, Some(Reason::NeverNotified)),
            (Some(0.0), None, Some(Reason::NeverNotified)),
            (Some(NOW - HOUR), None, None),
            (Some(NOW - HOUR), Some(0.0), None),
            (Some(NOW - HOUR), Some(2.0), None),
            (
                Some(NOW - 2.0 * HOUR),
                Some(2.0),
                Some(Reason::WindowElapsed),
            ),
            (
                Some(NOW - 30.0 * HOUR),
                Some(24.0),
                Some(Reason::WindowElapsed),
            ),
        ];
        for (last, window, want) in cases {
            let policy = Policy {
                renotify_after: window.map(|h| h * HOUR),
                ..Policy::default()
            };
            let events = [active("a", last)];
            let dets = [det("a")];
            let plan = reconcile(&events, &[], Outcome::Detected(&dets), NOW, policy, ids());
            let got = plan.bundle_renotify.first().map(|i| i.reason);
            assert_eq!(got, want, "last_notified={last:?} window={window:?}");
            assert_eq!(plan.touch.len(), 1);
        }
    }

    #[test]
    fn a_failed_detector_changes_nothing() {
        let events = [active("a", None), active("b", Some(NOW))];
        let plan = reconcile(
            &events,
            &[],
            Outcome::Failed { firing: &[] },
            NOW,
            Policy::default(),
            ids(),
        );
        assert_eq!(plan, Plan::default());
    }

    #[test]
    fn a_failing_detector_handles_its_own_event_and_nothing_else() {
        let failing = det(crate::failing::DETECTOR_FAILING_KEY);
        let on = Policy {
            renotify_after: Some(2.0 * HOUR),
            notify_on_clear: true,
            ..Policy::default()
        };
        let events = [active("a", Some(NOW - 10.0 * HOUR)), active("b", None)];
        let backlog = [ResolvedItem {
            event_id: "ev-old".into(),
            dedupe_key: "old".into(),
            subject: "old".into(),
        }];
        let outcome = Outcome::Failed {
            firing: std::slice::from_ref(&failing),
        };
        let plan = reconcile(&events, &backlog, outcome, NOW, on, ids());
        assert_eq!(plan.create.len(), 1);
        assert_eq!(
            keys(&plan.bundle_new),
            [crate::failing::DETECTOR_FAILING_KEY]
        );
        assert!(plan.touch.is_empty() && plan.clear.is_empty());
        assert!(
            plan.bundle_renotify.is_empty(),
            "a's window elapsed, but a is unknown"
        );
        assert!(plan.bundle_resolved.is_empty());

        // Next failing tick: it continues, renotified by the window.
        let mut ev = active(crate::failing::DETECTOR_FAILING_KEY, Some(NOW - HOUR));
        let with = [events[0].clone(), ev.clone()];
        let plan = reconcile(&with, &[], outcome, NOW, on, ids());
        assert_eq!((plan.create.len(), plan.touch.len()), (0, 1));
        assert!(!plan.has_bundle());
        ev.last_notified = Some(NOW - 3.0 * HOUR);
        let with = [events[0].clone(), ev];
        let plan = reconcile(&with, &[], outcome, NOW, on, ids());
        assert_eq!(
            keys(&plan.bundle_renotify),
            [crate::failing::DETECTOR_FAILING_KEY]
        );

        // The detector succeeds: the failing event clears like any other.
        let dets = [det("a")];
        let plan = reconcile(&with, &[], Outcome::Detected(&dets), NOW, on, ids());
        assert_eq!(plan.clear, ["ev-detector_failing".to_string()]);
        assert_eq!(plan.bundle_resolved.len(), 1);
    }

    #[test]
    fn duplicate_keys_count_once_and_the_first_wins() {
        let mut second = det("a");
        second.subject = "second".into();
        let dets = [det("a"), second];
        let plan = reconcile(
            &[],
            &[],
            Outcome::Detected(&dets),
            NOW,
            Policy::default(),
            ids(),
        );
        assert_eq!(plan.create.len(), 1);
        assert_eq!(plan.create[0].detection.subject, "subject a");
        assert_eq!(plan.detected(), 1);
    }

    #[test]
    fn nothing_detected_clears_everything() {
        let events = [active("a", None), active("b", None)];
        let plan = reconcile(
            &events,
            &[],
            Outcome::Detected(&[]),
            NOW,
            Policy::default(),
            ids(),
        );
        assert_eq!(plan.clear.len(), 2);
        assert!(!plan.has_bundle());
    }

    #[test]
    fn hold_keeps_new_events_out_until_it_has_elapsed() {
        let policy = Policy {
            hold: 3.0 * HOUR,
            ..Policy::default()
        };
        let dets = [det("a")];
        // First detection: the event is created, but no email.
        let plan = reconcile(&[], &[], Outcome::Detected(&dets), NOW, policy, ids());
        assert_eq!((plan.create.len(), plan.held), (1, 1));
        assert!(!plan.has_bundle());
        // Two hours in: still held.
        let mut ev = active("a", None);
        ev.fire_time = NOW - 2.0 * HOUR;
        let plan = reconcile(
            &[ev.clone()],
            &[],
            Outcome::Detected(&dets),
            NOW,
            policy,
            ids(),
        );
        assert!(!plan.has_bundle());
        // Three hours in: it goes out, in the NEW section.
        ev.fire_time = NOW - 3.0 * HOUR;
        let plan = reconcile(
            &[ev.clone()],
            &[],
            Outcome::Detected(&dets),
            NOW,
            policy,
            ids(),
        );
        assert_eq!(plan.bundle_new.len(), 1);
        assert_eq!(plan.bundle_new[0].reason, Reason::HoldElapsed);
        // Once sent, the hold no longer matters.
        ev.last_notified = Some(NOW - HOUR);
        let plan = reconcile(&[ev], &[], Outcome::Detected(&dets), NOW, policy, ids());
        assert!(!plan.has_bundle());
    }

    #[test]
    fn a_once_silenced_event_is_mailed_as_new_and_only_once() {
        let mut ev = active("a", None);
        ev.silenced = true;
        let dets = [det("a")];
        let policy = Policy::default();
        let plan = reconcile(
            &[ev.clone()],
            &[],
            Outcome::Detected(&dets),
            NOW,
            policy,
            ids(),
        );
        assert_eq!(keys(&plan.bundle_new), ["a"]);
        assert_eq!(plan.bundle_new[0].reason, Reason::Unsilenced);
        assert!(plan.bundle_renotify.is_empty());
        ev.last_notified = Some(NOW - HOUR);
        let plan = reconcile(&[ev], &[], Outcome::Detected(&dets), NOW, policy, ids());
        assert!(!plan.has_bundle(), "mailed: no longer a new notice");
    }

    #[test]
    fn a_detection_may_carry_its_own_hold() {
        let policy = Policy {
            hold: 0.0,
            ..Policy::default()
        };
        let mut held = det("archive");
        held.notify_after_minutes = Some(180.0);
        let dets = [held, det("storage")];
        let plan = reconcile(&[], &[], Outcome::Detected(&dets), NOW, policy, ids());
        assert_eq!(keys(&plan.bundle_new), ["storage"]);
        assert_eq!(plan.held, 1);

        let mut at_once = det("power");
        at_once.notify_after_minutes = Some(0.0);
        let dets = [at_once];
        let policy = Policy {
            hold: 3.0 * HOUR,
            ..Policy::default()
        };
        let plan = reconcile(&[], &[], Outcome::Detected(&dets), NOW, policy, ids());
        assert_eq!(keys(&plan.bundle_new), ["power"]);
    }

    #[test]
    fn resolved_lists_only_notified_clears_and_the_backlog() {
        let events = [active("sent", Some(NOW - HOUR)), active("never_sent", None)];
        let backlog = [ResolvedItem {
            event_id: "ev-old".into(),
            dedupe_key: "old".into(),
            subject: "old".into(),
        }];
        let off = Policy::default();
        let plan = reconcile(&events, &backlog, Outcome::Detected(&[]), NOW, off, ids());
        assert!(plan.bundle_resolved.is_empty(), "off by default");
        assert!(!plan.has_bundle());

        let on = Policy {
            notify_on_clear: true,
            ..Policy::default()
        };
        let plan = reconcile(&events, &backlog, Outcome::Detected(&[]), NOW, on, ids());
        let ids: Vec<&str> = plan
            .bundle_resolved
            .iter()
            .map(|r| r.event_id.as_str())
            .collect();
        assert_eq!(ids, ["ev-old", "ev-sent"]);
        assert_eq!(plan.clear.len(), 2);
    }

    fn key_strategy() -> impl Strategy<Value = String> {
        prop::sample::select(vec!["a", "b", "c", "d", "e", "f"]).prop_map(String::from)
    }

    proptest! {
        #[test]
        fn invariants_hold(
            active_keys in prop::collection::btree_set(key_strategy(), 0..6),
            notified in prop::collection::vec(prop::option::of(0.0..NOW), 6),
            detected in prop::collection::vec(key_strategy(), 0..12),
            window in prop::option::of(0.0..48.0 * HOUR),
            failed in any::<bool>(),
        ) {
            let events: Vec<ActiveEvent> = active_keys
                .iter()
                .zip(&notified)
                .map(|(k, n)| active(k, *n))
                .collect();
            let dets: Vec<Detection> = detected.iter().map(|k| det(k)).collect();
            let outcome = if failed { Outcome::Failed { firing: &[] } } else { Outcome::Detected(&dets) };
            let policy = Policy { renotify_after: window, ..Policy::default() };
            let plan = reconcile(&events, &[], outcome, NOW, policy, ids());

            if failed {
                prop_assert_eq!(plan, Plan::default());
                return Ok(());
            }
            let unique: HashSet<&str> = detected.iter().map(String::as_str).collect();
            // Every detected entity is created or touched, exactly once.
            let mut handled: Vec<&str> = plan.create.iter().map(|c| c.detection.dedupe_key.as_str())
                .chain(plan.touch.iter().map(|t| t.detection.dedupe_key.as_str()))
                .collect();
            handled.sort_unstable();
            let mut want: Vec<&str> = unique.iter().copied().collect();
            want.sort_unstable();
            prop_assert_eq!(handled, want);
            // Never a second active event for a key that has one.
            for c in &plan.create {
                prop_assert!(!active_keys.contains(&c.detection.dedupe_key));
            }
            // Exactly the undetected active events clear.
            let cleared: HashSet<&str> = plan.clear.iter().map(String::as_str).collect();
            for e in &events {
                prop_assert_eq!(cleared.contains(e.id.as_str()), !unique.contains(e.dedupe_key.as_str()));
            }
            // NEW is exactly what was created; CONTINUING only touched events.
            prop_assert_eq!(plan.bundle_new.len(), plan.create.len());
            let touched: HashSet<&str> = plan.touch.iter().map(|t| t.id.as_str()).collect();
            for item in &plan.bundle_renotify {
                prop_assert!(touched.contains(item.event_id.as_str()));
            }
        }
    }
}

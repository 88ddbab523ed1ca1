//! `swf-alarms test <alarm>`: runs one alarm's detector now, against the
//! configured sources, and shows what a tick would do — which events it
//! would create, continue and clear, and the email it would send. Writes
//! nothing at all: every database access here is a read.

use std::process::ExitCode;

use anyhow::{anyhow, Context};

use crate::{
    alarm::Alarm,
    config::Config,
    failing,
    notify::compose::{compose, Limits},
    recipients,
    reconcile::{reconcile, Outcome},
    silence::{self, Silence},
    sources::Sources,
    store, tick, time,
};

pub(crate) async fn run(
    config: &Config,
    entry_id: &str,
    params: Option<&str>,
) -> anyhow::Result<ExitCode> {
    let (pool, client) = super::connect(config, 2).await?;
    let record = store::alarms::find(&client, entry_id)
        .await?
        .ok_or_else(|| {
            anyhow!("no alarm with data.entry_id = {entry_id:?} (see `swf-alarms alarm list`)")
        })?;
    let mut alarm = Alarm::parse(&record.row()).map_err(|e| anyhow!("{entry_id}: {e}"))?;
    if let Some(text) = params {
        alarm.params = serde_json::from_str(text).context("--params is not valid JSON")?;
    }
    let teams = store::alarms::load_teams(&client).await?;
    let resolved = recipients::resolve(&alarm.recipient_tokens, &teams);
    let store::events::Active {
        events: active,
        notes,
        ..
    } = store::events::load_active(&client, &alarm.event_entry_id()).await?;
    for note in notes {
        say!("Note: {note}");
    }
    let now = time::now();
    let unsent = if alarm.notify_on_clear {
        store::events::load_unsent_resolved(&client, &alarm.event_entry_id(), now).await?
    } else {
        Vec::new()
    };
    let sources = Sources::new(config, pool.clone()).map_err(|e| anyhow!(e))?;
    let streak = store::health::load(&client, &alarm.entry_id).await?;
    let silences: Vec<Silence> = tick::load_silences(&client, now)
        .await?
        .remove(&alarm.entry_id)
        .unwrap_or_default()
        .into_iter()
        .filter(|s| s.is_active(now))
        .collect();

    say!(
        "{entry_id}: detector {} with params {}",
        alarm.detector,
        alarm.params
    );
    if let Some(streak) = &streak {
        say!(
            "Failing since {}, {} tick(s) in a row; last error: {}",
            time::utc_label(streak.since),
            streak.failures,
            streak.last_error
        );
    }
    for s in &silences {
        say!("Silenced: {}", silence::describe(s));
    }
    let detections = match tick::detect(&sources, &alarm, config.engine.alarm_timeout, now).await {
        Ok(d) => d,
        Err(error) => {
            let message = crate::error_chain(&error, ": ");
            say!("The detector failed: {message}");
            say!("A tick would record this error and clear nothing.");
            let next = failing::next_streak(streak.as_ref(), Some(&message), now);
            let threshold = alarm.detector_failing_after_minutes * 60.0;
            if let Some(next) = next.filter(|_| threshold > 0.0) {
                match failing::detection(&alarm.entry_id, &alarm.detector, &next, threshold, now) {
                    Some(d) => say!("It would raise (or continue) the event: {}", d.subject),
                    None => say!(
                        "A detector_failing event follows once it has failed on every tick for {} minute(s) (failing for {:.0} so far).",
                        alarm.detector_failing_after_minutes,
                        (now - next.since) / 60.0
                    ),
                }
            }
            return Ok(ExitCode::from(1));
        }
    };
    say!("\n{} detection(s):", detections.len());
    for d in &detections {
        say!("  {}  {}", d.dedupe_key, d.subject);
    }

    let policy = alarm.policy();
    let mut n = 0;
    let mut plan = reconcile(
        &active,
        &unsent,
        Outcome::Detected(&detections),
        now,
        policy,
        || {
            n += 1;
            format!("(new event {n})")
        },
    );
    let key_of = |id: &str| {
        active
            .iter()
            .find(|e| e.id == id)
            .map(|e| e.dedupe_key.clone())
            .unwrap_or_default()
    };
    say!("\nA tick now would:");
    say!(
        "  create   {}: {}",
        plan.create.len(),
        plan.create
            .iter()
            .map(|c| c.detection.dedupe_key.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    );
    say!(
        "  continue {}: {}",
        plan.touch.len(),
        plan.touch
            .iter()
            .map(|t| t.detection.dedupe_key.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    );
    say!(
        "  clear    {}: {}",
        plan.clear.len(),
        plan.clear
            .iter()
            .map(|id| key_of(id))
            .collect::<Vec<_>>()
            .join(", ")
    );
    if plan.held > 0 {
        say!(
            "  hold back {} event(s) from email (notify_after_minutes)",
            plan.held
        );
    }
    let silenced = silence::apply(&mut plan, &alarm.entry_id, &silences, now);
    if silenced.count() > 0 {
        say!(
            "  leave {} silenced event(s) out of the email",
            silenced.count()
        );
    }
    if !plan.has_bundle() {
        say!("\nNo email would be sent.");
        return Ok(ExitCode::SUCCESS);
    }
    let bundle = compose(
        &alarm.entry_id,
        &alarm.description,
        &plan.bundle_new,
        &plan.bundle_renotify,
        &plan.bundle_resolved,
        Limits {
            max_per_section: config.email.max_events_per_section,
            full_list: "the dashboard's run report (a tick would link it)",
        },
    );
    let note = if !alarm.enabled {
        " (not sent: the alarm is disabled)"
    } else if resolved.addresses.is_empty() {
        " (not sent: no recipients)"
    } else {
        ""
    };
    say!(
        "\nThe email{note}:\nFrom: {}\nTo: {}\nSubject: {}\n\n{}",
        config.email.from,
        resolved.addresses.join(", "),
        bundle.subject,
        bundle.body.trim_end()
    );
    Ok(ExitCode::SUCCESS)
}

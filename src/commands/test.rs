//! `swf-alarms test <alarm>`: runs one alarm's detector now, against the
//! configured sources, and shows what a tick would do — which events it
//! would create, continue and clear, and the email it would send. Writes
//! nothing at all: every database access here is a read.

use std::process::ExitCode;

use anyhow::{anyhow, Context};

use crate::{
    alarm::Alarm,
    config::Config,
    notify::compose::{compose, Limits},
    recipients,
    reconcile::{reconcile, Outcome},
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

    say!(
        "{entry_id}: detector {} with params {}",
        alarm.detector,
        alarm.params
    );
    let detections = match tick::detect(&sources, &alarm, config.engine.alarm_timeout, now).await {
        Ok(d) => d,
        Err(error) => {
            say!("The detector failed: {}", crate::error_chain(&error, ": "));
            say!("A tick would record this error and clear nothing.");
            return Ok(ExitCode::from(1));
        }
    };
    say!("\n{} detection(s):", detections.len());
    for d in &detections {
        say!("  {}  {}", d.dedupe_key, d.subject);
    }

    let policy = alarm.policy();
    let mut n = 0;
    let plan = reconcile(
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

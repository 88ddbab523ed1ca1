//! `swf-alarms alarm …`: manage alarm rows without the dashboard. Every
//! edit first writes an `entry_version` snapshot of the row (as the
//! dashboard does), and params are checked against the detector's schema
//! before anything is written.

use std::process::ExitCode;

use anyhow::{anyhow, bail, Context};
use clap::{Args, Subcommand};
use serde_json::{json, Map, Value};

use crate::{
    alarm::Alarm,
    config::Config,
    schema,
    store::{self, alarms::AlarmRecord},
    time,
};

/// `swf-alarms alarm …`
#[derive(Debug, Subcommand)]
pub enum AlarmAction {
    /// List every alarm, archived ones included.
    List,
    /// Print one alarm row as JSON.
    Show {
        /// The alarm's entry_id.
        entry_id: String,
    },
    /// Create an alarm (params are checked against the detector first).
    Create {
        /// The new alarm's entry_id: `alarm_<name>`.
        entry_id: String,
        /// Its settings.
        #[command(flatten)]
        fields: AlarmFields,
        /// Create it with email off.
        #[arg(long)]
        disabled: bool,
    },
    /// Change an alarm; the old row is kept as a version first.
    Update {
        /// The alarm's entry_id.
        entry_id: String,
        /// What to change.
        #[command(flatten)]
        fields: AlarmFields,
        /// Who changes it (default: $USER).
        #[arg(long)]
        by: Option<String>,
    },
    /// Turn an alarm's email on.
    Enable {
        /// The alarm's entry_id.
        entry_id: String,
        /// Who changes it (default: $USER).
        #[arg(long)]
        by: Option<String>,
    },
    /// Turn an alarm's email off (it still runs and records events).
    Disable {
        /// The alarm's entry_id.
        entry_id: String,
        /// Who changes it (default: $USER).
        #[arg(long)]
        by: Option<String>,
    },
    /// Stop running an alarm altogether.
    Archive {
        /// The alarm's entry_id.
        entry_id: String,
        /// Who changes it (default: $USER).
        #[arg(long)]
        by: Option<String>,
    },
}

/// The settings `alarm create` and `alarm update` can set.
#[derive(Debug, Args)]
pub struct AlarmFields {
    /// Detector name (see `swf-alarms detectors`).
    #[arg(long)]
    pub detector: Option<String>,
    /// The detector's params, as a JSON object.
    #[arg(long, value_name = "JSON")]
    pub params: Option<String>,
    /// Recipients: addresses and @teams, separated by commas or spaces.
    #[arg(long)]
    pub recipients: Option<String>,
    /// The description heading every email.
    #[arg(long)]
    pub description: Option<String>,
    /// The row's title.
    #[arg(long)]
    pub title: Option<String>,
    /// Severity copied into events (default warning).
    #[arg(long)]
    pub severity: Option<String>,
    /// Re-send still-firing events after this many hours (0 = never).
    #[arg(long, value_name = "HOURS")]
    pub window_hours: Option<f64>,
    /// Hold new events out of email this many minutes.
    #[arg(long, value_name = "MINUTES")]
    pub notify_after_minutes: Option<f64>,
}

fn changed_by(by: &Option<String>) -> String {
    by.clone()
        .or_else(|| std::env::var("USER").ok())
        .or_else(|| std::env::var("LOGNAME").ok())
        .unwrap_or_else(|| "swf-alarms".into())
}

/// Applies the given fields to `data`/`title`/`content`; refuses params
/// that do not fit the detector.
fn apply(record: &mut AlarmRecord, fields: &AlarmFields) -> anyhow::Result<()> {
    editable(record)?;
    // JSON has no NaN or infinity: serde_json would store null, which
    // reads as "off" and silently changes what the flag asked for.
    for (flag, value) in [
        ("--window-hours", fields.window_hours),
        ("--notify-after-minutes", fields.notify_after_minutes),
    ] {
        if let Some(v) = value {
            if !(v.is_finite() && v >= 0.0) {
                bail!("{flag} must be a number of 0 or more, got {v}; nothing written");
            }
        }
    }
    let data = record
        .data
        .as_object_mut()
        .ok_or_else(|| anyhow!("the row's data is not a JSON object"))?;
    if let Some(detector) = &fields.detector {
        data.insert("detector".into(), json!(detector));
    }
    if let Some(text) = &fields.params {
        let params: Value = serde_json::from_str(text).context("--params is not valid JSON")?;
        data.insert("params".into(), params);
    }
    if let Some(r) = &fields.recipients {
        data.insert("recipients".into(), json!(r));
    }
    if let Some(s) = &fields.severity {
        data.insert("severity".into(), json!(s));
    }
    if let Some(h) = fields.window_hours {
        data.insert("renotification_window_hours".into(), json!(h));
    }
    if let Some(m) = fields.notify_after_minutes {
        data.insert("notify_after_minutes".into(), json!(m));
    }
    if let Some(description) = &fields.description {
        record.content = description.clone();
    }
    if let Some(title) = &fields.title {
        record.title = title.clone();
    }
    validate(record)
}

/// Refuses to edit a row whose `data` could not be read: writing back
/// the stub the engine holds would lose everything else in it.
fn editable(record: &AlarmRecord) -> anyhow::Result<()> {
    match &record.unreadable {
        Some(reason) => bail!(
            "alarm row {}: {reason}; fix or delete it in the database (nothing written)",
            record.id
        ),
        None => Ok(()),
    }
}

fn validate(record: &AlarmRecord) -> anyhow::Result<()> {
    let alarm = Alarm::parse(&record.row()).map_err(|e| anyhow!(e))?;
    let reg = alarms::find(&alarm.detector).ok_or_else(|| {
        anyhow!(
            "no detector named {:?} (see `swf-alarms detectors`)",
            alarm.detector
        )
    })?;
    let not_addresses: Vec<&String> = alarm
        .recipient_tokens
        .iter()
        .filter(|t| !t.starts_with('@') && !crate::recipients::is_address(t))
        .collect();
    if !not_addresses.is_empty() {
        bail!(
            "data.recipients: not an email address or @team (set --recipients), nothing written: {not_addresses:?}"
        );
    }
    let problems = schema::problems(reg, &alarm.params);
    if !problems.is_empty() {
        bail!(
            "invalid params, nothing written:\n  {}",
            problems.join("\n  ")
        );
    }
    Ok(())
}

pub(crate) async fn run(config: &Config, action: &AlarmAction) -> anyhow::Result<ExitCode> {
    let (_pool, mut client) = super::connect(config, 1).await?;
    let now = time::now();
    let find = |records: Option<AlarmRecord>, entry_id: &str| {
        records.ok_or_else(|| anyhow!("no alarm with data.entry_id = {entry_id:?}"))
    };
    match action {
        AlarmAction::List => {
            say!(
                "{:<36} {:<8} {:<24} RECIPIENTS",
                "ALARM",
                "STATE",
                "DETECTOR"
            );
            for r in store::alarms::list(&client).await? {
                let entry_id = r.entry_id();
                let alarm = Alarm::parse(&r.row());
                let (state, detector, recipients) = match &alarm {
                    Ok(a) => (
                        if r.archived {
                            "archived"
                        } else if a.enabled {
                            "on"
                        } else {
                            "muted"
                        },
                        a.detector.clone(),
                        a.recipient_tokens.join(" "),
                    ),
                    Err(_) => ("invalid", "?".to_owned(), String::new()),
                };
                say!("{entry_id:<36} {state:<8} {detector:<24} {recipients}");
            }
        }
        AlarmAction::Show { entry_id } => {
            let r = find(store::alarms::find(&client, entry_id).await?, entry_id)?;
            let shown = json!({"id": r.id, "title": r.title, "content": r.content, "archived": r.archived,
                               "timestamp_created": r.timestamp_created, "timestamp_modified": r.timestamp_modified,
                               "data": r.data, "unreadable": r.unreadable});
            say!("{}", serde_json::to_string_pretty(&shown)?);
        }
        AlarmAction::Create {
            entry_id,
            fields,
            disabled,
        } => {
            if !entry_id.starts_with("alarm_") {
                bail!("an alarm's entry_id is alarm_<name>, got {entry_id:?}");
            }
            if store::alarms::find(&client, entry_id).await?.is_some() {
                bail!("{entry_id} exists already; use `swf-alarms alarm update`");
            }
            let mut data = Map::new();
            data.insert("entry_id".into(), json!(entry_id));
            data.insert("enabled".into(), json!(!disabled));
            let mut record = AlarmRecord {
                id: String::new(),
                title: entry_id.clone(),
                content: String::new(),
                data: Value::Object(data),
                archived: false,
                timestamp_created: now,
                timestamp_modified: now,
                unreadable: None,
            };
            apply(&mut record, fields)?;
            let id =
                store::alarms::insert(&client, &record.title, &record.content, &record.data, now)
                    .await?;
            say!("created {entry_id} ({id})");
        }
        AlarmAction::Update {
            entry_id,
            fields,
            by,
        } => {
            let before = find(store::alarms::find(&client, entry_id).await?, entry_id)?;
            let mut after = before.clone();
            apply(&mut after, fields)?;
            let version =
                store::alarms::edit(&mut client, &before, &after, &changed_by(by), now).await?;
            say!("updated {entry_id}; the previous row is version {version}");
        }
        AlarmAction::Enable { entry_id, by }
        | AlarmAction::Disable { entry_id, by }
        | AlarmAction::Archive { entry_id, by } => {
            let before = find(store::alarms::find(&client, entry_id).await?, entry_id)?;
            editable(&before)?;
            let mut after = before.clone();
            match action {
                AlarmAction::Archive { .. } => after.archived = true,
                _ => {
                    let enabled = matches!(action, AlarmAction::Enable { .. });
                    after
                        .data
                        .as_object_mut()
                        .ok_or_else(|| anyhow!("the row's data is not a JSON object"))?
                        .insert("enabled".into(), json!(enabled));
                }
            }
            let version =
                store::alarms::edit(&mut client, &before, &after, &changed_by(by), now).await?;
            say!("{entry_id}: done; the previous row is version {version}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

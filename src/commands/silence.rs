//! `swf-alarms silence …`: stop mailing about an alarm's events for a
//! while, without editing or disabling the alarm. Bad input (an unknown
//! alarm, an end in the past, an unreadable duration or time, an empty
//! comment) is refused before anything is written. Expiring a silence
//! keeps it, as history, after an `entry_version` snapshot.

use std::process::ExitCode;

use anyhow::{anyhow, bail};
use clap::{ArgGroup, Args, Subcommand};
use serde_json::{json, Value};

use crate::{
    config::Config,
    silence::{self, keys, Silence},
    store::{self, silences::SilenceRecord},
    time,
};

/// `swf-alarms silence …`
#[derive(Debug, Subcommand)]
pub enum SilenceAction {
    /// Stop mailing about an alarm's events (all, or those whose dedupe key
    /// matches --key) until a time; events are still recorded.
    Add(AddArgs),
    /// List silences, newest first: active, pending and expired.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// End a silence now; it stays listed as history.
    Expire {
        /// The silence's id (or the start of it, as `silence list` shows it).
        id: String,
        /// Who ends it (default: $USER).
        #[arg(long)]
        by: Option<String>,
    },
}

/// `silence add` arguments.
#[derive(Debug, Args)]
#[command(group(ArgGroup::new("end").required(true).args(["for_", "until"])))]
pub struct AddArgs {
    /// The alarm's entry_id, e.g. alarm_aurora_ops.
    pub alarm: String,
    /// Only events whose dedupe key matches this glob (`*` any run, `?` one
    /// character), e.g. 'storage:*' or 'task:4*'; default every event.
    #[arg(long, value_name = "PATTERN")]
    pub key: Option<String>,
    /// How long, from now: 30m, 2h, 1d 12h.
    #[arg(long = "for", value_name = "DURATION")]
    pub for_: Option<String>,
    /// Until when: 2026-12-02T14:00:00Z, 2026-12-02T14:00+01:00, or
    /// 2026-12-02 14:00 (UTC).
    #[arg(long, value_name = "TIME")]
    pub until: Option<String>,
    /// Why (required): shown by `silence list` and kept with the row.
    #[arg(long)]
    pub comment: String,
    /// Who asks (default: $USER).
    #[arg(long)]
    pub by: Option<String>,
}

fn who(by: &Option<String>) -> String {
    by.clone()
        .filter(|b| !b.trim().is_empty())
        .or_else(|| std::env::var("USER").ok())
        .or_else(|| std::env::var("LOGNAME").ok())
        .unwrap_or_else(|| "swf-alarms".into())
}

pub(crate) async fn run(config: &Config, action: &SilenceAction) -> anyhow::Result<ExitCode> {
    let (_pool, mut client) = super::connect(config, 1).await?;
    let now = time::now();
    match action {
        SilenceAction::Add(args) => {
            // Everything is checked before the one write.
            let comment = args.comment.trim();
            if comment.is_empty() {
                bail!("--comment is empty; say why the alarm is silenced");
            }
            let key_pattern = match args.key.as_deref().map(str::trim) {
                Some("") => bail!("--key is empty; leave it out to silence every event"),
                other => other.map(str::to_owned),
            };
            let ends_at = silence::end_time(args.for_.as_deref(), args.until.as_deref(), now)
                .map_err(|e| anyhow!(e))?;
            let alarm = args.alarm.trim();
            let record = store::alarms::find(&client, alarm).await?;
            if record.is_none() {
                bail!(
                    "no alarm with data.entry_id = {alarm:?} (see `swf-alarms alarm list`); nothing was written"
                );
            }
            let silence = Silence {
                id: uuid::Uuid::new_v4().to_string(),
                alarm: alarm.to_owned(),
                key_pattern,
                starts_at: now,
                ends_at,
                comment: comment.to_owned(),
                created_by: who(&args.by),
            };
            store::silences::insert(
                &client,
                &silence.id,
                &silence.title(),
                &silence.comment,
                &silence.data(),
                now,
            )
            .await?;
            say!(
                "silence {} added: {} {} until {}",
                short_id(&silence.id),
                silence.alarm,
                silence.key_pattern.as_deref().unwrap_or("(every event)"),
                time::utc_label(silence.ends_at)
            );
            Ok(ExitCode::SUCCESS)
        }
        SilenceAction::List { json } => {
            let records = store::silences::list(&client).await?;
            list(&records, now, *json)?;
            Ok(ExitCode::SUCCESS)
        }
        SilenceAction::Expire { id, by } => {
            let records = store::silences::list(&client).await?;
            let before = find(&records, id)?;
            let current = Silence::parse(&before.id, Some(&before.data))
                .map_err(|e| anyhow!("silence {}: {e}; fix or delete the row", before.id))?;
            if current.ends_at <= now {
                bail!(
                    "silence {} is already over (it ended {}); nothing was written",
                    short_id(&before.id),
                    time::utc_label(current.ends_at)
                );
            }
            let by = who(by);
            let mut after = before.clone();
            if let Some(data) = after.data.as_object_mut() {
                data.insert(keys::ENDS_AT.into(), json!(now));
                data.insert(keys::EXPIRED_BY.into(), json!(by));
                data.insert(keys::EXPIRED_AT.into(), json!(now));
            }
            let version = store::alarms::edit(&mut client, before, &after, &by, now).await?;
            say!(
                "silence {} expired (version {version} kept); its events are mailed from the next tick",
                short_id(&before.id)
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// The silence whose id is `id`, or starts with it (at least 4 characters,
/// and only one may).
fn find<'a>(records: &'a [SilenceRecord], id: &str) -> anyhow::Result<&'a SilenceRecord> {
    let id = id.trim();
    if let Some(exact) = records.iter().find(|r| r.id == id) {
        return Ok(exact);
    }
    if id.len() < 4 {
        bail!("no silence with id {id:?}; give at least 4 characters of it (see `swf-alarms silence list`)");
    }
    let matching: Vec<&SilenceRecord> = records.iter().filter(|r| r.id.starts_with(id)).collect();
    match matching.as_slice() {
        [one] => Ok(one),
        [] => bail!("no silence with id {id:?} (see `swf-alarms silence list`)"),
        many => bail!(
            "{id:?} is the start of {} silences' ids; give more of it",
            many.len()
        ),
    }
}

fn short_id(id: &str) -> &str {
    id.get(..8).unwrap_or(id)
}

/// `active`, `pending` (starts later), `expired`, or `invalid`.
fn state(silence: &Result<Silence, String>, now: f64) -> &'static str {
    match silence {
        Err(_) => "invalid",
        Ok(s) if s.is_active(now) => "active",
        Ok(s) if now < s.starts_at => "pending",
        Ok(_) => "expired",
    }
}

fn list(records: &[SilenceRecord], now: f64, as_json: bool) -> anyhow::Result<()> {
    let parsed: Vec<(&SilenceRecord, Result<Silence, String>)> = records
        .iter()
        .map(|r| (r, Silence::parse(&r.id, Some(&r.data))))
        .collect();
    if as_json {
        let rows: Vec<Value> = parsed
            .iter()
            .map(|(r, s)| {
                let mut row = r.data.clone();
                if let Some(map) = row.as_object_mut() {
                    map.insert("id".into(), json!(r.id));
                    map.insert("state".into(), json!(state(s, now)));
                    if let Err(problem) = s {
                        map.insert("problem".into(), json!(problem));
                    }
                }
                row
            })
            .collect();
        say!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(());
    }
    say!(
        "{:<8} {:<32} {:<16} {:<7} {:<17} {:<10} COMMENT",
        "ID",
        "ALARM",
        "KEY",
        "STATE",
        "ENDS (UTC)",
        "BY"
    );
    for (r, s) in &parsed {
        match s {
            Ok(s) => say!(
                "{:<8} {:<32} {:<16} {:<7} {:<17} {:<10} {}",
                short_id(&r.id),
                s.alarm,
                s.key_pattern.as_deref().unwrap_or("*"),
                state(&Ok(s.clone()), now),
                time::utc_label(s.ends_at).get(..14).unwrap_or_default(),
                s.created_by,
                s.comment.split_whitespace().collect::<Vec<_>>().join(" ")
            ),
            Err(problem) => say!("{:<8} invalid: {problem}", short_id(&r.id)),
        }
    }
    Ok(())
}

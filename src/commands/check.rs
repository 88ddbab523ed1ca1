//! `swf-alarms check`: the config file (already validated on load) and
//! every alarm row — its detector exists, its params fit the schema, its
//! recipients resolve, its numbers are numbers — and every silence row
//! (it reads as a silence; one in force names a live alarm). Lists every
//! problem with the alarm's entry_id (or the silence's id); exit status 1
//! when there is any.

use std::process::ExitCode;

use crate::{alarm::Alarm, config::Config, recipients, schema, silence::Silence, store};

pub(crate) async fn run(config: &Config) -> anyhow::Result<ExitCode> {
    let (_pool, client) = super::connect(config, 1).await?;
    let records = store::alarms::list(&client).await?;
    let teams = store::alarms::load_teams(&client).await?;
    let mut problems: Vec<(String, String)> = Vec::new();
    let mut checked = 0;
    // Rows come newest first within an entry_id: the first one seen is
    // the one a tick runs.
    let mut seen = std::collections::HashMap::new();
    for record in records.iter().filter(|r| !r.archived) {
        checked += 1;
        let key = record.entry_id();
        match seen.get(&key) {
            None => {
                seen.insert(key.clone(), record.id.clone());
            }
            Some(newest) => problems.push((
                key.clone(),
                format!(
                    "data.entry_id is used by more than one live alarm row: {} does not run, {newest} (the newest) does",
                    record.id
                ),
            )),
        }
        let alarm = match Alarm::parse(&record.row()) {
            Ok(alarm) => alarm,
            Err(reason) => {
                problems.push((key, format!("alarm row {}: {reason}", record.id)));
                continue;
            }
        };
        match alarms::find(&alarm.detector) {
            None => problems.push((
                key.clone(),
                format!("no detector named {:?}", alarm.detector),
            )),
            Some(reg) => {
                for p in schema::problems(reg, &alarm.params) {
                    problems.push((key.clone(), p));
                }
            }
        }
        let resolved = recipients::resolve(&alarm.recipient_tokens, &teams);
        for team in &resolved.unresolved_teams {
            problems.push((
                key.clone(),
                format!("data.recipients: team {team} does not resolve"),
            ));
        }
        for token in &resolved.not_addresses {
            problems.push((
                key.clone(),
                format!("data.recipients: {token:?} is not an email address (a tick drops it)"),
            ));
        }
        if alarm.enabled && resolved.addresses.is_empty() {
            problems.push((
                key.clone(),
                "data.recipients: nobody would receive its email".into(),
            ));
        }
    }
    // Silence rows: each must read as a silence, and one still in force
    // must name an alarm that exists.
    let now = crate::time::now();
    let silences = store::silences::list(&client).await?;
    let live: Vec<_> = silences.iter().filter(|s| !s.archived).collect();
    for row in &live {
        let label = format!("silence {}", row.id);
        if let Some(problem) = &row.unreadable {
            problems.push((label, problem.clone()));
            continue;
        }
        match Silence::parse(&row.id, Some(&row.data)) {
            Err(reason) => problems.push((label, reason)),
            Ok(s) if s.ends_at > now && !seen.contains_key(&s.alarm) => problems.push((
                label,
                format!(
                    "data.alarm: no live alarm has data.entry_id = {:?}; the silence covers nothing",
                    s.alarm
                ),
            )),
            Ok(_) => {}
        }
    }
    for (alarm, problem) in &problems {
        say!("{alarm}: {problem}");
    }
    say!(
        "config ok; {checked} alarm(s) checked, {} problem(s){}{}",
        problems.len(),
        if records.len() > checked {
            format!(" ({} archived alarm(s) skipped)", records.len() - checked)
        } else {
            String::new()
        },
        if live.is_empty() {
            String::new()
        } else {
            format!("; {} silence row(s) checked", live.len())
        }
    );
    Ok(if problems.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

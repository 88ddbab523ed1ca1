//! `swf-alarms sends [<alarm>] [--since TIME] [--json]`: the notification
//! ledger, newest first — every email the engine tried to send, its
//! state, attempts, the provider's message id or the error. `status`
//! shows the last few with the same layout.

use std::process::ExitCode;

use anyhow::anyhow;

use crate::{
    config::Config,
    store::{self, ledger::Send},
    time,
};

/// Rows listed at most.
const LIMIT: i64 = 200;

pub(crate) async fn run(
    config: &Config,
    alarm: Option<&str>,
    since: Option<&str>,
    as_json: bool,
) -> anyhow::Result<ExitCode> {
    let since = since
        .map(|t| super::replay::parse_time(t).map_err(|e| anyhow!("--since: {e}")))
        .transpose()?;
    let (_pool, client) = super::connect(config, 1).await?;
    let sends = store::ledger::list(&client, alarm, since, LIMIT).await?;
    if as_json {
        say!("{}", serde_json::to_string_pretty(&sends)?);
    } else if sends.is_empty() {
        say!("No sends recorded.");
    } else {
        print_table(&sends);
    }
    Ok(ExitCode::SUCCESS)
}

/// The ledger rows in 80 columns: a line of facts, the subject, then
/// what went wrong or the provider's id.
pub(crate) fn print_table(sends: &[Send]) {
    say!(
        "{:<11} {:<38} {:<13} {:>5} {:>6}",
        "SENT (UTC)",
        "ALARM",
        "STATE",
        "TRIES",
        "EVENTS"
    );
    for s in sends {
        say!(
            "{:<11} {:<38} {:<13} {:>5} {:>6}",
            time::short_label(s.sending_at),
            cut(&s.alarm, 37),
            s.state,
            s.attempts,
            s.event_ids.len()
        );
        say!("  {}", cut(&s.subject, 76));
        if let Some(error) = &s.error {
            say!("  error: {}", cut(error, 70));
        } else if let Some(id) = &s.message_id {
            say!("  {} id: {}", s.provider, cut(id, 66));
        }
    }
}

fn cut(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_owned(),
    }
}

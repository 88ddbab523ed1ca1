//! `swf-alarms run`: one tick.

use std::process::ExitCode;

use anyhow::Context;

use crate::{
    config::Config,
    tick::{run_tick, TickOptions, TickOutcome},
};

pub(crate) async fn run(config: &Config, dry_run: bool) -> anyhow::Result<ExitCode> {
    let options = TickOptions { dry_run, now: None };
    let outcome = run_tick(config, &options)
        .await
        .with_context(|| format!("tick against {} did not run", config.db.target()))?;
    Ok(match outcome {
        TickOutcome::AlreadyRunning => {
            tracing::info!("Another tick is already running (advisory lock held); nothing to do.");
            ExitCode::SUCCESS
        }
        TickOutcome::Done(summary) if summary.alarms_errored > 0 => ExitCode::from(1),
        TickOutcome::Done(_) => ExitCode::SUCCESS,
    })
}

//! `swf-alarms run`: one tick, then the metrics textfile and the heartbeat
//! ping, whatever became of the tick.

use std::process::ExitCode;

use anyhow::Context;

use crate::{
    config::Config,
    heartbeat,
    metrics::{self, Attempt},
    status_page,
    tick::{run_tick, LockReport, TickOptions, TickOutcome},
    time,
};

pub(crate) async fn run(config: &Config, dry_run: bool) -> anyhow::Result<ExitCode> {
    let options = TickOptions { dry_run, now: None };
    let result = run_tick(config, &options).await;
    if let Some(path) = &config.engine.metrics_textfile {
        let attempt = match &result {
            Ok(TickOutcome::Done(summary)) => Attempt::Ran(summary),
            Ok(TickOutcome::AlreadyRunning(report)) => Attempt::LockedOut {
                stuck: report.stuck,
            },
            Err(_) => Attempt::DidNotRun,
        };
        if let Err(error) = metrics::write(path, attempt, time::now()) {
            tracing::warn!(error = %error, path = %path.display(), "Writing the metrics textfile failed.");
        }
    }
    if let Some(path) = &config.engine.status_page {
        let note = match &result {
            Ok(TickOutcome::Done(_)) => None,
            Ok(TickOutcome::AlreadyRunning(_)) => {
                Some("locked out: another tick holds the lock".to_owned())
            }
            Err(error) => Some(format!("the tick did not run: {error:#}")),
        };
        if let Err(error) = status_page::write(config, path, None, note).await {
            tracing::warn!(error = %error, path = %path.display(), "Writing the status page failed.");
        }
    }
    heartbeat::after_tick(config.engine.heartbeat.as_ref(), &result, dry_run).await;
    let outcome =
        result.with_context(|| format!("tick against {} did not run", config.db.target()))?;
    Ok(match outcome {
        TickOutcome::AlreadyRunning(report) => locked_out(config, &report),
        TickOutcome::Done(summary) if summary.failed() => ExitCode::from(1),
        TickOutcome::Done(_) => ExitCode::SUCCESS,
    })
}

/// Another session holds the tick lock: an overlap is normal (exit 0); a
/// lock held past `engine.stuck_after` is a stuck tick (exit 1), so that
/// cron mail and the metrics show it.
fn locked_out(config: &Config, report: &LockReport) -> ExitCode {
    let held_s = report.held_for.map(|d| d.as_secs());
    let Some(holder) = &report.holder else {
        tracing::info!("Another tick is already running (advisory lock held); nothing to do.");
        return ExitCode::SUCCESS;
    };
    if report.stuck {
        tracing::error!(
            pid = holder.pid,
            application = %holder.application,
            client = %holder.client,
            held_s,
            state = %holder.state,
            query = %holder.query,
            stuck_after_s = config.engine.stuck_after.as_secs(),
            "The tick lock has been held longer than engine.stuck_after; a tick is stuck. \
             Nothing was done; end that session (pg_terminate_backend(pid)) if it does not finish."
        );
        return ExitCode::from(1);
    }
    tracing::info!(
        pid = holder.pid,
        application = %holder.application,
        client = %holder.client,
        held_s,
        state = %holder.state,
        "Another tick is already running (advisory lock held); nothing to do."
    );
    ExitCode::SUCCESS
}

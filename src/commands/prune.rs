//! `swf-alarms prune`: delete run rows and cleared events older than
//! `engine.retention_days` (or `--days`) now, or with `--dry-run` only
//! count them. The tick prunes by itself; this is for a first clean-up
//! or a look before turning retention on.

use std::process::ExitCode;

use crate::{config::Config, store, time};

pub(crate) async fn run(
    config: &Config,
    dry_run: bool,
    days: Option<f64>,
) -> anyhow::Result<ExitCode> {
    let days = match days {
        Some(days) if days.is_finite() && days > 0.0 => days,
        Some(days) => anyhow::bail!("--days must be a positive number of days, got {days}"),
        None => match config.engine.retention {
            Some(retention) => retention.as_secs_f64() / 86_400.0,
            None => {
                say!("engine.retention_days is 0 (keep everything) and no --days given: nothing to prune.");
                return Ok(ExitCode::SUCCESS);
            }
        },
    };
    let cutoff = time::now() - days * 86_400.0;
    let (_pool, client) = super::connect(config, 1).await?;
    let before = time::utc_label(cutoff);
    if dry_run {
        let found = store::prune::count(&client, cutoff).await?;
        say!(
            "Would delete {} run row(s) and {} cleared event(s) older than {days} day(s) (before {before}).",
            found.runs,
            found.events
        );
        return Ok(ExitCode::SUCCESS);
    }
    // Batch after batch until nothing old is left.
    let done = store::prune::delete(&client, cutoff, usize::MAX).await?;
    say!(
        "Deleted {} run row(s) and {} cleared event(s) older than {days} day(s) (before {before}).",
        done.runs,
        done.events
    );
    Ok(ExitCode::SUCCESS)
}

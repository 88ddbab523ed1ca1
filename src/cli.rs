//! The command line: parsing, logging set-up, and the one place where an
//! outcome becomes an exit status (0 all alarms ran, 1 some alarm failed,
//! 2 nothing could be done: bad configuration or database).

use std::{ffi::OsString, path::PathBuf, process::ExitCode};

use clap::{Parser, Subcommand};

use crate::{commands, commands::alarm::AlarmAction, config::Config, logging::LogFormat};

/// A Postgres-backed polling alarm engine: run it from cron every five minutes.
///
/// Every command reads the engine's TOML config (`--config FILE`); see
/// config.toml.example for every key.
#[derive(Debug, Parser)]
#[command(name = "swf-alarms", version, propagate_version = true)]
pub struct Cli {
    /// The engine's TOML config file.
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Log debug detail (every bundled event and why).
    #[arg(short, long, global = true)]
    pub verbose: bool,
    /// Log line format: `text` for people, `json` for log shippers.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run one tick: every alarm once, record the run, exit. The cron entry.
    Run {
        /// Detect and write all state, but send no email.
        #[arg(long)]
        dry_run: bool,
    },
    /// Create or update the database schema (safe on a dashboard's database, safe to repeat).
    Migrate,
    /// Delete run rows and cleared events older than engine.retention_days (the tick does this too).
    Prune {
        /// Only count what would be deleted.
        #[arg(long)]
        dry_run: bool,
        /// Use this many days instead of engine.retention_days.
        #[arg(long, value_name = "DAYS")]
        days: Option<f64>,
    },
    /// List the registered detectors and their parameters.
    Detectors {
        /// Print JSON (what a dashboard's alarm editor needs).
        #[arg(long)]
        json: bool,
    },
    /// Validate the config file and every alarm row; exit 1 on any problem.
    Check,
    /// Show each alarm's state and the last ticks.
    Status {
        /// Print JSON.
        #[arg(long)]
        json: bool,
        /// How many recent ticks to show.
        #[arg(long, default_value_t = 5)]
        ticks: i64,
        /// Write the HTML status page to FILE instead (what
        /// `engine.status_page` gets after every tick).
        #[arg(long, value_name = "FILE", conflicts_with = "json")]
        html: Option<PathBuf>,
    },
    /// Run one alarm's detector now and show what a tick would do; writes nothing.
    Test {
        /// The alarm's entry_id, e.g. alarm_panda_failure_rate_sakib.
        alarm: String,
        /// Try these params (JSON) instead of the stored ones.
        #[arg(long, value_name = "JSON")]
        params: Option<String>,
    },
    /// Replay one alarm over the recorded ops snapshots of a window and
    /// print when its events would have fired, been mailed and cleared;
    /// writes nothing, sends nothing.
    Replay {
        /// The alarm's entry_id, e.g. alarm_aurora_ops.
        alarm: String,
        /// Start of the window (UTC): 2026-08-21T14:00:00Z, "2026-08-21 14:00" or 2026-08-21.
        #[arg(long, value_name = "TIME")]
        from: String,
        /// End of the window (UTC), same forms as --from.
        #[arg(long, value_name = "TIME")]
        to: String,
        /// Try these params (JSON) instead of the stored ones.
        #[arg(long, value_name = "JSON")]
        params: Option<String>,
        /// The ops monitor's directory of day files (default: the params'
        /// snapshot_dir, else engine.ops_snapshot_dir).
        #[arg(long, value_name = "DIR")]
        snapshot_dir: Option<PathBuf>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Silence an alarm's email for a while (add, list, expire).
    Silence {
        /// What to do with silences.
        #[command(subcommand)]
        action: commands::silence::SilenceAction,
    },
    /// List the emails the engine tried to send (the notification ledger), newest first.
    Sends {
        /// Only this alarm's (its entry_id).
        alarm: Option<String>,
        /// Only sends since this time (UTC), same forms as replay's --from.
        #[arg(long, value_name = "TIME")]
        since: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Manage alarm rows (for sites without the dashboard).
    Alarm {
        /// What to do with alarms.
        #[command(subcommand)]
        action: AlarmAction,
    },
}

/// Arguments as given, with `swf-alarms-run …` (the old engine's
/// command name, kept for existing crontabs) read as `swf-alarms run …`.
fn args() -> Vec<OsString> {
    let mut args: Vec<OsString> = std::env::args_os().collect();
    let invoked_as_run = args
        .first()
        .and_then(|a| {
            std::path::Path::new(a)
                .file_name()
                .map(|n| n == "swf-alarms-run")
        })
        .unwrap_or(false);
    if invoked_as_run {
        args.insert(1, "run".into());
    }
    args
}

/// Runs the command line and returns the process exit status.
pub fn main() -> ExitCode {
    let cli = Cli::parse_from(args());
    if let Command::Detectors { json } = cli.command {
        return report(commands::detectors::run(json));
    }
    let Some(path) = &cli.config else {
        eprintln!("swf-alarms: configuration error: --config FILE is required for this command");
        return ExitCode::from(2);
    };
    let config = match Config::load(path) {
        Ok(config) => config,
        Err(error) => {
            eprintln!("swf-alarms: configuration error: {error}");
            return ExitCode::from(2);
        }
    };
    // A tick logs to standard output (cron mails it); the other commands
    // print their answer there, so their logs go to standard error.
    let is_tick = matches!(cli.command, Command::Run { .. } | Command::Migrate);
    if let Err(error) = crate::logging::init(
        cli.verbose,
        cli.log_format,
        config.engine.log_path.as_deref(),
        is_tick,
    ) {
        eprintln!("swf-alarms: configuration error: {error}");
        return ExitCode::from(2);
    }
    for warning in &config.warnings {
        tracing::warn!("{warning}");
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("swf-alarms: cannot start the async runtime: {error}");
            return ExitCode::from(2);
        }
    };
    let result = runtime.block_on(async {
        match &cli.command {
            Command::Run { dry_run } => commands::run::run(&config, *dry_run).await,
            Command::Migrate => commands::migrate::run(&config).await,
            Command::Prune { dry_run, days } => {
                commands::prune::run(&config, *dry_run, *days).await
            }
            Command::Check => commands::check::run(&config).await,
            Command::Status {
                html: Some(path), ..
            } => commands::status::write_html(&config, path).await,
            Command::Status { json, ticks, .. } => {
                commands::status::run(&config, *json, *ticks).await
            }
            Command::Test { alarm, params } => {
                commands::test::run(&config, alarm, params.as_deref()).await
            }
            Command::Alarm { action } => commands::alarm::run(&config, action).await,
            Command::Sends { alarm, since, json } => {
                commands::sends::run(&config, alarm.as_deref(), since.as_deref(), *json).await
            }
            Command::Replay {
                alarm,
                from,
                to,
                params,
                snapshot_dir,
                json,
            } => {
                let args = commands::replay::ReplayArgs {
                    alarm: alarm.clone(),
                    from: from.clone(),
                    to: to.clone(),
                    params: params.clone(),
                    snapshot_dir: snapshot_dir.clone(),
                    json: *json,
                };
                commands::replay::run(&config, &args).await
            }
            Command::Silence { action } => commands::silence::run(&config, action).await,
            Command::Detectors { .. } => unreachable!("handled before the config is read"),
        }
    });
    // Dropping the runtime would wait for every blocking thread, and a
    // detector's thread can be stuck in a read no timeout reaches (a
    // named pipe, a hung NFS mount): the tick has recorded its outcome,
    // so the process ends regardless.
    runtime.shutdown_timeout(RUNTIME_SHUTDOWN);
    report(result)
}

/// How long the end of a command waits for leftover threads.
const RUNTIME_SHUTDOWN: std::time::Duration = std::time::Duration::from_secs(2);

/// Turns a command's result into the exit status, printing a fatal error.
fn report(result: anyhow::Result<ExitCode>) -> ExitCode {
    match result {
        Ok(code) => code,
        Err(error) => {
            tracing::error!("{error:#}");
            eprintln!("swf-alarms: {error:#}");
            ExitCode::from(2)
        }
    }
}

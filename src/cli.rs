//! The command line: parsing, logging set-up, and the one place where an
//! outcome becomes an exit status (0 all alarms ran, 1 some alarm failed,
//! 2 nothing could be done: bad configuration or database).

use std::{ffi::OsString, path::PathBuf, process::ExitCode};

use clap::{Parser, Subcommand, ValueEnum};

use crate::{commands, config::Config};

/// A Postgres-backed polling alarm engine: run it from cron every five minutes.
#[derive(Debug, Parser)]
#[command(name = "swf-alarms", version, propagate_version = true)]
pub struct Cli {
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

/// Log line formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run one tick: every alarm once, record the run, exit. The cron entry.
    Run {
        /// The engine's TOML config file.
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
        /// Detect and write all state, but send no email.
        #[arg(long)]
        dry_run: bool,
    },
    /// Create or update the database schema (safe on a dashboard's database, safe to repeat).
    Migrate {
        /// The engine's TOML config file.
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
    },
}

impl Command {
    fn config_path(&self) -> &PathBuf {
        match self {
            Command::Run { config, .. } | Command::Migrate { config } => config,
        }
    }
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
    let config = match Config::load(cli.command.config_path()) {
        Ok(config) => config,
        Err(error) => {
            eprintln!("swf-alarms: configuration error: {error}");
            return ExitCode::from(2);
        }
    };
    if let Err(error) = crate::logging::init(
        cli.verbose,
        cli.log_format,
        config.engine.log_path.as_deref(),
    ) {
        eprintln!("swf-alarms: configuration error: {error}");
        return ExitCode::from(2);
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
            Command::Run { dry_run, .. } => commands::run::run(&config, *dry_run).await,
            Command::Migrate { .. } => commands::migrate::run(&config).await,
        }
    });
    match result {
        Ok(code) => code,
        Err(error) => {
            tracing::error!("{error:#}");
            eprintln!("swf-alarms: {error:#}");
            ExitCode::from(2)
        }
    }
}

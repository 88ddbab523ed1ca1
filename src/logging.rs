//! Logging set-up: tracing to standard output, and to `engine.log_path`
//! as well when it is set.

use std::{fs::OpenOptions, path::Path, sync::Arc};

use clap::ValueEnum;
use tracing_subscriber::{fmt::writer::MakeWriterExt, EnvFilter};

/// Log line formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// Installs the global subscriber. `RUST_LOG` overrides the level.
pub(crate) fn init(
    verbose: bool,
    format: LogFormat,
    log_path: Option<&Path>,
    to_stdout: bool,
) -> Result<(), String> {
    let level = match (verbose, to_stdout) {
        (true, _) => "debug",
        (false, true) => "info",
        (false, false) => "warn",
    };
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new(format!("warn,swf_alarms={level},alarms={level}")));
    let file = match log_path {
        Some(path) => Some(Arc::new(
            OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .map_err(|e| format!("engine.log_path: cannot open {}: {e}", path.display()))?,
        )),
        None => None,
    };
    if !to_stdout {
        // Commands other than a tick answer on standard output; their
        // logs go to standard error and to the log file as usual.
        let builder = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
        let result = match (format, file) {
            (LogFormat::Text, None) => builder.with_writer(std::io::stderr).try_init(),
            (LogFormat::Text, Some(f)) => builder
                .with_ansi(false)
                .with_writer(std::io::stderr.and(f))
                .try_init(),
            (LogFormat::Json, None) => builder.json().with_writer(std::io::stderr).try_init(),
            (LogFormat::Json, Some(f)) => builder
                .json()
                .with_writer(std::io::stderr.and(f))
                .try_init(),
        };
        return result.map_err(|e| format!("cannot install the logger: {e}"));
    }
    let colour = std::io::IsTerminal::is_terminal(&std::io::stdout());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(colour);
    let result = match (format, file) {
        (LogFormat::Text, None) => builder.with_writer(std::io::stdout).try_init(),
        (LogFormat::Text, Some(f)) => builder
            .with_ansi(false)
            .with_writer(std::io::stdout.and(f))
            .try_init(),
        (LogFormat::Json, None) => builder.json().with_writer(std::io::stdout).try_init(),
        (LogFormat::Json, Some(f)) => builder
            .json()
            .with_writer(std::io::stdout.and(f))
            .try_init(),
    };
    result.map_err(|e| format!("cannot install the logger: {e}"))
}

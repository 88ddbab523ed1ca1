//! swf-alarms: a Postgres-backed polling alarm engine with pluggable detectors.
//!
//! Cron starts `swf-alarms run` every few minutes. Each run is one *tick*:
//! load the alarm rows from Postgres, run each alarm's detector, keep one
//! event row per firing entity (created, touched, cleared), send at most
//! one bundled email per alarm, record the tick in an `engine_run` row, and
//! exit. The tables are shared with a web dashboard, whose layout and JSON
//! key names are a contract (see DESIGN.md).
//!
//! Reading order for a newcomer:
//! - [`cli`] — the commands, and how outcomes become exit statuses;
//! - [`config`] — the TOML file, validated in one step;
//! - `tick` — one tick, step by step; `reconcile` — the pure decision at its
//!   heart; `notify` — composing and sending the bundle;
//! - `store` — all SQL: migrations, the tick lock, alarm/event/run rows;
//! - the `alarms` crate — the detector contract and the detectors.

/// Prints a line of a command's answer on standard output. When the
/// reader has gone away (`swf-alarms status | head`), the process ends
/// quietly with success instead of panicking on the broken pipe.
macro_rules! say {
    ($($arg:tt)*) => {
        $crate::output::emit(&format!($($arg)*))
    };
}

// The detectors register themselves with `inventory` in the alarms crate;
// naming the crate keeps the linker from dropping their registrations.
use alarms as _;

pub(crate) mod alarm;
pub mod cli;
mod commands;
pub mod config;
pub(crate) mod failing;
pub(crate) mod heartbeat;
pub(crate) mod ledger;
mod logging;
pub(crate) mod metrics;
pub(crate) mod notify;
mod output;
pub(crate) mod recipients;
pub(crate) mod reconcile;
pub mod replay;
pub(crate) mod schema;
pub(crate) mod silence;
pub(crate) mod sources;
pub mod status_page;
pub mod store;
pub mod tick;
pub(crate) mod time;

/// An error and its causes, joined by `separator`: the driver's detail
/// (a Postgres message, an I/O error) is often in a cause, not the top.
pub fn error_chain(error: &dyn std::error::Error, separator: &str) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let line = cause.to_string();
        if !text.ends_with(&line) {
            text.push_str(separator);
            text.push_str(&line);
        }
        source = cause.source();
    }
    text
}

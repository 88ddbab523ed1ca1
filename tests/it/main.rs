//! Integration tests: one binary, one module per area, against a real
//! Postgres started by the harness.

mod harness;

mod cli;
mod commands;
mod compat;
mod db_tls;
mod deadlines;
mod examples;
mod failing;
mod heartbeat;
mod hostile;
mod ledger;
mod migrate;
mod migrate_safety;
mod notify_ses;
mod notify_smtp;
mod ops;
mod panda;
mod replay;
mod resilience;
mod retention;
mod silences;
mod smtp_tls;
mod status_page;
mod tick;

//! `swf-alarms migrate`: apply pending schema migrations.

use std::process::ExitCode;

use anyhow::Context;

use crate::{config::Config, store};

pub(crate) async fn run(config: &Config) -> anyhow::Result<ExitCode> {
    let mut client = store::connect(&config.db)
        .await
        .with_context(|| format!("migrating {}", config.db.target()))?;
    let applied = store::migrate::apply(&mut client)
        .await
        .with_context(|| format!("migrating {}", config.db.target()))?;
    if applied.is_empty() {
        tracing::info!(database = %config.db.target(), "Schema is up to date.");
    }
    for done in &applied {
        tracing::info!(migration = done.migration.name, "Migration applied.");
        for line in &done.report {
            tracing::warn!(migration = done.migration.name, "{line}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

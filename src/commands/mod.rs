//! One module per subcommand; each returns its exit status, or an error
//! that the CLI reports with exit status 2.

pub(crate) mod alarm;
pub(crate) mod check;
pub(crate) mod detectors;
pub(crate) mod migrate;
pub(crate) mod prune;
pub(crate) mod replay;
pub(crate) mod run;
pub(crate) mod sends;
pub(crate) mod silence;
pub(crate) mod status;
pub(crate) mod test;

/// A pool of `size` connections to the configured database and one
/// connection from it, with the target named if that fails.
pub(crate) async fn connect(
    config: &crate::config::Config,
    size: usize,
) -> anyhow::Result<(deadpool_postgres::Pool, deadpool_postgres::Object)> {
    use anyhow::Context;
    let pool = crate::store::pool(&config.db, size)?;
    let client = pool
        .get()
        .await
        .with_context(|| format!("connecting to {}", config.db.target()))?;
    Ok((pool, client))
}

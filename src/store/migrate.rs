//! Schema migrations: the numbered files of `migrations/`, embedded in the
//! binary and recorded in a table of their own.
//!
//! Every migration is written to be safe on a database the dashboard
//! created first: it creates what is missing and never drops data. A
//! migration reports what it changed by returning rows; they are logged.

use tokio_postgres::{Client, SimpleQueryMessage};

use super::{ctx, StoreError};

/// One embedded migration.
#[derive(Debug, Clone, Copy)]
pub struct Migration {
    /// Its number, the file's `NNNN` prefix.
    pub version: i32,
    /// The file name without `.sql`.
    pub name: &'static str,
    sql: &'static str,
}

macro_rules! migration {
    ($version:literal, $name:literal) => {
        Migration {
            version: $version,
            name: $name,
            sql: include_str!(concat!("../../migrations/", $name, ".sql")),
        }
    };
}

/// Every migration, in order. A test checks that this lists every file
/// of `migrations/`.
pub const MIGRATIONS: &[Migration] = &[
    migration!(1, "0001_dashboard_tables"),
    migration!(2, "0002_one_active_event"),
    migration!(3, "0003_contexts"),
    migration!(4, "0004_alarm_health"),
    migration!(5, "0005_active_event_table"),
];

const HISTORY_TABLE: &str = "swf_alarms_migrations";

/// Advisory lock key that serialises concurrent `migrate` runs.
const MIGRATE_LOCK_KEY: i64 = 0x7377_6661_6d69_6772;

/// The migrations not yet applied to this database.
pub async fn pending(client: &Client) -> Result<Vec<Migration>, StoreError> {
    let row = client
        .query_one("SELECT to_regclass($1) IS NOT NULL", &[&HISTORY_TABLE])
        .await
        .map_err(ctx("reading the migration history"))?;
    let exists: bool = row.get(0);
    if !exists {
        return Ok(MIGRATIONS.to_vec());
    }
    let rows = client
        .query(&format!("SELECT version FROM {HISTORY_TABLE}"), &[])
        .await
        .map_err(ctx("reading the migration history"))?;
    let applied: Vec<i32> = rows.iter().map(|r| r.get(0)).collect();
    Ok(MIGRATIONS
        .iter()
        .filter(|m| !applied.contains(&m.version))
        .copied()
        .collect())
}

/// What applying one migration did.
#[derive(Debug)]
pub struct Applied {
    /// The migration.
    pub migration: Migration,
    /// One line per row the migration returned (its report).
    pub report: Vec<String>,
}

/// Applies every pending migration, each in its own transaction.
pub async fn apply(client: &mut Client) -> Result<Vec<Applied>, StoreError> {
    client
        .batch_execute(&format!(
            "CREATE TABLE IF NOT EXISTS {HISTORY_TABLE} (
                 version    integer PRIMARY KEY,
                 name       text NOT NULL,
                 applied_at double precision NOT NULL
             )"
        ))
        .await
        .map_err(ctx("creating the migration history table"))?;

    let mut done = Vec::new();
    loop {
        let txn = client
            .transaction()
            .await
            .map_err(ctx("starting a migration"))?;
        txn.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATE_LOCK_KEY])
            .await
            .map_err(ctx("taking the migration lock"))?;
        // Under the lock, so a concurrent migrate cannot apply it twice.
        let next = {
            let rows = txn
                .query(&format!("SELECT version FROM {HISTORY_TABLE}"), &[])
                .await
                .map_err(ctx("reading the migration history"))?;
            let applied: Vec<i32> = rows.iter().map(|r| r.get(0)).collect();
            MIGRATIONS.iter().find(|m| !applied.contains(&m.version))
        };
        let Some(migration) = next.copied() else {
            txn.commit().await.map_err(ctx("finishing migrations"))?;
            return Ok(done);
        };
        let messages = txn.simple_query(migration.sql).await.map_err(|e| {
            StoreError::Schema(format!(
                "migration {} failed: {}",
                migration.name,
                crate::error_chain(&e, ": ")
            ))
        })?;
        let report = messages
            .iter()
            .filter_map(|m| match m {
                SimpleQueryMessage::Row(row) => Some(
                    (0..row.len())
                        .map(|i| {
                            format!(
                                "{}={}",
                                row.columns()[i].name(),
                                row.get(i).unwrap_or("null")
                            )
                        })
                        .collect::<Vec<_>>()
                        .join(" "),
                ),
                _ => None,
            })
            .collect();
        txn.execute(
            &format!(
                "INSERT INTO {HISTORY_TABLE} (version, name, applied_at)
                 VALUES ($1, $2, extract(epoch FROM now())::double precision)"
            ),
            &[&migration.version, &migration.name],
        )
        .await
        .map_err(ctx("recording a migration"))?;
        txn.commit().await.map_err(ctx("committing a migration"))?;
        done.push(Applied { migration, report });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_file_is_listed_in_order() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/migrations");
        let mut files: Vec<String> = std::fs::read_dir(dir)
            .expect("migrations/ exists")
            .filter_map(|e| e.ok())
            .filter_map(|e| e.file_name().to_str().map(str::to_owned))
            .filter_map(|n| n.strip_suffix(".sql").map(str::to_owned))
            .collect();
        files.sort();
        let listed: Vec<&str> = MIGRATIONS.iter().map(|m| m.name).collect();
        assert_eq!(files, listed);
        for (i, m) in MIGRATIONS.iter().enumerate() {
            assert_eq!(m.version as usize, i + 1);
            assert!(m.name.starts_with(&format!("{:04}_", m.version)));
        }
    }
}

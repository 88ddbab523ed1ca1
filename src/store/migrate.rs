//! Schema migrations: the numbered files of `migrations/`, embedded in the
//! binary and recorded in a table of their own.
//!
//! Every migration is written to be safe on a database the dashboard
//! created first: it creates what is missing and never drops data. A
//! migration reports what it changed by returning rows; they are logged.
//!
//! The history keeps each applied migration's checksum (the `md5` of its
//! text, computed by Postgres): a migration edited after it was applied
//! is refused, by `migrate` and by the tick, instead of silently leaving
//! databases that differ. Migrations run with no statement timeout (an
//! index build on a large table takes what it takes) but under the
//! session's `lock_timeout`, so a migration never queues the dashboard's
//! writes behind a lock it waits for.

use tokio_postgres::{Client, GenericClient, SimpleQueryMessage};

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
    migration!(6, "0006_ledger"),
    migration!(7, "0007_engine_row_indexes"),
    migration!(8, "0008_run_record_staging"),
    migration!(9, "0009_entry_fillfactor"),
    migration!(10, "0010_entry_parent_index"),
];

const HISTORY_TABLE: &str = "swf_alarms_migrations";

/// Advisory lock key that serialises concurrent `migrate` runs.
const MIGRATE_LOCK_KEY: i64 = 0x7377_6661_6d69_6772;

/// The migrations not yet applied to this database; an error when an
/// applied one was edited since.
pub async fn pending(client: &Client) -> Result<Vec<Migration>, StoreError> {
    let row = client
        .query_one(
            "SELECT to_regclass($1) IS NOT NULL,
                    EXISTS (SELECT 1 FROM pg_attribute
                            WHERE attrelid = to_regclass($1) AND attname = 'checksum'
                              AND NOT attisdropped)",
            &[&HISTORY_TABLE],
        )
        .await
        .map_err(ctx("reading the migration history"))?;
    let exists: bool = row.get(0);
    if !exists {
        return Ok(MIGRATIONS.to_vec());
    }
    // A history from before checksums has nothing to compare yet; the
    // next `migrate` records them.
    let has_checksums: bool = row.get(1);
    if has_checksums {
        verify(client).await?;
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

/// The embedded migrations as two parallel arrays, for `unnest`.
fn embedded() -> (Vec<i32>, Vec<&'static str>) {
    MIGRATIONS.iter().map(|m| (m.version, m.sql)).unzip()
}

/// Refuses a history whose recorded checksums differ from the embedded
/// migrations' (rows without one, from before checksums, are skipped).
async fn verify(client: &impl GenericClient) -> Result<(), StoreError> {
    let (versions, sqls) = embedded();
    let rows = client
        .query(
            &format!(
                "SELECT h.name FROM {HISTORY_TABLE} h
                 JOIN unnest($1::int4[], $2::text[]) AS m(version, sql) ON m.version = h.version
                 WHERE h.checksum IS NOT NULL AND h.checksum <> md5(m.sql)
                 ORDER BY h.version"
            ),
            &[&versions, &sqls],
        )
        .await
        .map_err(ctx("checking the applied migrations' checksums"))?;
    if rows.is_empty() {
        return Ok(());
    }
    let names: Vec<String> = rows.iter().map(|r| r.get(0)).collect();
    Err(StoreError::Schema(format!(
        "migration(s) {} were edited after they were applied to this database (checksum differs); \
         an applied migration must stay as it was: restore it from the release that applied it \
         and put the change in a new migration",
        names.join(", ")
    )))
}

/// The first line of a migration that runs statement by statement,
/// outside a transaction: one that builds indexes `CONCURRENTLY`.
const NO_TRANSACTION: &str = "-- swf-alarms: no transaction";

impl Migration {
    /// Whether it runs outside a transaction (see [`NO_TRANSACTION`]).
    fn online(&self) -> bool {
        self.sql.starts_with(NO_TRANSACTION)
    }
}

/// Applies every pending migration: each in its own transaction, or, for
/// an online one, statement by statement. A session lock keeps two
/// `migrate` runs from applying the same migration.
pub async fn apply(client: &mut Client) -> Result<Vec<Applied>, StoreError> {
    client
        .batch_execute(&format!(
            "CREATE TABLE IF NOT EXISTS {HISTORY_TABLE} (
                 version    integer PRIMARY KEY,
                 name       text NOT NULL,
                 applied_at double precision NOT NULL,
                 checksum   text
             );
             ALTER TABLE {HISTORY_TABLE} ADD COLUMN IF NOT EXISTS checksum text;
             SET statement_timeout = 0;"
        ))
        .await
        .map_err(ctx("creating the migration history table"))?;
    client
        .execute("SELECT pg_advisory_lock($1)", &[&MIGRATE_LOCK_KEY])
        .await
        .map_err(ctx("taking the migration lock"))?;
    let result = apply_locked(client).await;
    if let Err(error) = client
        .execute("SELECT pg_advisory_unlock($1)", &[&MIGRATE_LOCK_KEY])
        .await
    {
        tracing::warn!(error = %error, "Releasing the migration lock failed; it goes with the connection.");
    }
    result
}

async fn apply_locked(client: &mut Client) -> Result<Vec<Applied>, StoreError> {
    verify(&*client).await?;
    // Histories from before checksums: record what is applied now.
    let (versions, sqls) = embedded();
    client
        .execute(
            &format!(
                "UPDATE {HISTORY_TABLE} h SET checksum = md5(m.sql)
                 FROM unnest($1::int4[], $2::text[]) AS m(version, sql)
                 WHERE m.version = h.version AND h.checksum IS NULL"
            ),
            &[&versions, &sqls],
        )
        .await
        .map_err(ctx("recording the applied migrations' checksums"))?;
    let rows = client
        .query(&format!("SELECT version FROM {HISTORY_TABLE}"), &[])
        .await
        .map_err(ctx("reading the migration history"))?;
    let applied: Vec<i32> = rows.iter().map(|r| r.get(0)).collect();

    let mut done = Vec::new();
    for migration in MIGRATIONS.iter().filter(|m| !applied.contains(&m.version)) {
        let failed = |e: tokio_postgres::Error| {
            StoreError::Schema(format!(
                "migration {} failed: {}",
                migration.name,
                crate::error_chain(&e, ": ")
            ))
        };
        let record = format!(
            "INSERT INTO {HISTORY_TABLE} (version, name, applied_at, checksum)
             VALUES ($1, $2, extract(epoch FROM now())::double precision, md5($3))"
        );
        let params: [&(dyn tokio_postgres::types::ToSql + Sync); 3] =
            [&migration.version, &migration.name, &migration.sql];
        let report = if migration.online() {
            let mut report = Vec::new();
            for statement in statements(migration.sql) {
                if let Some(index) = concurrent_index(statement) {
                    report.extend(drop_invalid_index(client, index).await.map_err(failed)?);
                }
                let messages = client.simple_query(statement).await.map_err(failed)?;
                report.extend(report_rows(&messages));
            }
            client
                .execute(&record, &params)
                .await
                .map_err(ctx("recording a migration"))?;
            report
        } else {
            let txn = client
                .transaction()
                .await
                .map_err(ctx("starting a migration"))?;
            let messages = txn.simple_query(migration.sql).await.map_err(failed)?;
            txn.execute(&record, &params)
                .await
                .map_err(ctx("recording a migration"))?;
            txn.commit().await.map_err(ctx("committing a migration"))?;
            report_rows(&messages)
        };
        done.push(Applied {
            migration: *migration,
            report,
        });
    }
    Ok(done)
}

/// One line per row a migration returned.
fn report_rows(messages: &[SimpleQueryMessage]) -> Vec<String> {
    messages
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
        .collect()
}

/// The statements of an online migration: each ends with a line that ends
/// in `;` (comment lines aside), as the files are written.
fn statements(sql: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut offset = 0;
    for line in sql.split_inclusive('\n') {
        offset += line.len();
        let code = line.trim();
        if !code.starts_with("--") && code.ends_with(';') {
            let statement = sql[start..offset].trim();
            if !statement.is_empty() {
                out.push(statement);
            }
            start = offset;
        }
    }
    out
}

/// The index a `CREATE [UNIQUE] INDEX CONCURRENTLY IF NOT EXISTS name`
/// statement builds.
fn concurrent_index(statement: &str) -> Option<&str> {
    let code: Vec<&str> = statement
        .lines()
        .filter(|l| !l.trim_start().starts_with("--"))
        .flat_map(str::split_whitespace)
        .take(8)
        .collect();
    let rest = match code.as_slice() {
        ["CREATE", "UNIQUE", "INDEX", rest @ ..] | ["CREATE", "INDEX", rest @ ..] => rest,
        _ => return None,
    };
    match rest {
        ["CONCURRENTLY", "IF", "NOT", "EXISTS", name, ..] => Some(name),
        _ => None,
    }
}

/// A concurrent build that failed (a lock timeout, a duplicate) leaves an
/// invalid index behind, which `IF NOT EXISTS` would then keep for good:
/// drop it, so the build starts over.
async fn drop_invalid_index(
    client: &Client,
    index: &str,
) -> Result<Vec<String>, tokio_postgres::Error> {
    let invalid = client
        .query_opt(
            "SELECT 1 FROM pg_index WHERE indexrelid = to_regclass($1) AND NOT indisvalid",
            &[&index],
        )
        .await?
        .is_some();
    if !invalid {
        return Ok(Vec::new());
    }
    client
        .batch_execute(&format!("DROP INDEX CONCURRENTLY IF EXISTS {index}"))
        .await?;
    Ok(vec![format!(
        "dropped invalid index {index} (left by a failed concurrent build); building it again"
    )])
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

    #[test]
    fn online_migrations_split_into_statements_and_name_their_indexes() {
        let sql = "-- swf-alarms: no transaction\n-- a comment;\nWITH x AS (\n  SELECT 1\n)\nSELECT * FROM x;\n\n\
                   CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS idx_a\n  ON t (a);\nANALYZE t;\n";
        let parts = statements(sql);
        assert_eq!(parts.len(), 3, "{parts:?}");
        assert!(parts[0].ends_with("SELECT * FROM x;"));
        assert_eq!(concurrent_index(parts[1]), Some("idx_a"));
        assert_eq!(concurrent_index(parts[2]), None);
        assert_eq!(
            concurrent_index("CREATE INDEX IF NOT EXISTS b ON t (b);"),
            None
        );
        let online: Vec<&str> = MIGRATIONS
            .iter()
            .filter(|m| m.online())
            .map(|m| m.name)
            .collect();
        assert_eq!(
            online,
            [
                "0002_one_active_event",
                "0007_engine_row_indexes",
                "0010_entry_parent_index"
            ]
        );
        for m in MIGRATIONS {
            // An index on the dashboard's table is built without blocking its writes.
            for statement in statements(m.sql) {
                let on_entry = statement.contains("ON entry ");
                let is_index = statement.contains("INDEX") && statement.contains("CREATE");
                if on_entry && is_index {
                    assert!(
                        concurrent_index(statement).is_some(),
                        "{}: {statement}",
                        m.name
                    );
                }
            }
        }
    }
}

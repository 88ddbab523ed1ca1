//! Read-only database access for database detectors: every query runs in
//! a read-only transaction under a statement timeout, on the tick's pool.

use std::time::Duration;

use alarms::{DetectError, ReadOnlyDb, SourceFuture, SqlValue};
use deadpool_postgres::Pool;
use tokio_postgres::types::ToSql;

/// The tick's read-only database handle.
pub(crate) struct DbReader {
    pool: Pool,
    timeout: Duration,
    /// `engine.db_check_tables`: the tables database checks may read.
    tables: Vec<String>,
}

impl DbReader {
    pub(crate) fn new(pool: Pool, timeout: Duration, tables: Vec<String>) -> Self {
        DbReader {
            pool,
            timeout,
            tables,
        }
    }

    /// `table` as listed, or with the `public.` it implies.
    fn listed(&self, table: &str) -> bool {
        let bare = table.strip_prefix("public.").unwrap_or(table);
        self.tables
            .iter()
            .any(|t| t == table || t.strip_prefix("public.").unwrap_or(t) == bare)
    }

    async fn run<T>(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
        read: impl FnOnce(Option<tokio_postgres::Row>) -> T,
    ) -> Result<T, DetectError> {
        let failed = |e: &dyn std::error::Error| DetectError::Upstream {
            source_name: "database".into(),
            message: crate::error_chain(e, ": "),
        };
        let mut client = self.pool.get().await.map_err(|e| failed(&e))?;
        let txn = client
            .build_transaction()
            .read_only(true)
            .start()
            .await
            .map_err(|e| failed(&e))?;
        txn.batch_execute(&format!(
            "SET LOCAL statement_timeout = {}",
            self.timeout.as_millis().max(1)
        ))
        .await
        .map_err(|e| failed(&e))?;
        let row = txn.query_opt(sql, params).await.map_err(|e| failed(&e))?;
        let value = read(row);
        txn.commit().await.map_err(|e| failed(&e))?;
        Ok(value)
    }
}

impl ReadOnlyDb for DbReader {
    fn allow_table(&self, table: &str) -> Result<(), DetectError> {
        if self.listed(table) && !alarms::support::sql::is_system_table(table) {
            return Ok(());
        }
        Err(DetectError::InvalidParams(format!(
            "table {table:?} is not in engine.db_check_tables ({}); add it there to let database checks read it",
            if self.tables.is_empty() {
                "empty".to_owned()
            } else {
                self.tables.join(", ")
            }
        )))
    }

    fn query_f64<'a>(
        &'a self,
        sql: String,
        params: Vec<SqlValue>,
    ) -> SourceFuture<'a, Option<f64>> {
        Box::pin(async move {
            let owned: Vec<Box<dyn ToSql + Sync + Send>> = params
                .into_iter()
                .map(|p| -> Box<dyn ToSql + Sync + Send> {
                    match p {
                        SqlValue::Text(s) => Box::new(s),
                        SqlValue::TextList(v) => Box::new(v),
                        SqlValue::Float(f) => Box::new(f),
                    }
                })
                .collect();
            let refs: Vec<&(dyn ToSql + Sync)> = owned
                .iter()
                .map(|b| b.as_ref() as &(dyn ToSql + Sync))
                .collect();
            self.run(&sql, &refs, |row| {
                row.and_then(|r| r.get::<_, Option<f64>>(0))
            })
            .await
        })
    }

    fn column_type<'a>(
        &'a self,
        table: String,
        column: String,
    ) -> SourceFuture<'a, Option<String>> {
        Box::pin(async move {
            self.allow_table(&table)?;
            self.run(
                "SELECT format_type(a.atttypid, a.atttypmod) FROM pg_attribute a
                 WHERE a.attrelid = to_regclass($1) AND a.attname = $2
                   AND a.attnum > 0 AND NOT a.attisdropped",
                &[&table, &column],
                |row| row.map(|r| r.get::<_, String>(0)),
            )
            .await
        })
    }
}

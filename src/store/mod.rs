//! Everything that talks to Postgres: the pool, migrations, the tick
//! lock, and the reads and writes of alarm, event and run rows.
//!
//! All SQL lives here. The dashboard owns the table layout and the JSON
//! key names; the `keys` module spells them out in one place.
//!
//! The dashboard's database is outside data: a column may hold NULL where
//! the contract says NOT NULL, or have been altered by hand. So every
//! column a query reads is cast (and COALESCEd, unless read as `Option`)
//! in its SQL to exactly the type it is read as, and `Row::get` can never
//! meet a value it would panic on; `jsonb` is read as text and decoded
//! by the tolerant reader below.

pub(crate) mod alarms;
pub(crate) mod events;
pub(crate) mod health;
pub(crate) mod ledger;
pub(crate) mod lock;
pub mod migrate;
pub(crate) mod prune;
pub(crate) mod rows;
pub(crate) mod runs;
pub(crate) mod silences;
pub(crate) mod status_page;
mod tls;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};

use crate::config::DbConfig;

/// Names fixed by the dashboard: the context rows, kinds and JSON keys.
pub(crate) mod keys {
    /// The context of alarms, events and engine runs.
    pub const CONTEXT: &str = "swf-alarms";
    /// The context of team rows (`name = '@team'`, `content` = emails).
    pub const TEAMS_CONTEXT: &str = "teams";
    pub const KIND_ALARM: &str = "alarm";
    pub const KIND_EVENT: &str = "event";
    pub const KIND_RUN: &str = "engine_run";
    pub const KIND_TEAM: &str = "team";

    pub const ENTRY_ID: &str = "entry_id";
    pub const FIRE_TIME: &str = "fire_time";
    pub const CLEAR_TIME: &str = "clear_time";
    pub const LAST_SEEN: &str = "last_seen";
    pub const LAST_NOTIFIED: &str = "last_notified";
    /// When the recovery notice of a cleared event was sent.
    pub const CLEAR_NOTIFIED: &str = "clear_notified";
    pub const DEDUPE_KEY: &str = "dedupe_key";
    pub const SUBJECT: &str = "subject";
    pub const SEVERITY: &str = "severity";
    pub const RECIPIENTS: &str = "recipients";
    pub const ALARM_CONFIG_ID: &str = "alarm_config_id";
    /// When a silence last kept a never-mailed event out of an email.
    pub const SILENCED_AT: &str = crate::silence::SILENCED_AT;
    /// Silence rows (`swf-alarms silence …`), same context as alarms.
    pub const KIND_SILENCE: &str = "silence";

    /// Keys of an event's `data` that the engine owns: a detection's
    /// structured context never overwrites them.
    pub const ENGINE_EVENT_KEYS: &[&str] = &[
        ENTRY_ID,
        FIRE_TIME,
        CLEAR_TIME,
        LAST_SEEN,
        LAST_NOTIFIED,
        CLEAR_NOTIFIED,
        DEDUPE_KEY,
        SUBJECT,
        SEVERITY,
        RECIPIENTS,
        ALARM_CONFIG_ID,
        SILENCED_AT,
    ];

    /// `event_<name>` for the alarm `alarm_<name>`: the `entry_id` all of
    /// its events share.
    pub fn event_entry_id(alarm_entry_id: &str) -> String {
        let name = alarm_entry_id
            .strip_prefix("alarm_")
            .unwrap_or(alarm_entry_id);
        format!("event_{name}")
    }

    /// What an alarm row goes by in the run record, the log and `check`:
    /// its `data.entry_id` (trimmed), or [`row_key`] when it has none.
    pub fn alarm_key(id: &str, data: Option<&serde_json::Value>) -> String {
        data.and_then(|d| d.get(ENTRY_ID))
            .and_then(serde_json::Value::as_str)
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map_or_else(|| row_key(id), str::to_owned)
    }

    /// An alarm row named by its row id (`row:<id>`).
    pub fn row_key(id: &str) -> String {
        format!("row:{id}")
    }
}

/// A database failure, keeping the driver's error as its source.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Could not connect.
    #[error("cannot connect to {target}")]
    Connect {
        /// `user@host:port/name`.
        target: String,
        /// The driver's error.
        source: tokio_postgres::Error,
    },
    /// No connection could be had from the pool.
    #[error("cannot get a database connection")]
    Pool(#[from] deadpool_postgres::PoolError),
    /// A statement failed.
    #[error("{context}")]
    Query {
        /// What the engine was doing.
        context: &'static str,
        /// The driver's error.
        source: tokio_postgres::Error,
    },
    /// The schema is not what this engine needs.
    #[error("{0}")]
    Schema(String),
    /// TLS to the database cannot be set up (a root certificate file).
    #[error("{0}")]
    Tls(String),
}

/// Decodes a `jsonb` column selected as text (`data::text`).
///
/// The driver's own `jsonb` decoding panics inside `Row::get` on values
/// Postgres accepts but serde_json refuses (nesting deeper than 128, a
/// number beyond f64 such as `1e400`); reading text and parsing here turns
/// them into an error that names what is wrong, for the caller to pin on
/// one row.
pub(crate) fn decode_json(text: Option<&str>) -> Result<Option<serde_json::Value>, String> {
    let Some(text) = text else {
        return Ok(None);
    };
    serde_json::from_str(text).map(Some).map_err(|error| {
        // serde_json says where; what an operator needs is which kind of
        // value to look for.
        let detail = error.to_string();
        if detail.contains("recursion limit") {
            "it is nested more than 128 levels deep".to_owned()
        } else if detail.contains("number out of range") {
            "it holds a number beyond the range of a 64-bit float".to_owned()
        } else {
            format!("it cannot be decoded ({detail})")
        }
    })
}

/// Wraps a driver error with what the engine was doing.
pub(crate) fn ctx(context: &'static str) -> impl FnOnce(tokio_postgres::Error) -> StoreError {
    move |source| StoreError::Query { context, source }
}

/// A connection pool for the tick's alarms.
pub(crate) fn pool(db: &DbConfig, size: usize) -> Result<Pool, StoreError> {
    let manager = Manager::from_config(
        db.pg.clone(),
        tls::connector(&db.tls)?,
        ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        },
    );
    // Connecting is bounded by the connect timeout in `db.pg`; waiting for
    // a free connection by the pool timeout.
    Pool::builder(manager)
        .max_size(size)
        .wait_timeout(Some(db.pool_timeout))
        .runtime(Runtime::Tokio1)
        .build()
        .map_err(|e| StoreError::Schema(format!("cannot build the connection pool: {e}")))
}

/// One connection outside the pool, its driver task spawned.
pub(crate) async fn connect(db: &DbConfig) -> Result<tokio_postgres::Client, StoreError> {
    let (client, connection) = db
        .pg
        .connect(tls::connector(&db.tls)?)
        .await
        .map_err(|source| StoreError::Connect {
            target: db.target(),
            source,
        })?;
    tokio::spawn(async move {
        if let Err(error) = connection.await {
            tracing::debug!(error = %error, "Database connection closed.");
        }
    });
    Ok(client)
}

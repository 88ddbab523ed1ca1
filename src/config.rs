//! The engine's configuration file.
//!
//! [`RawConfig`] is what the TOML says, table by table, with a doc comment
//! on every key (that text is the reference; `config.toml.example` repeats
//! it). [`Config::load`] turns it into a validated [`Config`] in one step:
//! durations parsed, the database target assembled, secrets wrapped. The
//! old engine's key names are accepted as they are, so its config files
//! keep working.

use std::{
    fmt,
    path::{Path, PathBuf},
    time::Duration,
};

use serde::Deserialize;

/// Where the old engine looked for the dashboard's database settings
/// when `[db]` named none.
const LEGACY_ENV_PATH: &str = "/opt/swf-monitor/config/env/production.env";

/// Where a task's page is, unless `engine.panda_task_url` says otherwise.
const DEFAULT_TASK_URL: &str = "https://epic-devcloud.org/prod/panda/tasks/{jeditaskid}/";

/// Environment variables that override `[db]` keys, e.g. `SWF_ALARMS_DB_PASSWORD`.
const DB_ENV_PREFIX: &str = "SWF_ALARMS_DB_";

/// A configuration problem; the message names the key.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The config file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not valid TOML, or a key is unknown or of the wrong type.
    #[error("{path}: {message}")]
    Parse {
        /// The config file.
        path: PathBuf,
        /// The parser's message, which names the key and the line.
        message: String,
    },
    /// A key is present but its value is unusable.
    #[error("{key}: {reason}")]
    Invalid {
        /// Dotted key, e.g. `engine.request_timeout`.
        key: String,
        /// What is wrong, for an operator.
        reason: String,
    },
    /// A required key is absent.
    #[error("{key}: missing (required)")]
    Missing {
        /// Dotted key.
        key: String,
    },
}

fn invalid(key: &str, reason: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        key: key.into(),
        reason: reason.into(),
    }
}

/// A string that never shows itself in logs, errors or `Debug` output.
#[derive(Clone, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// The secret itself, for the one place that needs it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// The TOML file as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    /// Engine settings.
    #[serde(default)]
    pub engine: RawEngine,
    /// The Postgres database holding the `entry` table.
    #[serde(default)]
    pub db: RawDb,
    /// How bundles are mailed.
    pub email: Option<RawEmail>,
    /// The first engine's per-check tables; alarms live in the database
    /// now, so these are ignored (with a warning).
    pub checks: Option<toml::Value>,
}

/// `[engine]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawEngine {
    /// Base URL of the service proxying PanDA REST (`/api/panda/...`).
    pub service_base_url: Option<String>,
    /// The old name of `service_base_url`.
    pub swf_remote_base_url: Option<String>,
    /// Seconds an upstream request may take (default 20).
    pub request_timeout: Option<f64>,
    /// A file the log is appended to, besides standard output.
    pub log_path: Option<String>,
    /// Seconds one alarm's detector may run before it is abandoned (default 120).
    pub alarm_timeout: Option<f64>,
    /// How many alarms run at once (default 4).
    pub concurrency: Option<usize>,
    /// The monitor's task page; `{jeditaskid}` is replaced by the task id.
    pub panda_task_url: Option<String>,
    /// Directory of the ops monitor's snapshot files (`ops_monitor_*.jsonl`).
    pub ops_snapshot_dir: Option<String>,
    /// Prometheus textfile written after every tick (for node_exporter).
    pub metrics_textfile: Option<String>,
    /// HTML status page written after every tick (also a failed or locked
    /// out one), replaced atomically; self-contained, any web server can
    /// serve it.
    pub status_page: Option<String>,
    /// The first engine's SQLite state file; unused (state lives in Postgres).
    pub state_db: Option<String>,
    /// Seconds a whole tick may take (default 240, below the 5-minute cron
    /// interval); alarms still running then fail and the run is recorded.
    pub tick_timeout: Option<f64>,
    /// Minutes after which a tick lock still held by another run is
    /// reported as an error, exit status 1 (default 15).
    pub stuck_after: Option<f64>,
    /// Days run rows and cleared events are kept; older ones are deleted
    /// by the tick, a bounded batch at a time (default 0: keep everything).
    pub retention_days: Option<f64>,
    /// Pinged after every tick (a dead-man's switch such as healthchecks.io).
    pub heartbeat_url: Option<String>,
    /// Pinged instead of `heartbeat_url` after a tick with errors (default:
    /// `heartbeat_url` with `/fail` appended).
    pub heartbeat_fail_url: Option<String>,
    /// `"GET"` (default) or `"POST"` (the tick's summary line as the body).
    pub heartbeat_method: Option<String>,
    /// Seconds a heartbeat ping may take (default 10).
    pub heartbeat_timeout: Option<f64>,
    /// MiB one upstream response (a PanDA page) or one snapshot file may
    /// hold (default 32); a larger one fails its alarm.
    pub max_read_mib: Option<f64>,
    /// Tables (`table` or `schema.table`) that database checks
    /// (`db_freshness`, `db_rate`, ...) may read (default: `swf_applog`,
    /// `snapper_system_snap`, the tables of the shipped production alarms).
    /// System catalogs are refused whatever this says.
    pub db_check_tables: Option<Vec<String>>,
    /// Refuse to probe (`http_health`, `tcp_port`) private, loopback and
    /// link-local addresses, literal, resolved or redirected to (default
    /// false).
    pub probe_public_only: Option<bool>,
    /// Days a row of the notification ledger is kept (default 90).
    pub ledger_retention_days: Option<f64>,
}

/// `[db]`: a `dsn`, or discrete keys, or a dotenv file (`env_path`) with
/// `DB_HOST`, `DB_PORT`, `DB_NAME`, `DB_USER`, `DB_PASSWORD`. Environment
/// variables `SWF_ALARMS_DB_<KEY>` (e.g. `SWF_ALARMS_DB_PASSWORD`) override
/// every other source.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDb {
    /// `postgresql://user:password@host:port/name`; wins over the other keys.
    pub dsn: Option<Secret>,
    /// Host name, or a directory holding the server's Unix socket.
    pub host: Option<String>,
    /// Port (default 5432).
    pub port: Option<u16>,
    /// Database name (default `swfdb`).
    pub name: Option<String>,
    /// User (default `admin`).
    pub user: Option<String>,
    /// Password; prefer `SWF_ALARMS_DB_PASSWORD` or the dotenv file.
    pub password: Option<Secret>,
    /// Dotenv file with `DB_*` keys, the dashboard's own (default
    /// `/opt/swf-monitor/config/env/production.env`, if it exists).
    pub env_path: Option<PathBuf>,
    /// Seconds to establish a connection (default 10).
    pub connect_timeout: Option<f64>,
    /// Seconds one engine statement may run (default 30).
    pub statement_timeout: Option<f64>,
    /// Seconds a statement may wait for a row or table lock (default 10).
    pub lock_timeout: Option<f64>,
    /// Seconds a session may sit idle inside a transaction (default 60).
    pub idle_in_transaction_timeout: Option<f64>,
    /// Seconds of silence before TCP keepalive probes start (default 30).
    pub keepalives_idle: Option<f64>,
    /// Seconds an alarm may wait for a pooled connection (default 30).
    pub pool_timeout: Option<f64>,
    /// TLS, as libpq's `sslmode`: `disable`, `prefer` (default), `require`,
    /// `verify-ca` or `verify-full`. A dsn's own `sslmode` wins.
    pub sslmode: Option<String>,
    /// PEM file of the root certificate(s) the server's certificate must
    /// lead to; the platform's trust store when absent. A dsn's own
    /// `sslrootcert` wins.
    pub sslrootcert: Option<PathBuf>,
}

/// `[email]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawEmail {
    /// `"smtp"` (default), `"ses"` or `"log"` (print instead of sending).
    pub provider: Option<String>,
    /// Sender address.
    pub from: Option<String>,
    /// SES: AWS region, e.g. `us-east-1`.
    pub region: Option<String>,
    /// SES: endpoint override (a VPC endpoint, or a local test server).
    pub endpoint_url: Option<String>,
    /// SMTP: relay host.
    #[serde(alias = "host")]
    pub smtp_host: Option<String>,
    /// SMTP: relay port (default 25).
    #[serde(alias = "port")]
    pub smtp_port: Option<u16>,
    /// SMTP: seconds a send may take (default 20).
    #[serde(alias = "timeout")]
    pub smtp_timeout: Option<f64>,
    /// SMTP: `"none"` (default), `"starttls"` or `"required"` (implicit TLS).
    pub smtp_tls: Option<String>,
    /// SMTP: user name for AUTH; no AUTH when absent.
    pub smtp_username: Option<String>,
    /// SMTP: name of the environment variable holding the password.
    pub smtp_password_env: Option<String>,
    /// SMTP: file holding the password (first line).
    pub smtp_password_file: Option<PathBuf>,
    /// SMTP: PEM file of root certificates (a site CA) trusted for the
    /// relay's TLS, besides the platform's trust store.
    pub smtp_ca_file: Option<PathBuf>,
    /// Events listed per section (NEW, CONTINUING, RESOLVED) of one email
    /// (default 200); the rest are counted and left to the dashboard's run
    /// report, and stamped as notified all the same.
    pub max_events_per_section: Option<usize>,
}

/// The validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// Engine settings.
    pub engine: EngineConfig,
    /// Database settings.
    pub db: DbConfig,
    /// Mail settings.
    pub email: EmailConfig,
    /// Keys that are accepted but do nothing, for the log once it is up.
    pub warnings: Vec<String>,
}

/// Validated `[engine]`.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// PanDA proxy base URL, without a trailing slash.
    pub service_base_url: Option<String>,
    /// Upstream request timeout (PanDA, database detectors).
    pub request_timeout: Duration,
    /// Task page link template, with `{jeditaskid}`.
    pub panda_task_url: String,
    /// Default directory of ops snapshots.
    pub ops_snapshot_dir: Option<PathBuf>,
    /// Prometheus textfile, rewritten after every tick.
    pub metrics_textfile: Option<PathBuf>,
    /// HTML status page, rewritten after every tick.
    pub status_page: Option<PathBuf>,
    /// Log file, appended to.
    pub log_path: Option<PathBuf>,
    /// Per-alarm detector timeout.
    pub alarm_timeout: Duration,
    /// Alarms run at once.
    pub concurrency: usize,
    /// Deadline of a whole tick.
    pub tick_timeout: Duration,
    /// A tick lock held longer than this is an error.
    pub stuck_after: Duration,
    /// Run rows and cleared events older than this are pruned; `None`:
    /// keep everything.
    pub retention: Option<Duration>,
    /// The dead-man's switch pinged after every tick, if any.
    pub heartbeat: Option<HeartbeatConfig>,
    /// Bytes one upstream response or one snapshot file may hold.
    pub max_read_bytes: usize,
    /// The tables database checks may read.
    pub db_check_tables: Vec<String>,
    /// Probes refuse internal addresses.
    pub probe_public_only: bool,
    /// Ledger rows older than this are pruned by the tick.
    pub ledger_retention: Duration,
}

/// Validated heartbeat settings (`engine.heartbeat_*`).
#[derive(Debug, Clone, PartialEq)]
pub struct HeartbeatConfig {
    /// Pinged after a tick in which every alarm ran.
    pub url: String,
    /// Pinged after a tick with errors, or one that could not run.
    pub fail_url: String,
    /// Send a POST (with the tick's summary as the body) instead of a GET.
    pub post: bool,
    /// How long one ping may take.
    pub timeout: Duration,
}

/// Validated `[db]`.
#[derive(Clone)]
pub struct DbConfig {
    /// Connection settings (tokio-postgres redacts the password in `Debug`),
    /// with the connect timeout, keepalives and session timeouts applied.
    pub pg: tokio_postgres::Config,
    /// How long an alarm waits for a pooled connection.
    pub pool_timeout: Duration,
    /// How the connection is secured.
    pub tls: DbTls,
}

/// libpq's `sslmode`, with the same meanings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SslMode {
    /// Plain text only.
    Disable,
    /// TLS when the server offers it, else plain; the certificate is not checked.
    Prefer,
    /// TLS or nothing; the certificate is checked only when `sslrootcert` is set.
    Require,
    /// TLS, with a certificate that leads to a trusted root.
    VerifyCa,
    /// TLS, with a trusted certificate issued for the host connected to.
    VerifyFull,
}

impl SslMode {
    fn parse(key: &str, value: &str) -> Result<SslMode, ConfigError> {
        Ok(match value.trim() {
            "disable" => SslMode::Disable,
            "prefer" | "allow" => SslMode::Prefer,
            "require" => SslMode::Require,
            "verify-ca" => SslMode::VerifyCa,
            "verify-full" => SslMode::VerifyFull,
            other => {
                return Err(invalid(
                    key,
                    format!(
                    "expected disable, prefer, require, verify-ca or verify-full, got {other:?}"
                ),
                ))
            }
        })
    }
}

/// Validated TLS settings of `[db]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DbTls {
    /// The `sslmode`.
    pub mode: SslMode,
    /// Root certificates (PEM); `None`: the platform's trust store.
    pub root_cert: Option<PathBuf>,
}

impl DbTls {
    /// Tells tokio-postgres whether to ask for TLS.
    fn apply(&self, pg: &mut tokio_postgres::Config) {
        pg.ssl_mode(match self.mode {
            SslMode::Disable => tokio_postgres::config::SslMode::Disable,
            SslMode::Prefer => tokio_postgres::config::SslMode::Prefer,
            SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull => {
                tokio_postgres::config::SslMode::Require
            }
        });
    }
}

/// Takes `sslmode` and `sslrootcert` out of a connection string, since
/// tokio-postgres knows only some of libpq's modes and no root file:
/// (the rest of the string, sslmode, sslrootcert).
fn split_tls_params(dsn: &str) -> (String, Option<String>, Option<String>) {
    let is_tls_key = |key: &str| matches!(key, "sslmode" | "sslrootcert");
    let (mut mode, mut root) = (None, None);
    let mut keep = |key: &str, value: String| match key {
        "sslmode" => mode = Some(value),
        _ => root = Some(value),
    };
    let rest = if dsn.starts_with("postgres://") || dsn.starts_with("postgresql://") {
        match dsn.split_once('?') {
            None => dsn.to_owned(),
            Some((base, query)) => {
                let mut others = Vec::new();
                for pair in query.split('&') {
                    match pair.split_once('=') {
                        Some((key, value)) if is_tls_key(key) => keep(key, percent_decode(value)),
                        _ => others.push(pair),
                    }
                }
                if others.is_empty() {
                    base.to_owned()
                } else {
                    format!("{base}?{}", others.join("&"))
                }
            }
        }
    } else {
        let mut others = Vec::new();
        for token in dsn.split_whitespace() {
            match token.split_once('=') {
                Some((key, value)) if is_tls_key(key) => {
                    keep(key, value.trim_matches('\'').to_owned())
                }
                _ => others.push(token),
            }
        }
        others.join(" ")
    };
    (rest, mode, root)
}

/// Decodes `%XX` escapes (a root certificate's path in a URL).
fn percent_decode(text: &str) -> String {
    percent_encoding::percent_decode_str(text)
        .decode_utf8_lossy()
        .into_owned()
}

impl DbConfig {
    /// `user@host:port/name`, for messages; never the password.
    pub fn target(&self) -> String {
        let host = match self.pg.get_hosts().first() {
            Some(tokio_postgres::config::Host::Tcp(h)) => h.clone(),
            #[cfg(unix)]
            Some(tokio_postgres::config::Host::Unix(p)) => p.display().to_string(),
            None => "localhost".into(),
        };
        let port = self.pg.get_ports().first().copied().unwrap_or(5432);
        format!(
            "{}@{}:{}/{}",
            self.pg.get_user().unwrap_or(""),
            host,
            port,
            self.pg.get_dbname().unwrap_or("")
        )
    }
}

impl fmt::Debug for DbConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DbConfig")
            .field("target", &self.target())
            .finish()
    }
}

/// Validated `[email]`.
#[derive(Debug, Clone)]
pub struct EmailConfig {
    /// Sender address.
    pub from: String,
    /// Events listed per section of one email.
    pub max_events_per_section: usize,
    /// How long one send may take.
    pub timeout: Duration,
    /// The channel and its settings.
    pub provider: Provider,
}

/// The configured mail channel.
#[derive(Debug, Clone, PartialEq)]
pub enum Provider {
    /// Print the mail instead of sending it.
    Log,
    /// An SMTP relay.
    Smtp(SmtpSettings),
    /// AWS SES (API v2).
    Ses(SesSettings),
}

/// How the SMTP connection is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpTls {
    /// Plain text, as site relays on port 25 usually speak.
    None,
    /// Plain, then upgraded with STARTTLS (which must succeed).
    StartTls,
    /// TLS from the first byte (SMTPS, usually port 465).
    Required,
}

/// Validated SMTP settings.
#[derive(Debug, Clone, PartialEq)]
pub struct SmtpSettings {
    /// Relay host.
    pub host: String,
    /// Relay port.
    pub port: u16,
    /// Transport security.
    pub tls: SmtpTls,
    /// AUTH user and password, when the relay wants them.
    pub auth: Option<(String, Secret)>,
    /// Root certificates (PEM) trusted besides the platform's store.
    pub ca_file: Option<PathBuf>,
}

/// Validated SES settings.
#[derive(Debug, Clone, PartialEq)]
pub struct SesSettings {
    /// AWS region.
    pub region: String,
    /// Endpoint override.
    pub endpoint_url: Option<String>,
}

impl Config {
    /// Reads and validates a config file; the environment supplies overrides.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        let env = |name: &str| std::env::var(name).ok();
        let host = Host {
            env: &env,
            legacy_env_path: Some(Path::new(LEGACY_ENV_PATH)),
        };
        Config::parse(path, &text, &host)
    }

    /// Parses and validates TOML text. `env` looks up environment
    /// variables (`HOME` for `~/` too); no file outside the text is
    /// consulted unless the text names it (the old engine's default
    /// dotenv file is left to [`Config::load`]).
    pub fn from_toml(
        path: &Path,
        text: &str,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Config, ConfigError> {
        let host = Host {
            env,
            legacy_env_path: None,
        };
        Config::parse(path, text, &host)
    }

    fn parse(path: &Path, text: &str, host: &Host<'_>) -> Result<Config, ConfigError> {
        let raw: RawConfig = toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: path.to_owned(),
            message: e.to_string().trim_end().to_owned(),
        })?;
        let warnings = ignored_keys(&raw);
        Ok(Config {
            engine: engine(raw.engine, host)?,
            db: db(raw.db, host)?,
            email: email(raw.email, host.env)?,
            warnings,
        })
    }
}

/// The tables the shipped production alarms read.
const DEFAULT_DB_CHECK_TABLES: &[&str] = &["swf_applog", "snapper_system_snap"];

/// `engine.db_check_tables`, each entry a plain `table` or `schema.table`
/// that is not a system catalog.
fn db_check_tables(raw: Option<Vec<String>>) -> Result<Vec<String>, ConfigError> {
    let Some(tables) = raw else {
        return Ok(DEFAULT_DB_CHECK_TABLES
            .iter()
            .map(|t| (*t).to_owned())
            .collect());
    };
    tables
        .into_iter()
        .map(|t| {
            let t = t.trim().to_owned();
            alarms::support::sql::quote_ident(&t)
                .map_err(|e| invalid("engine.db_check_tables", format!("{t:?}: {e}")))?;
            if alarms::support::sql::is_system_table(&t) {
                return Err(invalid(
                    "engine.db_check_tables",
                    format!("{t:?} is a system catalog; database checks never read those"),
                ));
            }
            Ok(t)
        })
        .collect()
}

/// More alarms at once than this would only queue on the database pool
/// (one connection each) and the two-core hosts the engine runs on.
const MAX_CONCURRENCY: usize = 256;

fn seconds(key: &str, value: Option<f64>, default: f64) -> Result<Duration, ConfigError> {
    let v = value.unwrap_or(default);
    if !(v.is_finite() && v > 0.0 && v < 86_400.0 * 365.0) {
        return Err(invalid(
            key,
            format!("must be a positive number of seconds, got {v}"),
        ));
    }
    Ok(Duration::from_secs_f64(v))
}

/// Keys of the first engine that are accepted, so its file still loads,
/// and do nothing; each gets a warning.
fn ignored_keys(raw: &RawConfig) -> Vec<String> {
    let mut out = Vec::new();
    if raw.checks.is_some() {
        out.push(
            "checks: ignored; alarms are rows of the database now (see `swf-alarms alarm list`)"
                .to_owned(),
        );
    }
    if raw.engine.state_db.is_some() {
        out.push("engine.state_db: ignored; the engine keeps its state in Postgres".to_owned());
    }
    out
}

/// What a config may read of the machine besides its own text.
struct Host<'a> {
    /// Environment variables.
    env: &'a dyn Fn(&str) -> Option<String>,
    /// The old engine's dotenv file, read when `db.env_path` is not set
    /// and it exists.
    legacy_env_path: Option<&'a Path>,
}

impl Host<'_> {
    fn expand_home(&self, path: &str) -> PathBuf {
        expand_home(path, (self.env)("HOME"))
    }
}

fn expand_home(path: &str, home: Option<String>) -> PathBuf {
    match (path.strip_prefix("~/"), home) {
        (Some(rest), Some(home)) => PathBuf::from(home).join(rest),
        _ => PathBuf::from(path),
    }
}

fn engine(raw: RawEngine, host: &Host<'_>) -> Result<EngineConfig, ConfigError> {
    let heartbeat = heartbeat(&raw)?;
    let base = raw.service_base_url.or(raw.swf_remote_base_url);
    let service_base_url = match base {
        Some(url) if url.trim().is_empty() => None,
        Some(url) => {
            let url = url.trim().trim_end_matches('/').to_owned();
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                return Err(invalid(
                    "engine.service_base_url",
                    format!("must start with http:// or https://, got {url:?}"),
                ));
            }
            Some(url)
        }
        None => None,
    };
    let concurrency = raw.concurrency.unwrap_or(4);
    if !(1..=MAX_CONCURRENCY).contains(&concurrency) {
        return Err(invalid(
            "engine.concurrency",
            format!("must be from 1 to {MAX_CONCURRENCY}, got {concurrency}"),
        ));
    }
    let max_read_mib = raw.max_read_mib.unwrap_or(32.0);
    if !(max_read_mib.is_finite() && (0.001..=4096.0).contains(&max_read_mib)) {
        return Err(invalid(
            "engine.max_read_mib",
            format!("must be a number of MiB from 0.001 to 4096, got {max_read_mib}"),
        ));
    }
    let tick_timeout = seconds("engine.tick_timeout", raw.tick_timeout, 240.0)?;
    let ledger_retention = seconds(
        "engine.ledger_retention_days",
        raw.ledger_retention_days.map(|days| days * 86400.0),
        90.0 * 86400.0,
    )
    .map_err(|_| {
        invalid(
            "engine.ledger_retention_days",
            "must be a positive number of days, below 365",
        )
    })?;
    let stuck_after = seconds(
        "engine.stuck_after",
        raw.stuck_after.map(|minutes| minutes * 60.0),
        15.0 * 60.0,
    )
    .map_err(|_| invalid("engine.stuck_after", "must be a positive number of minutes"))?;
    if stuck_after <= tick_timeout {
        return Err(invalid(
            "engine.stuck_after",
            format!(
                "must be longer than engine.tick_timeout ({} s): a tick that is still within its deadline is not stuck",
                tick_timeout.as_secs_f64()
            ),
        ));
    }
    let retention = match raw.retention_days {
        None => None,
        Some(0.0) => None,
        Some(days) if days.is_finite() && days > 0.0 && days < 36_500.0 => {
            Some(Duration::from_secs_f64(days * 86_400.0))
        }
        Some(days) => {
            return Err(invalid(
                "engine.retention_days",
                format!("must be 0 (keep everything) or a positive number of days, got {days}"),
            ))
        }
    };
    Ok(EngineConfig {
        service_base_url,
        request_timeout: seconds("engine.request_timeout", raw.request_timeout, 20.0)?,
        panda_task_url: raw
            .panda_task_url
            .unwrap_or_else(|| DEFAULT_TASK_URL.to_owned()),
        ops_snapshot_dir: raw.ops_snapshot_dir.as_deref().map(|p| host.expand_home(p)),
        metrics_textfile: raw.metrics_textfile.as_deref().map(|p| host.expand_home(p)),
        status_page: raw.status_page.as_deref().map(|p| host.expand_home(p)),
        log_path: raw.log_path.as_deref().map(|p| host.expand_home(p)),
        alarm_timeout: seconds("engine.alarm_timeout", raw.alarm_timeout, 120.0)?,
        concurrency,
        tick_timeout,
        stuck_after,
        retention,
        heartbeat,
        max_read_bytes: (max_read_mib * 1024.0 * 1024.0) as usize,
        db_check_tables: db_check_tables(raw.db_check_tables)?,
        probe_public_only: raw.probe_public_only.unwrap_or(false),
        ledger_retention,
    })
}

/// An http(s) URL, trimmed, or the error naming `key`.
fn http_url(key: &str, url: &str) -> Result<String, ConfigError> {
    let url = url.trim();
    if !(url.starts_with("http://") || url.starts_with("https://")) || url.len() <= "https://".len()
    {
        return Err(invalid(
            key,
            format!("must be an http:// or https:// URL, got {url:?}"),
        ));
    }
    Ok(url.to_owned())
}

/// healthchecks.io's convention: `<url>/fail`, the query string kept at the end.
fn fail_url_of(url: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let mut fail = format!("{}/fail", base.trim_end_matches('/'));
    if let Some(query) = query {
        fail.push('?');
        fail.push_str(query);
    }
    fail
}

fn heartbeat(raw: &RawEngine) -> Result<Option<HeartbeatConfig>, ConfigError> {
    let Some(url) = raw
        .heartbeat_url
        .as_deref()
        .filter(|u| !u.trim().is_empty())
    else {
        if raw.heartbeat_fail_url.is_some() {
            return Err(invalid(
                "engine.heartbeat_fail_url",
                "set engine.heartbeat_url too (the ping after a clean tick)",
            ));
        }
        return Ok(None);
    };
    let url = http_url("engine.heartbeat_url", url)?;
    let fail_url = match raw.heartbeat_fail_url.as_deref() {
        Some(fail) => http_url("engine.heartbeat_fail_url", fail)?,
        None => fail_url_of(&url),
    };
    let post = match raw
        .heartbeat_method
        .as_deref()
        .map(|m| m.trim().to_ascii_uppercase())
        .as_deref()
    {
        None | Some("GET") => false,
        Some("POST") => true,
        Some(other) => {
            return Err(invalid(
                "engine.heartbeat_method",
                format!("must be \"GET\" or \"POST\", got {other:?}"),
            ))
        }
    };
    Ok(Some(HeartbeatConfig {
        url,
        fail_url,
        post,
        timeout: seconds("engine.heartbeat_timeout", raw.heartbeat_timeout, 10.0)?,
    }))
}

/// Reads `KEY=value` lines from a dotenv file.
fn dotenv(key: &str, path: &Path) -> Result<Vec<(String, String)>, ConfigError> {
    dotenvy::from_path_iter(path)
        .and_then(|iter| iter.collect::<Result<Vec<_>, _>>())
        .map_err(|e| {
            invalid(
                key,
                format!("cannot read dotenv file {}: {e}", path.display()),
            )
        })
}

/// The deadlines every engine connection gets: how long to connect, when
/// to notice a dead peer, and the session's statement, lock and idle
/// timeouts, so that nothing the engine does can wait forever.
#[derive(Debug, Clone, Copy)]
struct SessionLimits {
    connect: Duration,
    keepalives_idle: Duration,
    statement: Duration,
    lock: Duration,
    idle_in_transaction: Duration,
}

impl SessionLimits {
    fn from_raw(raw: &RawDb) -> Result<SessionLimits, ConfigError> {
        Ok(SessionLimits {
            connect: seconds("db.connect_timeout", raw.connect_timeout, 10.0)?,
            keepalives_idle: seconds("db.keepalives_idle", raw.keepalives_idle, 30.0)?,
            statement: seconds("db.statement_timeout", raw.statement_timeout, 30.0)?,
            lock: seconds("db.lock_timeout", raw.lock_timeout, 10.0)?,
            idle_in_transaction: seconds(
                "db.idle_in_transaction_timeout",
                raw.idle_in_transaction_timeout,
                60.0,
            )?,
        })
    }

    /// Applies the limits. A DSN's own `connect_timeout` is kept, and its
    /// own `options` go after ours, so a `-c` setting it names wins.
    fn apply(&self, pg: &mut tokio_postgres::Config) {
        if pg.get_connect_timeout().is_none() {
            pg.connect_timeout(self.connect);
        }
        pg.keepalives(true)
            .keepalives_idle(self.keepalives_idle)
            .keepalives_interval(Duration::from_secs(10))
            .keepalives_retries(3);
        let ms = |d: Duration| d.as_millis().max(1);
        let ours = format!(
            "-c statement_timeout={} -c lock_timeout={} -c idle_in_transaction_session_timeout={}",
            ms(self.statement),
            ms(self.lock),
            ms(self.idle_in_transaction)
        );
        let options = match pg.get_options() {
            Some(theirs) if !theirs.trim().is_empty() => format!("{ours} {theirs}"),
            _ => ours,
        };
        pg.options(&options);
    }
}

fn db(raw: RawDb, host: &Host<'_>) -> Result<DbConfig, ConfigError> {
    let env = host.env;
    let over = |key: &str| env(&format!("{DB_ENV_PREFIX}{}", key.to_uppercase()));
    let limits = SessionLimits::from_raw(&raw)?;
    let pool_timeout = seconds("db.pool_timeout", raw.pool_timeout, 30.0)?;

    if let Some(dsn) = over("dsn").map(Secret).or(raw.dsn) {
        let (rest, mode, root) = split_tls_params(dsn.expose());
        let tls = DbTls {
            mode: match mode {
                Some(mode) => SslMode::parse("db.dsn (sslmode)", &mode)?,
                None => match over("sslmode").or(raw.sslmode) {
                    Some(mode) => SslMode::parse("db.sslmode", &mode)?,
                    None => SslMode::Prefer,
                },
            },
            root_cert: root
                .map(|r| host.expand_home(&r))
                .or_else(|| over("sslrootcert").map(|r| host.expand_home(&r)))
                .or(raw
                    .sslrootcert
                    .map(|p| host.expand_home(&p.to_string_lossy()))),
        };
        let pg = rest.parse::<tokio_postgres::Config>().map_err(|_| {
            invalid(
                "db.dsn",
                "not a valid PostgreSQL connection string (postgresql://user@host:port/name)",
            )
        })?;
        let mut pg = pg;
        limits.apply(&mut pg);
        tls.apply(&mut pg);
        return Ok(DbConfig {
            pg,
            pool_timeout,
            tls,
        });
    }

    let file: Vec<(String, String)> = match &raw.env_path {
        Some(p) => dotenv("db.env_path", &host.expand_home(&p.to_string_lossy()))?,
        None => match host.legacy_env_path.filter(|p| p.exists()) {
            Some(legacy) => dotenv("db.env_path", legacy)?,
            None => Vec::new(),
        },
    };
    let from_file = |k: &str| {
        file.iter()
            .find(|(name, _)| name == &format!("DB_{}", k.to_uppercase()))
            .map(|(_, v)| v.clone())
    };
    let pick = |k: &str, toml: Option<String>| over(k).or(toml).or_else(|| from_file(k));

    let server = pick("host", raw.host).unwrap_or_else(|| "localhost".into());
    let port = match pick("port", raw.port.map(|p| p.to_string())) {
        Some(p) => p
            .trim()
            .parse::<u16>()
            .map_err(|_| invalid("db.port", format!("not a port number: {p:?}")))?,
        None => 5432,
    };
    let mut pg = tokio_postgres::Config::new();
    pg.host(&server)
        .port(port)
        .dbname(pick("name", raw.name).unwrap_or_else(|| "swfdb".into()))
        .user(pick("user", raw.user).unwrap_or_else(|| "admin".into()))
        .application_name("swf-alarms");
    let password = over("password")
        .or(raw.password.map(|s| s.0))
        .or_else(|| from_file("password"));
    if let Some(password) = password.filter(|p| !p.is_empty()) {
        pg.password(password);
    }
    limits.apply(&mut pg);
    let tls = DbTls {
        mode: match pick("sslmode", raw.sslmode) {
            Some(mode) => SslMode::parse("db.sslmode", &mode)?,
            None => SslMode::Prefer,
        },
        root_cert: over("sslrootcert")
            .or_else(|| raw.sslrootcert.map(|p| p.to_string_lossy().into_owned()))
            .or_else(|| from_file("sslrootcert"))
            .map(|p| host.expand_home(&p)),
    };
    tls.apply(&mut pg);
    Ok(DbConfig {
        pg,
        pool_timeout,
        tls,
    })
}

fn email(
    raw: Option<RawEmail>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<EmailConfig, ConfigError> {
    let Some(raw) = raw else {
        return Err(ConfigError::Missing {
            key: "email (a table with at least provider and from)".into(),
        });
    };
    let timeout = seconds("email.smtp_timeout", raw.smtp_timeout, 20.0)?;
    let max_events_per_section = match raw.max_events_per_section {
        None => 200,
        Some(0) => {
            return Err(invalid(
                "email.max_events_per_section",
                "must be at least 1".to_owned(),
            ))
        }
        Some(n) => n,
    };
    let from = raw
        .from
        .as_deref()
        .map(str::trim)
        .filter(|f| !f.is_empty())
        .map(str::to_owned);
    let provider = match raw.provider.as_deref().unwrap_or("smtp") {
        "log" => {
            return Ok(EmailConfig {
                from: from.unwrap_or_else(|| "swf-alarms@localhost".into()),
                max_events_per_section,
                timeout,
                provider: Provider::Log,
            })
        }
        "smtp" => Provider::Smtp(smtp(&raw, env)?),
        "ses" => Provider::Ses(SesSettings {
            region: raw
                .region
                .clone()
                .filter(|r| !r.trim().is_empty())
                .ok_or_else(|| ConfigError::Missing {
                    key: "email.region".into(),
                })?,
            endpoint_url: raw.endpoint_url.clone().filter(|u| !u.trim().is_empty()),
        }),
        other => {
            return Err(invalid(
                "email.provider",
                format!("unknown provider {other:?}; expected \"smtp\", \"ses\" or \"log\""),
            ))
        }
    };
    let from = from.ok_or_else(|| ConfigError::Missing {
        key: "email.from".into(),
    })?;
    if from.parse::<lettre::message::Mailbox>().is_err() {
        return Err(invalid(
            "email.from",
            format!("not an email address: {from:?}"),
        ));
    }
    Ok(EmailConfig {
        from,
        max_events_per_section,
        timeout,
        provider,
    })
}

fn smtp(raw: &RawEmail, env: &dyn Fn(&str) -> Option<String>) -> Result<SmtpSettings, ConfigError> {
    let host = raw
        .smtp_host
        .clone()
        .filter(|h| !h.trim().is_empty())
        .ok_or_else(|| ConfigError::Missing {
            key: "email.smtp_host".into(),
        })?;
    let tls = match raw.smtp_tls.as_deref().unwrap_or("none") {
        "none" => SmtpTls::None,
        "starttls" => SmtpTls::StartTls,
        "required" => SmtpTls::Required,
        other => {
            return Err(invalid(
                "email.smtp_tls",
                format!("expected \"none\", \"starttls\" or \"required\", got {other:?}"),
            ))
        }
    };
    let auth = match &raw.smtp_username {
        None => None,
        Some(user) => {
            let password = match (&raw.smtp_password_env, &raw.smtp_password_file) {
                (Some(var), _) => env(var).ok_or_else(|| {
                    invalid(
                        "email.smtp_password_env",
                        format!("environment variable {var} is not set"),
                    )
                })?,
                (None, Some(path)) => std::fs::read_to_string(path)
                    .map_err(|e| {
                        invalid(
                            "email.smtp_password_file",
                            format!("cannot read {}: {e}", path.display()),
                        )
                    })?
                    .lines()
                    .next()
                    .unwrap_or("")
                    .to_owned(),
                (None, None) => return Err(ConfigError::Missing {
                    key:
                        "email.smtp_password_env or email.smtp_password_file (smtp_username is set)"
                            .into(),
                }),
            };
            Some((user.clone(), Secret(password)))
        }
    };
    let ca_file = match &raw.smtp_ca_file {
        None => None,
        Some(path) => {
            let pem = std::fs::read(path).map_err(|e| {
                invalid(
                    "email.smtp_ca_file",
                    format!("cannot read {}: {e}", path.display()),
                )
            })?;
            let usable = lettre::transport::smtp::client::Certificate::from_pem(&pem).is_ok()
                && String::from_utf8_lossy(&pem).contains("-----BEGIN CERTIFICATE-----");
            if !usable {
                return Err(invalid(
                    "email.smtp_ca_file",
                    format!("{} holds no PEM certificate", path.display()),
                ));
            }
            Some(path.clone())
        }
    };
    Ok(SmtpSettings {
        host,
        port: raw.smtp_port.unwrap_or(25),
        tls,
        auth,
        ca_file,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::from_toml(Path::new("t.toml"), text, &|_| None)
    }

    const MINIMAL: &str = "[email]\nprovider = \"log\"\n";

    #[test]
    fn defaults() {
        let c = parse(MINIMAL).expect("valid");
        assert_eq!(c.engine.request_timeout, Duration::from_secs(20));
        assert_eq!(c.engine.alarm_timeout, Duration::from_secs(120));
        assert_eq!(c.engine.concurrency, 4);
        assert_eq!(c.db.target(), "admin@localhost:5432/swfdb");
    }

    #[test]
    fn keys_that_do_nothing_are_accepted_with_a_warning() {
        assert!(parse(MINIMAL).expect("valid").warnings.is_empty());
        let c = parse(&format!(
            "[engine]\nstate_db = \"/x.sqlite\"\n[checks.failure_rate]\nthreshold = 1\n{MINIMAL}"
        ))
        .expect("valid");
        assert_eq!(c.warnings.len(), 2, "{:?}", c.warnings);
        assert!(c.warnings[0].starts_with("checks: ignored"));
        assert!(c.warnings[1].starts_with("engine.state_db: ignored"));
    }

    #[test]
    fn old_engine_key_names_work() {
        let c = parse(
            "[engine]\nswf_remote_base_url = \"http://127.0.0.1:8000/\"\nrequest_timeout = 30\n\
             [db]\nhost = \"db.example\"\nname = \"swf\"\nuser = \"u\"\npassword = \"hunter2\"\n\
             [email]\nprovider = \"log\"\nfrom = \"a@b\"\n",
        )
        .expect("valid");
        assert_eq!(
            c.engine.service_base_url.as_deref(),
            Some("http://127.0.0.1:8000")
        );
        assert_eq!(c.engine.request_timeout, Duration::from_secs(30));
        assert_eq!(c.db.target(), "u@db.example:5432/swf");
        assert!(!format!("{c:?}").contains("hunter2"), "password leaked");
    }

    #[test]
    fn a_bad_value_names_its_key() {
        let err =
            parse("[engine]\nrequest_timeout = -1\n[email]\nprovider = \"log\"\n").unwrap_err();
        assert!(err.to_string().contains("engine.request_timeout"), "{err}");
        let err =
            parse("[engine]\nrequest_timeout = \"soon\"\n[email]\nprovider=\"log\"\n").unwrap_err();
        assert!(err.to_string().contains("request_timeout"), "{err}");
        let err = parse("[engine]\nrequest_timout = 5\n[email]\nprovider=\"log\"\n").unwrap_err();
        assert!(err.to_string().contains("request_timout"), "{err}");
        let err = parse("[engine]\n").unwrap_err();
        assert!(err.to_string().contains("email"), "{err}");
    }

    #[test]
    fn environment_overrides_and_dsn_secrecy() {
        let env = |k: &str| match k {
            "SWF_ALARMS_DB_PASSWORD" => Some("s3cret".to_string()),
            "SWF_ALARMS_DB_HOST" => Some("other".to_string()),
            _ => None,
        };
        let c = Config::from_toml(
            Path::new("t.toml"),
            "[db]\nhost = \"h\"\n[email]\nprovider=\"log\"\n",
            &env,
        )
        .expect("valid");
        assert_eq!(c.db.target(), "admin@other:5432/swfdb");
        assert_eq!(c.db.pg.get_password(), Some(&b"s3cret"[..]));
        assert!(!format!("{c:?}").contains("s3cret"));

        let err = parse(
            "[db]\ndsn = \"postgresql://u:topsecret@h:notaport/x\"\n[email]\nprovider=\"log\"\n",
        )
        .unwrap_err();
        assert!(err.to_string().contains("db.dsn"), "{err}");
        assert!(!err.to_string().contains("topsecret"), "{err}");
    }

    #[test]
    fn old_engine_smtp_file_and_new_keys() {
        let c = parse("[email]\nfrom = \"alarms@bnl.gov\"\nsmtp_host = \"relay.bnl.gov\"\n")
            .expect("valid");
        match c.email.provider {
            Provider::Smtp(s) => {
                assert_eq!(
                    (s.host.as_str(), s.port, s.tls),
                    ("relay.bnl.gov", 25, SmtpTls::None)
                );
                assert!(s.auth.is_none());
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(c.email.timeout, Duration::from_secs(20));

        let env = |k: &str| (k == "RELAY_PW").then(|| "pw-123".to_string());
        let c = Config::from_toml(
            Path::new("t.toml"),
            "[email]\nprovider = \"smtp\"\nfrom = \"a@b.org\"\nhost = \"r\"\nport = 587\n\
             smtp_tls = \"starttls\"\nsmtp_username = \"u\"\nsmtp_password_env = \"RELAY_PW\"\ntimeout = 5\n",
            &env,
        )
        .expect("valid");
        assert!(!format!("{c:?}").contains("pw-123"));
        match c.email.provider {
            Provider::Smtp(s) => {
                assert_eq!((s.port, s.tls), (587, SmtpTls::StartTls));
                assert_eq!(
                    s.auth.map(|(u, p)| (u, p.expose().to_owned())),
                    Some(("u".into(), "pw-123".into()))
                );
            }
            other => panic!("{other:?}"),
        }

        let c = parse("[email]\nprovider = \"ses\"\nregion = \"us-east-1\"\nfrom = \"a@b.org\"\n")
            .expect("valid");
        assert_eq!(
            c.email.provider,
            Provider::Ses(SesSettings {
                region: "us-east-1".into(),
                endpoint_url: None
            })
        );
    }

    #[test]
    fn email_problems_name_their_key() {
        let cases = [
            ("[email]\nfrom = \"a@b.org\"\n", "email.smtp_host"),
            ("[email]\nsmtp_host = \"r\"\n", "email.from"),
            (
                "[email]\nsmtp_host = \"r\"\nfrom = \"not an address\"\n",
                "email.from",
            ),
            (
                "[email]\nprovider = \"ses\"\nfrom = \"a@b.org\"\n",
                "email.region",
            ),
            (
                "[email]\nsmtp_host = \"r\"\nfrom = \"a@b.org\"\nsmtp_tls = \"yes\"\n",
                "email.smtp_tls",
            ),
            (
                "[email]\nsmtp_host = \"r\"\nfrom = \"a@b.org\"\nsmtp_username = \"u\"\n",
                "smtp_password",
            ),
        ];
        for (text, key) in cases {
            let err = parse(text).unwrap_err();
            assert!(err.to_string().contains(key), "{text}: {err}");
        }
    }

    #[test]
    fn heartbeat_settings() {
        let email = "[email]\nprovider = \"log\"\n";
        let c = parse(email).expect("valid");
        assert_eq!(c.engine.heartbeat, None);
        let c = parse(&format!(
            "[engine]\nheartbeat_url = \"https://hc.example/ping/abc/\"\n{email}"
        ))
        .expect("valid");
        let hb = c.engine.heartbeat.expect("configured");
        assert_eq!(hb.fail_url, "https://hc.example/ping/abc/fail");
        assert!(!hb.post);
        assert_eq!(hb.timeout, Duration::from_secs(10));
        assert_eq!(
            fail_url_of("https://hc.example/p/abc?rid=1"),
            "https://hc.example/p/abc/fail?rid=1"
        );
        let c = parse(&format!(
            "[engine]\nheartbeat_url = \"http://h/ok\"\nheartbeat_fail_url = \"http://h/bad\"\n\
             heartbeat_method = \"post\"\nheartbeat_timeout = 2.5\n{email}"
        ))
        .expect("valid");
        let hb = c.engine.heartbeat.expect("configured");
        assert_eq!((hb.fail_url.as_str(), hb.post), ("http://h/bad", true));
        for (engine, key) in [
            ("heartbeat_url = \"hc.example/x\"", "engine.heartbeat_url"),
            (
                "heartbeat_url = \"http://h/\"\nheartbeat_method = \"PUT\"",
                "engine.heartbeat_method",
            ),
            (
                "heartbeat_url = \"http://h/\"\nheartbeat_timeout = 0",
                "engine.heartbeat_timeout",
            ),
            (
                "heartbeat_fail_url = \"http://h/f\"",
                "engine.heartbeat_fail_url",
            ),
        ] {
            let err = parse(&format!("[engine]\n{engine}\n{email}")).unwrap_err();
            assert!(err.to_string().contains(key), "{engine}: {err}");
        }
    }

    /// Every key of every table, uncommented, must parse; and every key
    /// the structs know must be documented in the example.
    #[test]
    fn the_example_parses_and_documents_every_key() {
        let example = include_str!("../config.toml.example");
        let c = parse(example).expect("the example as shipped is valid");
        assert!(matches!(c.email.provider, Provider::Smtp(_)));

        let uncommented: String = example
            .lines()
            .map(|l| match l.strip_prefix("# ") {
                Some(rest)
                    if rest.split_once(" = ").is_some_and(|(key, _)| {
                        !key.is_empty() && key.chars().all(|c| c.is_ascii_lowercase() || c == '_')
                    }) =>
                {
                    rest
                }
                _ => l,
            })
            .collect::<Vec<_>>()
            .join("\n");
        let value: toml::Table = toml::from_str(&uncommented).expect("uncommented example is TOML");
        let raw: RawConfig = toml::from_str(&uncommented).expect("every documented key is known");
        assert!(raw.db.dsn.is_some() && raw.email.is_some());
        // A key is documented by a line of its own, or (an old name kept
        // as an alias) by `key` in backticks in a comment of its table.
        let mentioned = |table: &str, key: &str| {
            let header = format!("[{table}]");
            example
                .lines()
                .skip_while(|l| l.trim() != header)
                .skip(1)
                .take_while(|l| !l.starts_with('['))
                .any(|l| l.starts_with('#') && l.contains(&format!("`{key}`")))
        };
        let documented = |table: &str, key: &str| {
            value.get(table).and_then(|t| t.get(key)).is_some() || mentioned(table, key)
        };
        // The keys the structs know, read off serde's own field lists, so
        // a key added to a struct must be documented here to pass.
        let tables = [
            ("engine", fields_of::<RawEngine>()),
            ("db", fields_of::<RawDb>()),
            ("email", fields_of::<RawEmail>()),
        ];
        let mut missing: Vec<String> = fields_of::<RawConfig>()
            .into_iter()
            .filter(|key| !example.contains(&format!("[{key}]")))
            .map(str::to_owned)
            .collect();
        for (table, keys) in &tables {
            assert!(!keys.is_empty(), "no fields found for [{table}]");
            for key in keys {
                if !documented(table, key) {
                    missing.push(format!("{table}.{key}"));
                }
            }
        }
        assert!(missing.is_empty(), "undocumented keys: {missing:?}");
    }

    /// The field names serde knows for `T`: the list a derived
    /// `Deserialize` hands to `deserialize_struct`.
    fn fields_of<T: serde::de::DeserializeOwned>() -> Vec<&'static str> {
        use serde::de::{self, Visitor};

        #[derive(Default)]
        struct Lister(std::cell::RefCell<Vec<&'static str>>);

        impl<'de> de::Deserializer<'de> for &Lister {
            type Error = de::value::Error;

            fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Self::Error> {
                Err(de::Error::custom("not a struct"))
            }

            fn deserialize_struct<V: Visitor<'de>>(
                self,
                _: &'static str,
                fields: &'static [&'static str],
                _: V,
            ) -> Result<V::Value, Self::Error> {
                self.0.borrow_mut().extend(fields);
                Err(de::Error::custom("fields listed"))
            }

            serde::forward_to_deserialize_any! {
                bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
                bytes byte_buf option unit unit_struct newtype_struct seq tuple
                tuple_struct map enum identifier ignored_any
            }
        }

        let lister = Lister::default();
        let _ = T::deserialize(&lister);
        lister.0.into_inner()
    }

    #[test]
    fn every_connection_gets_deadlines_and_a_dsn_keeps_its_own() {
        let c = parse(MINIMAL).expect("valid");
        assert_eq!(c.engine.tick_timeout, Duration::from_secs(240));
        assert_eq!(c.engine.stuck_after, Duration::from_secs(15 * 60));
        assert_eq!(
            c.db.pg.get_connect_timeout(),
            Some(&Duration::from_secs(10))
        );
        assert!(c.db.pg.get_keepalives());
        assert_eq!(c.db.pool_timeout, Duration::from_secs(30));
        assert_eq!(
            c.db.pg.get_options(),
            Some(
                "-c statement_timeout=30000 -c lock_timeout=10000 \
                 -c idle_in_transaction_session_timeout=60000"
            )
        );

        let c = parse(
            "[db]\ndsn = \"postgresql://u@h/x?connect_timeout=3&options=-c%20lock_timeout%3D1\"\n\
             lock_timeout = 2\n[email]\nprovider = \"log\"\n",
        )
        .expect("valid");
        assert_eq!(c.db.pg.get_connect_timeout(), Some(&Duration::from_secs(3)));
        let options = c.db.pg.get_options().expect("options");
        assert!(
            options.ends_with("-c lock_timeout=1") && options.contains("lock_timeout=2000"),
            "{options}"
        );
    }

    #[test]
    fn sslmode_and_root_from_a_dsn_or_keys() {
        let c = parse(MINIMAL).expect("valid");
        assert_eq!(
            c.db.tls,
            DbTls {
                mode: SslMode::Prefer,
                root_cert: None
            }
        );
        let c = parse(
            "[db]\ndsn = \"postgresql://u@h:5433/x?sslmode=verify-full&sslrootcert=%2Fetc%2Fca.pem&application_name=a\"\n\
             sslmode = \"disable\"\n[email]\nprovider = \"log\"\n",
        )
        .expect("valid");
        assert_eq!(c.db.tls.mode, SslMode::VerifyFull, "the dsn's own wins");
        assert_eq!(c.db.tls.root_cert, Some(PathBuf::from("/etc/ca.pem")));
        assert_eq!(c.db.target(), "u@h:5433/x");
        assert_eq!(c.db.pg.get_application_name(), Some("a"));

        let c = parse(
            "[db]\ndsn = \"host=h user=u sslmode='verify-ca'\"\nsslrootcert = \"/r.pem\"\n\
             [email]\nprovider = \"log\"\n",
        )
        .expect("valid");
        assert_eq!(c.db.tls.mode, SslMode::VerifyCa);
        assert_eq!(c.db.tls.root_cert, Some(PathBuf::from("/r.pem")));

        let c = parse("[db]\nsslmode = \"require\"\n[email]\nprovider = \"log\"\n").expect("valid");
        assert_eq!(c.db.tls.mode, SslMode::Require);
        let err = parse("[db]\nsslmode = \"on\"\n[email]\nprovider = \"log\"\n").unwrap_err();
        assert!(err.to_string().contains("db.sslmode"), "{err}");
        let err =
            parse("[db]\ndsn = \"postgresql://h/x?sslmode=yes\"\n[email]\nprovider = \"log\"\n")
                .unwrap_err();
        assert!(err.to_string().contains("sslmode"), "{err}");
    }

    #[test]
    fn retention_days_zero_keeps_everything() {
        assert_eq!(parse(MINIMAL).expect("valid").engine.retention, None);
        let c =
            parse("[engine]\nretention_days = 0\n[email]\nprovider = \"log\"\n").expect("valid");
        assert_eq!(c.engine.retention, None);
        let c =
            parse("[engine]\nretention_days = 400\n[email]\nprovider = \"log\"\n").expect("valid");
        assert_eq!(c.engine.retention, Some(Duration::from_secs(400 * 86_400)));
        let err =
            parse("[engine]\nretention_days = -1\n[email]\nprovider = \"log\"\n").unwrap_err();
        assert!(err.to_string().contains("engine.retention_days"), "{err}");
    }

    #[test]
    fn a_tick_deadline_must_fit_inside_stuck_after() {
        let err =
            parse("[engine]\ntick_timeout = 600\nstuck_after = 5\n[email]\nprovider = \"log\"\n")
                .unwrap_err();
        assert!(err.to_string().contains("engine.stuck_after"), "{err}");
        let err = parse("[db]\nlock_timeout = 0\n[email]\nprovider = \"log\"\n").unwrap_err();
        assert!(err.to_string().contains("db.lock_timeout"), "{err}");
    }

    #[test]
    fn dotenv_file_supplies_db_settings() {
        let dir = std::env::temp_dir().join(format!("swf-alarms-cfg-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let env_file = dir.join("production.env");
        std::fs::write(
            &env_file,
            "# comment\nDB_HOST=pg.internal\nDB_NAME='swfdb2'\nDB_USER=alarm\nDB_PASSWORD=\"pw\"\n",
        )
        .expect("write");
        let text = format!(
            "[db]\nenv_path = {:?}\n[email]\nprovider=\"log\"\n",
            env_file.display().to_string()
        );
        let c = parse(&text).expect("valid");
        assert_eq!(c.db.target(), "alarm@pg.internal:5432/swfdb2");
        assert_eq!(c.db.pg.get_password(), Some(&b"pw"[..]));
        let _ = std::fs::remove_dir_all(dir);
    }
}

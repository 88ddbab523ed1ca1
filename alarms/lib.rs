//! The detectors of swf-alarms, and the contract they implement.
//!
//! A detector looks at one data source and says which entities are in a
//! bad state right now. It returns the *full* set of its detections for
//! this tick, or an error; the engine turns that into event rows, clears
//! and emails. A detector never writes state and never sends mail.
//!
//! Each detector is one file in this folder (`alarms/<name>.rs`) that
//! submits one [`Registration`] with [`inventory::submit!`]. The build
//! script turns the folder listing into `mod` lines, so adding a detector
//! needs no edit anywhere else. `static_list.rs` is the template to copy:
//!
//! ```
//! let reg = alarms::find("static_list").expect("static_list is registered");
//! assert!((reg.params)().iter().any(|p| p.name == "detections"));
//! ```

use std::{future::Future, pin::Pin, sync::Arc, time::Duration};

pub mod support;

pub use swf_alarms_params_derive::ParamSchema;

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

include!(concat!(env!("OUT_DIR"), "/detectors.rs"));

/// One entity in a bad state, as seen by a detector in this tick.
///
/// Non-exhaustive so that a field added later does not break code outside
/// this crate; detectors (in this crate) build it with a struct literal.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Detection {
    /// Stable identity of the entity across ticks, e.g. `task:35981`.
    pub dedupe_key: String,
    /// One line for the email and the event title; upstream text allowed.
    pub subject: String,
    /// Detail lines for the email and the event body.
    pub body: String,
    /// Structured context merged into the event's `data` (the engine's
    /// own keys win on a clash).
    pub extra: Map<String, Value>,
    /// Hold this detection out of emails until it has been active this
    /// long; `None` uses the alarm's `notify_after_minutes`.
    pub notify_after_minutes: Option<f64>,
}

/// The fields of a `json!({...})` object, moved out rather than copied;
/// anything but an object gives none.
pub fn fields(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

impl Detection {
    /// A detection with no structured context.
    pub fn new(
        dedupe_key: impl Into<String>,
        subject: impl Into<String>,
        body: impl Into<String>,
    ) -> Self {
        Detection {
            dedupe_key: dedupe_key.into(),
            subject: subject.into(),
            body: body.into(),
            extra: Map::new(),
            notify_after_minutes: None,
        }
    }
}

/// Why a detector could not say what is firing this tick.
///
/// Any of these fails the alarm for this tick only: nothing is cleared,
/// and the message lands in the run record.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum DetectError {
    /// The upstream could not be reached or answered with an error.
    #[error("upstream {source_name}: {message}")]
    Upstream {
        /// Which upstream (a URL, a path, a table).
        source_name: String,
        /// What went wrong, for an operator.
        message: String,
    },
    /// An HTTP upstream answered with an error status: the status with its
    /// reason phrase, the URL and the start of the body, so a reader of
    /// the run record can place it.
    #[error("HTTP {status}{} from {url}{}", reason_suffix(.reason), excerpt_suffix(.excerpt))]
    HttpStatus {
        /// The status code.
        status: u16,
        /// Its reason phrase (`Internal Server Error`), empty when unknown.
        reason: String,
        /// The URL requested.
        url: String,
        /// The start of the body.
        excerpt: String,
    },
    /// The upstream answered, but not with something this detector understands.
    #[error("bad response from {source_name}: {message}")]
    BadResponse {
        /// Which upstream.
        source_name: String,
        /// What was wrong with the answer.
        message: String,
    },
    /// The detector did not finish within the alarm's time limit.
    #[error("timed out after {0:?}")]
    Timeout(Duration),
    /// The alarm row's `params` do not fit this detector's schema.
    #[error("invalid params: {0}")]
    InvalidParams(String),
    /// The detector panicked; the panic message is kept.
    #[error("detector panicked: {0}")]
    Panicked(String),
    /// Part of the alarm could be judged and part not: `detections` fire
    /// as usual, the alarm's other active events are kept (neither touched
    /// nor cleared, as for any failure), and the alarm is recorded as
    /// failed with `message`.
    #[error("{message}")]
    Partial {
        /// What is known to fire despite the failure.
        detections: Vec<Detection>,
        /// What could not be judged, and why.
        message: String,
    },
    /// The detector asked a replay context for a source that keeps no
    /// history (PanDA, probes, the database): it cannot be replayed.
    #[error("{0} keeps no history, so this detector cannot be replayed")]
    NoHistory(&'static str),
}

fn reason_suffix(reason: &str) -> String {
    if reason.is_empty() {
        String::new()
    } else {
        format!(" {reason}")
    }
}

fn excerpt_suffix(excerpt: &str) -> String {
    if excerpt.is_empty() {
        " (empty body)".into()
    } else {
        format!(": {excerpt}")
    }
}

/// The JSON type a parameter takes, as shown to a dashboard editor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParamType {
    /// A JSON string.
    String,
    /// A JSON number.
    Number,
    /// A whole JSON number.
    Integer,
    /// `true` or `false`.
    Boolean,
    /// A JSON array.
    Array,
    /// A JSON object.
    Object,
}

impl ParamType {
    /// The lower-case name used in schemas (`"string"`, `"number"`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            ParamType::String => "string",
            ParamType::Number => "number",
            ParamType::Integer => "integer",
            ParamType::Boolean => "boolean",
            ParamType::Array => "array",
            ParamType::Object => "object",
        }
    }
}

/// One parameter of a detector's schema, as `#[derive(ParamSchema)]` reads it
/// off the detector's `Params` struct.
#[derive(Debug, Clone, PartialEq)]
pub struct ParamSpec {
    /// Key in the alarm's `data.params`.
    pub name: &'static str,
    /// Older keys accepted for it (`#[serde(alias)]`).
    pub aliases: &'static [&'static str],
    /// Its JSON type.
    pub kind: ParamType,
    /// The default; `None` means the parameter is required.
    pub default: Option<Value>,
    /// One line for the dashboard's editor: the field's doc comment.
    pub description: &'static str,
}

impl ParamSpec {
    /// Whether `key` names this parameter, by its name or an alias.
    pub fn answers_to(&self, key: &str) -> bool {
        self.name == key || self.aliases.contains(&key)
    }
}

/// A struct whose fields are a detector's parameters; implemented by
/// `#[derive(ParamSchema)]`, never by hand.
pub trait ParamSchema {
    /// The parameters, in field order (flattened groups in place).
    fn param_specs() -> Vec<ParamSpec>;
}

/// The JSON type of a Rust type used as a parameter.
pub trait ParamKind {
    /// What the editor shows.
    const KIND: ParamType;
    /// Whether serde accepts the key being absent without a default
    /// (`Option`).
    const OPTIONAL: bool = false;
}

macro_rules! param_kind {
    ($kind:ident: $($ty:ty),*) => {
        $(impl ParamKind for $ty { const KIND: ParamType = ParamType::$kind; })*
    };
}
param_kind!(String: String);
param_kind!(Number: f64, f32);
param_kind!(Integer: u8, u16, u32, u64, usize, i32, i64);
param_kind!(Boolean: bool);
param_kind!(Object: Map<String, Value>);

impl<T> ParamKind for Vec<T> {
    const KIND: ParamType = ParamType::Array;
}

impl<T: ParamKind> ParamKind for Option<T> {
    const KIND: ParamType = T::KIND;
    const OPTIONAL: bool = true;
}

/// What `#[derive(ParamSchema)]` expands to needs; not for direct use.
#[doc(hidden)]
pub mod params {
    /// A default value as JSON (`null` if it cannot be written as JSON).
    pub fn default_json<T: serde::Serialize>(value: T) -> serde_json::Value {
        serde_json::to_value(value).unwrap_or(serde_json::Value::Null)
    }
}

/// Checks `params` the way the detector itself will parse them: by
/// deserializing into its `Params` struct. `Registration::validate` is
/// this function for that struct, so `check` and the tick cannot disagree.
pub fn validate<T: DeserializeOwned>(params: Value) -> Result<(), DetectError> {
    parse_params::<T>(params).map(drop)
}

/// A future returned by a source.
pub type SourceFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, DetectError>> + Send + 'a>>;

/// The PanDA REST API (through the service at `engine.service_base_url`).
///
/// The engine's implementation sends identical requests (same path and
/// query) once per tick, however many alarms make them, and caches nothing
/// across ticks.
pub trait PandaApi: Send + Sync {
    /// GETs `path` (e.g. `/api/panda/tasks/`) with these query pairs and
    /// returns the body, which is known to parse as a `serde_json::Value`
    /// (a body that does not is a `BadResponse` here). The bytes rather
    /// than a `Value` tree, so that callers can read them into typed
    /// structs: building and freeing the trees of thousands of tasks was
    /// most of a PanDA tick.
    fn get_json_body<'a>(
        &'a self,
        path: &'a str,
        query: &'a [(String, String)],
    ) -> SourceFuture<'a, Arc<[u8]>>;
    /// The monitor's page for a task.
    fn task_url(&self, jeditaskid: i64) -> String;
    /// Logs `message` once per tick for `key`, however many alarms hit it.
    fn warn_once(&self, key: &str, message: &str);
}

/// A value bound to a database detector's query.
#[derive(Debug, Clone, PartialEq)]
pub enum SqlValue {
    /// Compared as text.
    Text(String),
    /// Any of these, compared as text.
    TextList(Vec<String>),
    /// A number.
    Float(f64),
}

/// Read-only access to the engine's database, for database detectors.
///
/// Queries run in a read-only transaction under a statement timeout. A
/// detector builds its SQL from identifiers it has validated and quoted
/// (see [`support::sql`]); values travel as bound parameters.
pub trait ReadOnlyDb: Send + Sync {
    /// Runs a query returning one row of one `float8` column.
    fn query_f64<'a>(&'a self, sql: String, params: Vec<SqlValue>)
        -> SourceFuture<'a, Option<f64>>;
    /// The SQL type name of `table.column` (`timestamp with time zone`,
    /// `double precision`, …), or `None` when there is no such column.
    fn column_type<'a>(&'a self, table: String, column: String)
        -> SourceFuture<'a, Option<String>>;
    /// Whether the site lets database checks read `table` (a checked
    /// `table` or `schema.table`): an `InvalidParams` error saying which
    /// tables are allowed when not.
    fn allow_table(&self, table: &str) -> Result<(), DetectError>;
}

/// One ops-monitor snapshot: a flat JSON object and when it was taken.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    /// Its `time_utc`, as Unix seconds.
    pub time: f64,
    /// The record itself.
    pub record: Map<String, Value>,
    /// The file it came from, for messages.
    pub file: String,
}

/// The ops monitor's snapshot files (`ops_monitor_YYYYMMDD.jsonl`, `latest.json`).
pub trait OpsSnapshots: Send + Sync {
    /// The newest complete snapshot in `dir`, or in the configured
    /// directory when `dir` is `None`; `Ok(None)` when there is none.
    fn latest<'a>(&'a self, dir: Option<&'a str>) -> SourceFuture<'a, Option<Arc<Snapshot>>>;
}

/// How a probe of a target went wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProbeFailure {
    /// Nothing listens (connection refused).
    Refused,
    /// No answer within the timeout.
    Timeout,
    /// The TLS handshake or certificate failed.
    Tls,
    /// Anything else (DNS, reset, bad URL).
    Other,
}

/// What an HTTP probe saw.
#[derive(Debug, Clone, PartialEq)]
pub struct HttpAnswer {
    /// The status code.
    pub status: u16,
    /// The start of the body (up to 64 KiB), lossily decoded.
    pub body: String,
}

/// The result of a probe and how long it took.
#[derive(Debug, Clone, PartialEq)]
pub struct Probed<T> {
    /// The answer, or why there was none (with a message).
    pub result: Result<T, (ProbeFailure, String)>,
    /// Milliseconds until the answer or the failure.
    pub latency_ms: f64,
}

/// Real network probes: an HTTP request, or a TCP connect.
pub trait Prober: Send + Sync {
    /// GETs `url` within `timeout`.
    fn http<'a>(&'a self, url: &'a str, timeout: Duration) -> SourceFuture<'a, Probed<HttpAnswer>>;
    /// Opens (and closes) a TCP connection within `timeout`.
    fn tcp<'a>(
        &'a self,
        host: &'a str,
        port: u16,
        timeout: Duration,
    ) -> SourceFuture<'a, Probed<()>>;
}

/// What a detector may use while it runs: the clock of this tick, the
/// alarm it runs for, and the sources the engine's config enables.
#[derive(Clone)]
#[non_exhaustive]
pub struct Ctx {
    /// This tick's clock, Unix seconds.
    pub now: f64,
    /// The alarm's `entry_id`, for messages.
    pub alarm: String,
    panda: Option<Arc<dyn PandaApi>>,
    db: Option<Arc<dyn ReadOnlyDb>>,
    snapshots: Option<Arc<dyn OpsSnapshots>>,
    prober: Option<Arc<dyn Prober>>,
    replay: bool,
}

impl std::fmt::Debug for Ctx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ctx")
            .field("now", &self.now)
            .field("alarm", &self.alarm)
            .field("panda", &self.panda.is_some())
            .field("db", &self.db.is_some())
            .field("snapshots", &self.snapshots.is_some())
            .field("prober", &self.prober.is_some())
            .field("replay", &self.replay)
            .finish()
    }
}

impl Ctx {
    /// A context for one alarm at one instant, with no sources.
    pub fn new(now: f64, alarm: impl Into<String>) -> Self {
        Ctx {
            now,
            alarm: alarm.into(),
            panda: None,
            db: None,
            snapshots: None,
            prober: None,
            replay: false,
        }
    }

    /// A context for replaying history: `snapshots` hands out the
    /// recorded snapshot of `now`, and every source without history
    /// (PanDA, probes, the database) answers [`DetectError::NoHistory`].
    /// A detector that reads only its snapshot from the context can
    /// therefore be replayed without declaring anything.
    pub fn replay(now: f64, alarm: impl Into<String>, snapshots: Arc<dyn OpsSnapshots>) -> Self {
        let mut ctx = Ctx::new(now, alarm).with_snapshots(snapshots);
        ctx.replay = true;
        ctx
    }

    /// Whether this is a replay of history rather than a live tick.
    pub fn is_replay(&self) -> bool {
        self.replay
    }

    /// Adds the ops snapshot reader.
    pub fn with_snapshots(mut self, snapshots: Arc<dyn OpsSnapshots>) -> Self {
        self.snapshots = Some(snapshots);
        self
    }

    /// Adds the network prober.
    pub fn with_prober(mut self, prober: Arc<dyn Prober>) -> Self {
        self.prober = Some(prober);
        self
    }

    /// The ops snapshot reader, or an error.
    pub fn snapshots(&self) -> Result<&dyn OpsSnapshots, DetectError> {
        self.snapshots
            .as_deref()
            .ok_or_else(|| DetectError::Upstream {
                source_name: "ops snapshots".into(),
                message: "no snapshot reader in this context".into(),
            })
    }

    /// The network prober, or an error.
    pub fn prober(&self) -> Result<&dyn Prober, DetectError> {
        if self.replay {
            return Err(DetectError::NoHistory("a network probe"));
        }
        self.prober.as_deref().ok_or_else(|| DetectError::Upstream {
            source_name: "prober".into(),
            message: "no prober in this context".into(),
        })
    }

    /// Adds the PanDA source.
    pub fn with_panda(mut self, panda: Arc<dyn PandaApi>) -> Self {
        self.panda = Some(panda);
        self
    }

    /// Adds the read-only database.
    pub fn with_db(mut self, db: Arc<dyn ReadOnlyDb>) -> Self {
        self.db = Some(db);
        self
    }

    /// The PanDA source, or an error saying how to configure it.
    pub fn panda(&self) -> Result<&dyn PandaApi, DetectError> {
        if self.replay {
            return Err(DetectError::NoHistory("PanDA"));
        }
        self.panda.as_deref().ok_or_else(|| DetectError::Upstream {
            source_name: "PanDA".into(),
            message: "not configured: set engine.service_base_url".into(),
        })
    }

    /// The read-only database, or an error.
    pub fn db(&self) -> Result<&dyn ReadOnlyDb, DetectError> {
        if self.replay {
            return Err(DetectError::NoHistory("the database"));
        }
        self.db.as_deref().ok_or_else(|| DetectError::Upstream {
            source_name: "database".into(),
            message: "no read-only database handle in this context".into(),
        })
    }
}

/// The future a detector returns.
pub type DetectFuture = Pin<Box<dyn Future<Output = Result<Vec<Detection>, DetectError>> + Send>>;

/// A detector as the registry knows it.
#[derive(Debug)]
pub struct Registration {
    /// Registry name; equal to the file name.
    pub name: &'static str,
    /// Further alarm names that resolve to this detector (production
    /// rows whose `entry_id` predates the detector's name).
    pub aliases: &'static [&'static str],
    /// One line: what it detects.
    pub summary: &'static str,
    /// The parameter schema: `<Params as ParamSchema>::param_specs`.
    pub params: fn() -> Vec<ParamSpec>,
    /// Parses params as `detect` will: `validate::<Params>`.
    pub validate: fn(Value) -> Result<(), DetectError>,
    /// An example `params` object, as JSON text; a test parses it.
    pub example: &'static str,
    /// Runs the detector.
    pub detect: fn(Ctx, Value) -> DetectFuture,
}

inventory::collect!(Registration);

/// Marks a detector whose dedupe keys name targets or units that are up
/// or down (probes, the ops monitor's rules), so that an engine's status
/// page shows their uptime: `inventory::submit!(ReportsUptime("tcp_port"));`
/// beside the detector's [`Registration`].
#[derive(Debug)]
pub struct ReportsUptime(pub &'static str);

inventory::collect!(ReportsUptime);

/// Whether the detector `name` (or alias) reports uptime.
pub fn reports_uptime(name: &str) -> bool {
    let name = find(name).map_or(name, |r| r.name);
    inventory::iter::<ReportsUptime>
        .into_iter()
        .any(|marked| marked.0 == name)
}

/// Every registered detector, sorted by name.
pub fn registry() -> Vec<&'static Registration> {
    let mut all: Vec<_> = inventory::iter::<Registration>.into_iter().collect();
    all.sort_by_key(|r| r.name);
    all
}

/// The detector registered under `name`, or under `name` as an alias.
pub fn find(name: &str) -> Option<&'static Registration> {
    inventory::iter::<Registration>
        .into_iter()
        .find(|r| r.name == name || r.aliases.contains(&name))
}

/// Parses an alarm's `params` into a detector's `Params` struct; a
/// mismatch becomes [`DetectError::InvalidParams`] naming the field.
pub fn parse_params<T: DeserializeOwned>(params: Value) -> Result<T, DetectError> {
    let params = match params {
        Value::Null => Value::Object(Map::new()),
        other => other,
    };
    serde_json::from_value(params).map_err(|e| DetectError::InvalidParams(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn every_detector_file_is_registered() {
        let names: HashSet<&str> = registry().iter().map(|r| r.name).collect();
        for file in DETECTOR_FILES {
            assert!(names.contains(file), "alarms/{file}.rs registered nothing");
        }
    }

    #[test]
    fn an_http_status_error_names_status_reason_url_and_body() {
        let e = |reason: &str, excerpt: &str| {
            DetectError::HttpStatus {
                status: 500,
                reason: reason.into(),
                url: "http://h/api/panda/tasks/?days=1".into(),
                excerpt: excerpt.into(),
            }
            .to_string()
        };
        assert_eq!(
            e("Internal Server Error", "database is down"),
            "HTTP 500 Internal Server Error from http://h/api/panda/tasks/?days=1: database is down"
        );
        assert_eq!(
            e("", ""),
            "HTTP 500 from http://h/api/panda/tasks/?days=1 (empty body)"
        );
    }

    #[test]
    fn uptime_marks_name_registered_detectors() {
        for marked in inventory::iter::<ReportsUptime> {
            assert!(find(marked.0).is_some(), "{} is not registered", marked.0);
        }
        assert!(reports_uptime("tcp_port") && reports_uptime("aurora_ops"));
        assert!(!reports_uptime("static_list") && !reports_uptime("panda_failure_rate"));
    }

    #[test]
    fn names_and_aliases_are_unique() {
        let mut seen = HashSet::new();
        for reg in registry() {
            for name in std::iter::once(&reg.name).chain(reg.aliases) {
                assert!(seen.insert(*name), "{name} registered twice");
            }
        }
    }

    #[test]
    fn every_schema_is_sane_and_every_example_parses() {
        for reg in registry() {
            let example: Value = serde_json::from_str(reg.example)
                .unwrap_or_else(|e| panic!("{}: example is not JSON: {e}", reg.name));
            (reg.validate)(example.clone())
                .unwrap_or_else(|e| panic!("{}: example does not parse: {e}", reg.name));
            let specs = (reg.params)();
            let obj = example.as_object().expect("example is an object");
            for key in obj.keys() {
                assert!(
                    specs.iter().any(|p| p.answers_to(key)),
                    "{}: example key {key} is not in the schema",
                    reg.name
                );
            }
            let mut keys = HashSet::new();
            for spec in &specs {
                for key in std::iter::once(&spec.name).chain(spec.aliases) {
                    assert!(keys.insert(*key), "{}: key {key} twice", reg.name);
                }
                // A default, written out, is accepted as it stands.
                if let Some(default) = &spec.default {
                    let mut with = obj.clone();
                    with.insert(spec.name.to_owned(), default.clone());
                    (reg.validate)(Value::Object(with)).unwrap_or_else(|e| {
                        panic!("{}.{} default {default}: {e}", reg.name, spec.name)
                    });
                }
            }
        }
    }

    // That every example also *runs* is checked against loopback sources
    // by the engine's integration tests (tests/it/examples.rs).
    #[tokio::test]
    async fn garbage_params_are_an_error() {
        for reg in registry() {
            let garbage = serde_json::json!({"no_such_param_anywhere": [1, {"x": null}]});
            match (reg.detect)(Ctx::new(0.0, "alarm_test"), garbage.clone()).await {
                Err(DetectError::InvalidParams(_)) => {}
                other => panic!("{}: garbage params gave {other:?}", reg.name),
            }
            assert!((reg.validate)(garbage).is_err(), "{}", reg.name);
        }
    }
}

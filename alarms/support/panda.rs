//! PanDA task listing and the failure-rate computation, shared by the
//! PanDA detectors.
//!
//! `GET /api/panda/tasks/` answers `{items, total_count, has_more,
//! next_before_id, summary, filters}`; pages are walked with `before_id =
//! next_before_id` while `has_more`. A server that loops (a cursor that
//! does not decrease, `has_more` without a cursor) or pages without end is
//! an error, never a hang.
//!
//! A page is read straight into typed structs when it has the usual shape
//! (ids, text and numbers of the expected JSON types), as it almost always
//! has; any other page is read through a `serde_json::Value` tree, the
//! lenient reading that decides what is skipped and what is an error.
//! Both readings give the same tasks: the typed one accepts only what the
//! `Value` reading reads the same way.

use std::{fmt, marker::PhantomData};

use serde::de::{value::MapAccessDeserializer, Deserializer, MapAccess, Visitor};
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::{DetectError, PandaApi, ParamSchema};

/// The task-list endpoint.
pub const TASKS_PATH: &str = "/api/panda/tasks/";
/// The server's largest page.
pub const MAX_LIMIT: u32 = 200;
/// Pages walked at most for one query (200 × 100 = 20,000 tasks).
pub const MAX_PAGES: usize = 100;

/// The task filters both PanDA detectors take in their params.
#[derive(Debug, Clone, Deserialize, ParamSchema)]
pub struct TaskFilter {
    /// Tasks modified within this many days.
    #[serde(default = "one_day", alias = "days_window")]
    pub since_days: u32,
    /// Task owner; % wildcards pass through to PanDA.
    #[serde(default)]
    pub username: Option<String>,
    /// PanDA processing type.
    #[serde(default)]
    pub processingtype: Option<String>,
    /// PanDA working group.
    #[serde(default)]
    pub workinggroup: Option<String>,
}

fn one_day() -> u32 {
    1
}

impl TaskFilter {
    /// The query for one status.
    pub fn query(&self, status: &str) -> TaskQuery {
        TaskQuery {
            days: self.since_days,
            status: Some(status.to_owned()),
            username: self.username.clone(),
            processingtype: self.processingtype.clone(),
            workinggroup: self.workinggroup.clone(),
        }
    }
}

/// The filters of one task-list query.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TaskQuery {
    /// Tasks modified within this many days.
    pub days: u32,
    /// Task status, e.g. `running`.
    pub status: Option<String>,
    /// Owner; `%` wildcards pass through to the server.
    pub username: Option<String>,
    /// PanDA processing type.
    pub processingtype: Option<String>,
    /// Working group (older alarm rows carry it).
    pub workinggroup: Option<String>,
}

impl TaskQuery {
    fn pairs(&self, before_id: Option<i64>) -> Vec<(String, String)> {
        let mut q = vec![("days".to_owned(), self.days.to_string())];
        let optional = [
            ("status", &self.status),
            ("username", &self.username),
            ("processingtype", &self.processingtype),
            ("workinggroup", &self.workinggroup),
        ];
        for (key, value) in optional {
            if let Some(v) = value {
                q.push((key.to_owned(), v.clone()));
            }
        }
        q.push(("limit".to_owned(), MAX_LIMIT.to_string()));
        if let Some(id) = before_id {
            q.push(("before_id".to_owned(), id.to_string()));
        }
        q
    }
}

/// One task, with the fields the detectors use; numbers may be absent.
#[derive(Debug, Clone, PartialEq)]
pub struct Task {
    pub jeditaskid: i64,
    /// Text fields are `None` when the server sent null or nothing.
    pub taskname: Option<String>,
    pub status: Option<String>,
    pub username: Option<String>,
    pub site: Option<String>,
    pub nactive: u64,
    pub nfinished: u64,
    /// Failed job records, retries included.
    pub nfailed: u64,
    /// Input files that exhausted their retries; absent on older servers.
    pub nfinalfailed: Option<u64>,
    /// Input files finished.
    pub nfilesfinished: u64,
    pub nretries: u64,
    pub computed_failurerate: Option<f64>,
    pub computed_finalfailurerate: Option<f64>,
    /// JEDI's own `failurerate` column as the server sent it (usually
    /// null in this deployment); shown verbatim, never judged.
    pub failurerate: Value,
    pub modificationtime: Option<String>,
}

impl Task {
    /// The task name, or `?` when the server sent none (as the old engine shows it).
    pub fn taskname_or_unknown(&self) -> &str {
        or_unknown(&self.taskname)
    }
    /// The status, or `?`.
    pub fn status_or_unknown(&self) -> &str {
        or_unknown(&self.status)
    }
}

/// The text, or `?` when it is absent or empty.
pub fn or_unknown(text: &Option<String>) -> &str {
    match text.as_deref() {
        Some(t) if !t.is_empty() => t,
        _ => "?",
    }
}

/// A number the server sent as a number or a numeric string.
fn number(v: Option<&Value>) -> Option<f64> {
    finite(match v? {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => numeric_text(s),
        _ => None,
    })
}

/// A number sent as text, e.g. `"0.25"`.
fn numeric_text(text: &str) -> Option<f64> {
    text.trim().parse().ok()
}

/// Infinities and NaN (from text such as `"inf"`) count as no number.
fn finite(number: Option<f64>) -> Option<f64> {
    number.filter(|f| f.is_finite())
}

/// A count from a number: negative is 0, fractions round.
fn whole(number: Option<f64>) -> Option<u64> {
    number.map(|f| if f < 0.0 { 0 } else { f.round() as u64 })
}

fn count(map: &Map<String, Value>, key: &str) -> Option<u64> {
    whole(number(map.get(key)))
}

fn text(map: &Map<String, Value>, key: &str) -> Option<String> {
    match map.get(key) {
        Some(Value::String(s)) => Some(s.clone()),
        Some(Value::Null) | None => None,
        Some(other) => Some(other.to_string()),
    }
}

/// Why an item of `items` is not a task.
#[derive(Debug, Clone, PartialEq)]
pub enum TaskReject {
    /// Not an object, or no `jeditaskid` at all: the page is malformed.
    Malformed(String),
    /// A `jeditaskid` that is not a positive integer within i64 (`1e30`, a
    /// 30-digit string, `-5`): that task alone is skipped, with a warning,
    /// rather than several such tasks merging into one event.
    BadId(String),
}

/// A task id as the server sends it (a number, or a numeric string), if
/// it is a positive integer that i64 holds exactly.
fn task_id(value: &Value) -> Option<i64> {
    // Beyond 2^53 a float no longer holds every integer.
    const EXACT: f64 = 9_007_199_254_740_992.0;
    let id = match value {
        Value::Number(n) => n.as_i64().or_else(|| {
            n.as_f64()
                .filter(|f| f.fract() == 0.0 && f.abs() < EXACT)
                .map(|f| f as i64)
        }),
        Value::String(s) => s.trim().parse::<i64>().ok(),
        _ => None,
    }?;
    (id > 0).then_some(id)
}

impl Task {
    /// Reads one item of `items`.
    pub fn from_json(item: &Value) -> Result<Task, TaskReject> {
        let map = item.as_object().ok_or_else(|| {
            TaskReject::Malformed(format!("a task is not an object: {}", preview(item)))
        })?;
        let id = match map.get("jeditaskid") {
            None | Some(Value::Null) => {
                return Err(TaskReject::Malformed(format!(
                    "a task has no jeditaskid: {}",
                    preview(item)
                )))
            }
            Some(raw) => task_id(raw).ok_or_else(|| {
                TaskReject::BadId(format!(
                    "a task's jeditaskid {} is not a positive 64-bit integer; the task is skipped: {}",
                    preview(raw),
                    preview(item)
                ))
            })?,
        };
        Ok(Task {
            jeditaskid: id,
            taskname: text(map, "taskname"),
            status: text(map, "status"),
            username: text(map, "username"),
            site: text(map, "site"),
            nactive: count(map, "nactive").unwrap_or(0),
            nfinished: count(map, "nfinished").unwrap_or(0),
            nfailed: count(map, "nfailed").unwrap_or(0),
            nfinalfailed: count(map, "nfinalfailed"),
            nfilesfinished: count(map, "nfilesfinished").unwrap_or(0),
            nretries: count(map, "nretries").unwrap_or(0),
            computed_failurerate: number(map.get("computed_failurerate")),
            computed_finalfailurerate: number(map.get("computed_finalfailurerate")),
            failurerate: map.get("failurerate").cloned().unwrap_or(Value::Null),
            modificationtime: map
                .get("modificationtime")
                .and_then(Value::as_str)
                .map(str::to_owned),
        })
    }
}

fn preview(v: &Value) -> String {
    let text = v.to_string();
    match text.char_indices().nth(120) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text,
    }
}

/// One page of the task list, however it was read.
#[derive(Debug, PartialEq)]
struct Page {
    /// The items in order; a rejected one is acted on when its turn comes.
    items: Vec<Result<Task, TaskReject>>,
    /// Anything but `true` ends the walk.
    has_more: bool,
    /// The cursor for the next page, when the server sent a number.
    next_before_id: Option<f64>,
}

impl Page {
    /// Reads a body that parses as JSON: typed when it has the usual
    /// shape, else through a `Value` tree; `Err` when it is not a page.
    fn read(body: &[u8]) -> Result<Page, String> {
        // Read as text: UTF-8 is checked once for the whole body instead
        // of string by string.
        let value: Value = match std::str::from_utf8(body) {
            Ok(text) => {
                if let Some(page) = Page::read_typed(text) {
                    return Ok(page);
                }
                serde_json::from_str(text)
            }
            Err(_) => serde_json::from_slice(body),
        }
        // Not reached through the engine's client, which checks the body.
        .map_err(|e| format!("the body is not JSON ({e})"))?;
        Page::from_value(&value)
    }

    /// The lenient reading, which every page of an unusual shape takes.
    fn from_value(body: &Value) -> Result<Page, String> {
        let map = body
            .as_object()
            .ok_or_else(|| format!("expected an object, got {}", preview(body)))?;
        let items = map
            .get("items")
            .and_then(Value::as_array)
            .ok_or_else(|| "the answer has no `items` list".to_owned())?;
        Ok(Page {
            items: items.iter().map(Task::from_json).collect(),
            has_more: map
                .get("has_more")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            next_before_id: number(map.get("next_before_id")),
        })
    }

    /// The fast reading: `None` for any page that `from_value` might read
    /// differently, or that has a task to reject (whose message quotes
    /// the item as `Value` shows it).
    fn read_typed(body: &str) -> Option<Page> {
        let Object(page) = serde_json::from_str::<Object<TypedPage>>(body).ok()?;
        let items = page
            .items
            .into_iter()
            .map(|Object(task)| task.into_task().map(Ok))
            .collect::<Option<_>>()?;
        Some(Page {
            items,
            has_more: page.has_more.unwrap_or(false),
            next_before_id: page.next_before_id.value(),
        })
    }
}

/// A page of the usual shape. Fields of other JSON types fail the read
/// (and so send the page to the `Value` reading), as do duplicate fields,
/// which `Value` reads as the last one.
#[derive(Deserialize)]
struct TypedPage {
    items: Vec<Object<TypedTask>>,
    has_more: Option<bool>,
    #[serde(default)]
    next_before_id: Lenient,
}

/// A task of the usual shape; fields the detectors do not use are skipped.
#[derive(Deserialize)]
struct TypedTask {
    /// Only a JSON integer within i64; positive is checked in `into_task`.
    jeditaskid: i64,
    taskname: Option<String>,
    status: Option<String>,
    username: Option<String>,
    site: Option<String>,
    #[serde(default)]
    nactive: Lenient,
    #[serde(default)]
    nfinished: Lenient,
    #[serde(default)]
    nfailed: Lenient,
    #[serde(default)]
    nfinalfailed: Lenient,
    #[serde(default)]
    nfilesfinished: Lenient,
    #[serde(default)]
    nretries: Lenient,
    #[serde(default)]
    computed_failurerate: Lenient,
    #[serde(default)]
    computed_finalfailurerate: Lenient,
    #[serde(default)]
    failurerate: Value,
    modificationtime: Option<String>,
}

impl TypedTask {
    /// The task, as `Task::from_json` reads the same item; `None` for an
    /// id it rejects.
    fn into_task(self) -> Option<Task> {
        (self.jeditaskid > 0).then(|| Task {
            jeditaskid: self.jeditaskid,
            taskname: self.taskname,
            status: self.status,
            username: self.username,
            site: self.site,
            nactive: whole(self.nactive.value()).unwrap_or(0),
            nfinished: whole(self.nfinished.value()).unwrap_or(0),
            nfailed: whole(self.nfailed.value()).unwrap_or(0),
            nfinalfailed: whole(self.nfinalfailed.value()),
            nfilesfinished: whole(self.nfilesfinished.value()).unwrap_or(0),
            nretries: whole(self.nretries.value()).unwrap_or(0),
            computed_failurerate: self.computed_failurerate.value(),
            computed_finalfailurerate: self.computed_finalfailurerate.value(),
            failurerate: self.failurerate,
            modificationtime: self.modificationtime,
        })
    }
}

/// A number as [`number`] reads it: a JSON number, a numeric string, or
/// null (and absent, by default) for none. Other JSON types fail the read.
#[derive(Default)]
struct Lenient(Option<f64>);

impl Lenient {
    /// The number, as [`number`] gives it.
    fn value(&self) -> Option<f64> {
        finite(self.0)
    }
}

impl<'de> Deserialize<'de> for Lenient {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(LenientVisitor)
    }
}

struct LenientVisitor;

impl Visitor<'_> for LenientVisitor {
    type Value = Lenient;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a number, a numeric string or null")
    }

    // The conversions of `serde_json::Number::as_f64`.
    fn visit_u64<E>(self, n: u64) -> Result<Lenient, E> {
        Ok(Lenient(Some(n as f64)))
    }

    fn visit_i64<E>(self, n: i64) -> Result<Lenient, E> {
        Ok(Lenient(Some(n as f64)))
    }

    fn visit_f64<E>(self, n: f64) -> Result<Lenient, E> {
        Ok(Lenient(Some(n)))
    }

    fn visit_str<E>(self, text: &str) -> Result<Lenient, E> {
        Ok(Lenient(numeric_text(text)))
    }

    fn visit_unit<E>(self) -> Result<Lenient, E> {
        Ok(Lenient(None))
    }
}

/// `T` read from a JSON object only: a derived struct would also read an
/// array, field by position, where the `Value` reading sees no object.
struct Object<T>(T);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Object<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer
            .deserialize_map(ObjectVisitor(PhantomData))
            .map(Object)
    }
}

struct ObjectVisitor<T>(PhantomData<T>);

impl<'de, T: Deserialize<'de>> Visitor<'de> for ObjectVisitor<T> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an object")
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
        T::deserialize(MapAccessDeserializer::new(map))
    }
}

/// Every task matching `query`, walking all pages.
pub async fn list_tasks(api: &dyn PandaApi, query: &TaskQuery) -> Result<Vec<Task>, DetectError> {
    let bad = |message: String| DetectError::BadResponse {
        source_name: TASKS_PATH.into(),
        message,
    };
    let mut tasks = Vec::new();
    let mut before_id: Option<i64> = None;
    for page in 1..=MAX_PAGES {
        let pairs = query.pairs(before_id);
        let body = api.get_json_body(TASKS_PATH, &pairs).await?;
        let read = Page::read(&body).map_err(bad)?;
        for item in read.items {
            match item {
                Ok(task) => tasks.push(task),
                Err(TaskReject::BadId(message)) => api.warn_once(&message, &message),
                Err(TaskReject::Malformed(message)) => return Err(bad(message)),
            }
        }
        if !read.has_more {
            return Ok(tasks);
        }
        let next = read.next_before_id.map(|f| f as i64).ok_or_else(|| {
            bad(format!(
                "page {page} says has_more but gives no next_before_id"
            ))
        })?;
        if before_id.is_some_and(|prev| next >= prev) {
            return Err(bad(format!(
                "page {page}: cursor next_before_id={next} does not decrease (previous {}); the server is looping",
                before_id.unwrap_or_default()
            )));
        }
        before_id = Some(next);
    }
    Err(bad(format!(
        "more than {MAX_PAGES} pages of {MAX_LIMIT} tasks; narrow the query (days, status, username)"
    )))
}

/// Which failure rate a task is judged by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateKind {
    /// `computed_finalfailurerate`: input files that exhausted their retries.
    Final,
    /// `computed_failurerate`: every failed job record; used for a task
    /// whose final rate is null (and on servers that do not send it).
    AllFailures,
}

impl RateKind {
    /// The field name, as the server spells it.
    pub fn field(self) -> &'static str {
        match self {
            RateKind::Final => "computed_finalfailurerate",
            RateKind::AllFailures => "computed_failurerate",
        }
    }

    /// The words of subjects and bodies, as the old engine writes them.
    pub fn label(self) -> &'static str {
        match self {
            RateKind::Final => "final-failure rate",
            RateKind::AllFailures => "failure rate (fallback — swf-monitor stale)",
        }
    }

    /// The event's `rate_kind` value, as the old engine writes it.
    pub fn data_value(self) -> &'static str {
        match self {
            RateKind::Final => "final-failure",
            RateKind::AllFailures => "all-failures-fallback",
        }
    }
}

/// A task's failure rate and the counts it is judged with.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rate {
    pub value: f64,
    pub kind: RateKind,
    /// Terminal job records, `nfailed + nfinished`, whichever rate is
    /// used: the noise floor is judged on this.
    pub terminal: u64,
    /// The failures the rate counts: retry-exhausted input files under the
    /// final rate, failed job records under the fallback.
    pub failed: u64,
}

/// Judges one task as the old engine did: its `computed_finalfailurerate`
/// when that is not null, else its `computed_failurerate` (per task, so a
/// new server's task whose final rate is still null is judged on all its
/// failures); `None` when both are null (no terminal jobs yet).
pub fn failure_rate(task: &Task) -> Option<Rate> {
    let (value, kind) = match (task.computed_finalfailurerate, task.computed_failurerate) {
        (Some(value), _) => (value, RateKind::Final),
        (None, Some(value)) => (value, RateKind::AllFailures),
        (None, None) => return None,
    };
    Some(Rate {
        value,
        kind,
        terminal: task.nfailed + task.nfinished,
        failed: match kind {
            RateKind::Final => task.nfinalfailed.unwrap_or(0),
            RateKind::AllFailures => task.nfailed,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn lenient_numbers_and_required_id() {
        let t = Task::from_json(&json!({
            "jeditaskid": 35981, "taskname": "t", "status": "running", "nfinished": 10.0,
            "nfailed": null, "computed_finalfailurerate": "0.25", "nfinalfailed": 3
        }))
        .expect("parses");
        assert_eq!((t.jeditaskid, t.nfinished, t.nfailed), (35981, 10, 0));
        assert_eq!(t.taskname.as_deref(), Some("t"));
        assert_eq!((t.site, t.failurerate), (None, Value::Null));
        assert_eq!(t.computed_finalfailurerate, Some(0.25));
        assert!(Task::from_json(&json!({"taskname": "no id"})).is_err());
        assert!(Task::from_json(&json!([1])).is_err());
        for bad in [
            json!(1e30),
            json!("123456789012345678901234567890"),
            json!(-5),
            json!(0),
            json!(1.5),
            json!("x"),
        ] {
            assert!(
                matches!(
                    Task::from_json(&json!({"jeditaskid": bad})),
                    Err(TaskReject::BadId(_))
                ),
                "{bad}"
            );
        }
        for good in [
            json!(35981),
            json!(35981.0),
            json!(" 35981 "),
            json!(i64::MAX),
        ] {
            assert!(
                Task::from_json(&json!({"jeditaskid": good})).is_ok(),
                "{good}"
            );
        }
    }

    #[test]
    fn rate_falls_back_per_task_and_counts_terminal_jobs_either_way() {
        let mut t = Task::from_json(&json!({"jeditaskid": 1, "nfinished": 90, "nfailed": 30,
            "nfinalfailed": 10, "computed_finalfailurerate": 0.1, "computed_failurerate": 0.25}))
        .expect("task");
        assert_eq!(
            failure_rate(&t),
            Some(Rate {
                value: 0.1,
                kind: RateKind::Final,
                terminal: 120,
                failed: 10,
            })
        );
        // A new server whose final rate is null for this task: the
        // all-failures rate judges it, over failed job records.
        t.computed_finalfailurerate = None;
        assert_eq!(
            failure_rate(&t),
            Some(Rate {
                value: 0.25,
                kind: RateKind::AllFailures,
                terminal: 120,
                failed: 30,
            })
        );
        // An old server: no final fields at all; the same.
        t.nfinalfailed = None;
        assert_eq!(
            failure_rate(&t).map(|r| r.kind),
            Some(RateKind::AllFailures)
        );
        // Neither rate: nothing to judge.
        t.computed_failurerate = None;
        assert_eq!(failure_rate(&t), None);
    }

    /// A task of the usual shape, as the server sends it.
    fn usual_task(id: i64) -> Value {
        json!({
            "jeditaskid": id, "taskname": format!("user.t-{id}.sim \u{e9}\"q\""),
            "status": "running", "username": "Sakib Rahman", "workinggroup": "EIC",
            "site": null, "nactive": 4, "nfinished": 188, "nfailed": 18, "nrunning": 2,
            "nretries": 12, "nfinalfailed": 6, "nfilesfinished": 188,
            "computed_failurerate": 0.09, "computed_finalfailurerate": "0.03",
            "failurerate": null, "modificationtime": "2026-11-23T10:00:00",
            "extra": {"nested": [1, {"deep": null}]},
        })
    }

    fn page_of(items: Vec<Value>) -> Value {
        json!({"items": items, "total_count": 2, "has_more": true, "next_before_id": 41,
               "summary": {}, "filters": {}})
    }

    /// Whether the typed reading took the page; the reading must be the
    /// `Value` reading's either way.
    fn read_typed_alike(page: &Value) -> bool {
        let body = serde_json::to_string(page).expect("serializes");
        assert_eq!(
            Page::read(body.as_bytes()),
            Page::from_value(page),
            "{page}"
        );
        Page::read_typed(&body).is_some()
    }

    #[test]
    fn a_usual_page_is_read_typed_into_the_same_tasks() {
        let page = page_of(vec![usual_task(42), json!({"jeditaskid": 41})]);
        assert!(read_typed_alike(&page));
        let read = Page::from_value(&page).expect("a page");
        assert_eq!(read.items.len(), 2);
        assert!(read.has_more);
        assert_eq!(read.next_before_id, Some(41.0));
        let mut no_more = page_of(vec![]);
        no_more["has_more"] = json!(null);
        no_more.as_object_mut().map(|m| m.remove("next_before_id"));
        assert!(read_typed_alike(&no_more));
    }

    #[test]
    fn any_field_of_any_type_reads_as_the_value_reading_does() {
        let values = [
            json!(null),
            json!(true),
            json!(0),
            json!(7),
            json!(-3),
            json!(2.5),
            json!(-0.5),
            json!(1e30),
            json!(i64::MAX),
            json!(u64::MAX),
            json!(9_007_199_254_740_993_u64),
            json!(""),
            json!("x"),
            json!(" 12 "),
            json!("0.25"),
            json!("inf"),
            json!("NaN"),
            json!([]),
            json!([1]),
            json!({}),
            json!({"a": 1}),
        ];
        let Value::Object(task) = usual_task(42) else {
            panic!("an object")
        };
        for field in task.keys().map(String::as_str).chain(["nothing"]) {
            let mut missing = task.clone();
            missing.remove(field);
            read_typed_alike(&page_of(vec![Value::Object(missing)]));
            for value in &values {
                let mut item = task.clone();
                item.insert(field.to_owned(), value.clone());
                read_typed_alike(&page_of(vec![usual_task(43), Value::Object(item)]));
            }
        }
        for field in ["items", "has_more", "next_before_id"] {
            for value in &values {
                let mut page = page_of(vec![usual_task(42)]);
                page[field] = value.clone();
                read_typed_alike(&page);
            }
        }
    }

    #[test]
    fn unusual_pages_take_the_value_reading() {
        let mut list = page_of(vec![]);
        list["items"] = json!([[35981, "t", "running"]]);
        let unusual = [
            json!([page_of(vec![])]),
            json!(null),
            json!({"has_more": false}),
            list,
            page_of(vec![json!(35981)]),
            page_of(vec![json!({"jeditaskid": 35981.0})]),
            page_of(vec![json!({"jeditaskid": "35981"})]),
            page_of(vec![json!({"jeditaskid": -5}), usual_task(42)]),
            page_of(vec![json!({"taskname": "no id"})]),
        ];
        for page in &unusual {
            assert!(!read_typed_alike(page), "{page}");
        }
        // A field twice: `Value` keeps the last one.
        let body =
            r#"{"items": [{"jeditaskid": 1, "status": "a", "status": "b"}], "has_more": false}"#;
        assert_eq!(Page::read_typed(body), None);
        let read = Page::read(body.as_bytes()).expect("a page");
        assert!(matches!(&read.items[..], [Ok(t)] if t.status.as_deref() == Some("b")));
    }

    #[test]
    fn query_pairs_forward_every_filter() {
        let q = TaskQuery {
            days: 2,
            status: Some("running".into()),
            username: Some("Sakib%".into()),
            processingtype: None,
            workinggroup: Some("EIC".into()),
        };
        let pairs = q.pairs(Some(99));
        let get = |k: &str| {
            pairs
                .iter()
                .find(|(key, _)| key == k)
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(get("days"), Some("2"));
        assert_eq!(get("username"), Some("Sakib%"));
        assert_eq!(get("limit"), Some("200"));
        assert_eq!(get("before_id"), Some("99"));
        assert_eq!(get("processingtype"), None);
    }
}

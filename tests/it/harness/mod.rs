//! Shared test machinery: the Postgres cluster, rows written the way the
//! dashboard writes them, and short-hands for running ticks.

pub mod mail;
pub mod net;
pub mod pg;
pub mod pki;

use serde_json::{json, Value};
use swf_alarms::{
    config::Config,
    tick::{run_tick, TickOptions, TickOutcome, TickSummary},
};
use tokio_postgres::Client;

pub use pg::TestDb;

/// Inserts an alarm row as the dashboard stores it; returns its id.
pub async fn insert_alarm(
    client: &Client,
    entry_id: &str,
    description: &str,
    data: Value,
) -> String {
    let id = uuid::Uuid::new_v4().to_string();
    let mut data = data;
    data["entry_id"] = json!(entry_id);
    client
        .execute(
            "INSERT INTO entry (id, title, content, kind, context_id, name, data, priority, status,
                                archived, parent_id, timestamp_created, timestamp_modified, deleted_at)
             VALUES ($1, $2, $3, 'alarm', 'swf-alarms', $2, $4, NULL, 'active', false, NULL,
                     extract(epoch from now()), extract(epoch from now()), NULL)",
            &[&id, &entry_id, &description, &data],
        )
        .await
        .expect("insert alarm");
    id
}

/// Inserts a team row (`name = '@team'`, content = its addresses).
pub async fn insert_team(client: &Client, name: &str, members: &str) {
    client
        .execute(
            "INSERT INTO entry (id, title, content, kind, context_id, name, data, archived,
                                timestamp_created, timestamp_modified)
             VALUES ($1, $2, $3, 'team', 'teams', $2, '{}', false, 0, 0)",
            &[&uuid::Uuid::new_v4().to_string(), &name, &members],
        )
        .await
        .expect("insert team");
}

/// `data` of a static_list alarm reporting these keys.
pub fn static_alarm(keys: &[&str]) -> Value {
    json!({
        "detector": "static_list",
        "recipients": ["ops@test.example"],
        "params": {"detections": detections(keys)},
    })
}

/// static_list detections for these keys.
pub fn detections(keys: &[&str]) -> Value {
    Value::Array(
        keys.iter()
            .map(|k| json!({"dedupe_key": k, "subject": format!("{k} is bad"), "body": format!("details of {k}")}))
            .collect(),
    )
}

/// Replaces an alarm's params.
pub async fn set_params(client: &Client, alarm_id: &str, params: Value) {
    client
        .execute(
            "UPDATE entry SET data = jsonb_set(data, '{params}', $2) WHERE id = $1",
            &[&alarm_id, &params],
        )
        .await
        .expect("update params");
}

/// Sets one key of an alarm's (or any row's) data.
pub async fn set_data_key(client: &Client, id: &str, key: &str, value: Value) {
    client
        .execute(
            "UPDATE entry SET data = jsonb_set(data, ARRAY[$2::text], $3) WHERE id = $1",
            &[&id, &key, &value],
        )
        .await
        .expect("update data key");
}

/// An event row, as the tests look at it.
#[derive(Debug, Clone)]
pub struct Event {
    pub id: String,
    pub title: String,
    pub content: String,
    pub status: Option<String>,
    pub data: Value,
}

impl Event {
    pub fn key(&self) -> &str {
        self.data["dedupe_key"].as_str().unwrap_or("")
    }
    pub fn active(&self) -> bool {
        self.data["clear_time"].is_null()
    }
    pub fn notified(&self) -> bool {
        self.data.get("last_notified").is_some_and(|v| !v.is_null())
    }
}

/// The `entry_id` of an alarm's events: `alarm_<name>` → `event_<name>`.
pub fn event_entry_id(alarm_entry_id: &str) -> String {
    format!("event_{}", alarm_entry_id.trim_start_matches("alarm_"))
}

/// Every event of alarm `alarm_<name>`, oldest first.
pub async fn events(client: &Client, alarm_entry_id: &str) -> Vec<Event> {
    let event_entry_id = event_entry_id(alarm_entry_id);
    client
        .query(
            "SELECT id, COALESCE(title, ''), COALESCE(content, ''), status, data FROM entry
             WHERE kind = 'event' AND data->>'entry_id' = $1
             ORDER BY timestamp_created, data->>'dedupe_key', id",
            &[&event_entry_id],
        )
        .await
        .expect("query events")
        .iter()
        .map(|r| Event {
            id: r.get(0),
            title: r.get(1),
            content: r.get(2),
            status: r.get(3),
            data: r.get(4),
        })
        .collect()
}

/// Active events of an alarm.
pub async fn active(client: &Client, alarm_entry_id: &str) -> Vec<Event> {
    events(client, alarm_entry_id)
        .await
        .into_iter()
        .filter(Event::active)
        .collect()
}

/// The newest engine_run row: (status, data).
pub async fn last_run(client: &Client) -> (String, Value) {
    let row = client
        .query_one(
            "SELECT status, data FROM entry WHERE kind = 'engine_run'
             ORDER BY timestamp_created DESC, timestamp_modified DESC LIMIT 1",
            &[],
        )
        .await
        .expect("a run row");
    (row.get(0), row.get(1))
}

/// Runs one tick that must happen (not locked out).
pub async fn tick(config: &Config, dry_run: bool) -> TickSummary {
    tick_at(config, dry_run, None).await
}

/// Runs one tick at a given clock.
pub async fn tick_at(config: &Config, dry_run: bool, now: Option<f64>) -> TickSummary {
    match run_tick(config, &TickOptions { dry_run, now })
        .await
        .expect("tick runs")
    {
        TickOutcome::Done(summary) => summary,
        TickOutcome::AlreadyRunning(report) => panic!("tick was locked out: {report:?}"),
    }
}

/// Counts rows of each kind, for "wrote nothing" checks.
pub async fn row_count(client: &Client, kind: &str) -> i64 {
    client
        .query_one("SELECT count(*) FROM entry WHERE kind = $1", &[&kind])
        .await
        .expect("count")
        .get(0)
}

/// The engine binary, ready for arguments.
pub fn swf_alarms_bin() -> std::process::Command {
    std::process::Command::new(env!("CARGO_BIN_EXE_swf-alarms"))
}

/// Everything a command printed, standard output then standard error.
pub fn output_text(out: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

//! Reading alarm rows and team rows.

use std::collections::HashMap;

use deadpool_postgres::GenericClient;
use serde_json::Value;

use super::{ctx, decode_json, keys, StoreError};
use crate::recipients::split_tokens;

/// An alarm row as stored; [`crate::alarm::Alarm::parse`] validates it.
#[derive(Debug, Clone, Default)]
pub(crate) struct AlarmRow {
    pub id: String,
    pub content: String,
    /// `data`, decoded; when it cannot be decoded, a stub holding only
    /// its `entry_id`, and `unreadable` says why.
    pub data: Option<Value>,
    /// Why `data` could not be decoded: the alarm fails, alone.
    pub unreadable: Option<String>,
}

/// Decodes `data` (selected as text) and `data->>'entry_id'` (which
/// Postgres reads whatever the rest of `data` holds) into a row's data,
/// or a stub and the reason it is unreadable.
fn data_of(text: Option<&str>, entry_id: Option<String>) -> (Option<Value>, Option<String>) {
    match decode_json(text) {
        Ok(data) => (data, None),
        Err(reason) => {
            let stub = entry_id.map(|e| serde_json::json!({ keys::ENTRY_ID: e }));
            (stub, Some(format!("data cannot be read: {reason}")))
        }
    }
}

/// Every alarm that runs this tick: not archived, not soft-deleted;
/// rows sharing an `entry_id` come newest first.
pub(crate) async fn load(client: &impl GenericClient) -> Result<Vec<AlarmRow>, StoreError> {
    let stmt = client
        .prepare_cached(
            "SELECT id::text, COALESCE(content, '')::text, data::text, data->>'entry_id' FROM entry
             WHERE context_id = $1 AND kind = $2 AND archived = false AND deleted_at IS NULL
             ORDER BY btrim(data->>'entry_id'), timestamp_created DESC, id DESC",
        )
        .await
        .map_err(ctx("loading alarms"))?;
    let rows = client
        .query(&stmt, &[&keys::CONTEXT, &keys::KIND_ALARM])
        .await
        .map_err(ctx("loading alarms"))?;
    Ok(rows
        .iter()
        .map(|r| {
            let (data, unreadable) = data_of(r.get(2), r.get(3));
            AlarmRow {
                id: r.get(0),
                content: r.get(1),
                data,
                unreadable,
            }
        })
        .collect())
}

/// Team name (`@team`) → its addresses, for every live team row.
pub(crate) async fn load_teams(
    client: &impl GenericClient,
) -> Result<HashMap<String, Vec<String>>, StoreError> {
    let stmt = client
        .prepare_cached(
            "SELECT name::text, COALESCE(content, '')::text FROM entry
             WHERE context_id = $1 AND kind = $2 AND name IS NOT NULL
               AND archived = false AND deleted_at IS NULL",
        )
        .await
        .map_err(ctx("loading teams"))?;
    let rows = client
        .query(&stmt, &[&keys::TEAMS_CONTEXT, &keys::KIND_TEAM])
        .await
        .map_err(ctx("loading teams"))?;
    Ok(rows
        .iter()
        .map(|r| {
            let name: String = r.get(0);
            let content: String = r.get(1);
            (name, split_tokens(&content))
        })
        .collect())
}

/// An alarm row with everything `status` and `alarm` show or edit.
#[derive(Debug, Clone)]
pub(crate) struct AlarmRecord {
    pub id: String,
    pub title: String,
    pub content: String,
    pub data: Value,
    pub archived: bool,
    pub timestamp_created: f64,
    pub timestamp_modified: f64,
    /// Why `data` could not be decoded (then `data` holds only the
    /// `entry_id`, and the row must not be edited from here).
    pub unreadable: Option<String>,
}

impl AlarmRecord {
    /// `data.entry_id`, or the row id when it has none.
    pub(crate) fn entry_id(&self) -> String {
        keys::alarm_key(&self.id, Some(&self.data))
    }

    /// The row as `Alarm::parse` reads it.
    pub(crate) fn row(&self) -> AlarmRow {
        AlarmRow {
            id: self.id.clone(),
            content: self.content.clone(),
            data: Some(self.data.clone()),
            unreadable: self.unreadable.clone(),
        }
    }
}

pub(super) const RECORD_COLUMNS: &str =
    "id::text, COALESCE(title, '')::text, COALESCE(content, '')::text,
     COALESCE(data, '{}'::jsonb)::text, COALESCE(archived, false), COALESCE(timestamp_created, 0)::float8,
     COALESCE(timestamp_modified, 0)::float8, data->>'entry_id'";

pub(super) fn record(r: &tokio_postgres::Row) -> AlarmRecord {
    let (data, unreadable) = data_of(r.get(3), r.get(7));
    AlarmRecord {
        id: r.get(0),
        title: r.get(1),
        content: r.get(2),
        data: data.unwrap_or_else(|| Value::Object(serde_json::Map::new())),
        archived: r.get(4),
        timestamp_created: r.get(5),
        timestamp_modified: r.get(6),
        unreadable,
    }
}

/// Every alarm that is not soft-deleted, archived ones included.
pub(crate) async fn list(client: &impl GenericClient) -> Result<Vec<AlarmRecord>, StoreError> {
    let rows = client
        .query(
            &format!(
                "SELECT {RECORD_COLUMNS} FROM entry
                 WHERE context_id = $1 AND kind = $2 AND deleted_at IS NULL
                 ORDER BY data->>'entry_id', timestamp_created DESC, id DESC"
            ),
            &[&keys::CONTEXT, &keys::KIND_ALARM],
        )
        .await
        .map_err(ctx("listing alarms"))?;
    Ok(rows.iter().map(record).collect())
}

/// The alarm whose `data.entry_id` is `entry_id`.
pub(crate) async fn find(
    client: &impl GenericClient,
    entry_id: &str,
) -> Result<Option<AlarmRecord>, StoreError> {
    let row = client
        .query_opt(
            &format!(
                "SELECT {RECORD_COLUMNS} FROM entry
                 WHERE context_id = $1 AND kind = $2 AND deleted_at IS NULL AND data->>'entry_id' = $3
                 ORDER BY timestamp_created DESC, id DESC LIMIT 1"
            ),
            &[&keys::CONTEXT, &keys::KIND_ALARM, &entry_id],
        )
        .await
        .map_err(ctx("finding the alarm"))?;
    Ok(row.as_ref().map(record))
}

/// Inserts a new alarm row; returns its id.
pub(crate) async fn insert(
    client: &impl GenericClient,
    title: &str,
    content: &str,
    data: &Value,
    now: f64,
) -> Result<String, StoreError> {
    let id = uuid::Uuid::new_v4().to_string();
    let name = data.get(keys::ENTRY_ID).and_then(Value::as_str);
    client
        .execute(
            "INSERT INTO entry (id, title, content, kind, context_id, name, data, priority, status,
                                archived, parent_id, timestamp_created, timestamp_modified, deleted_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, NULL, 'active', false, NULL, $8, $8, NULL)",
            &[&id, &title, &content, &keys::KIND_ALARM, &keys::CONTEXT, &name, data, &now],
        )
        .await
        .map_err(ctx("creating the alarm"))?;
    Ok(id)
}

/// Edits an alarm the way the dashboard does: first a snapshot of the
/// row as it was into `entry_version` (next `version_num`), then the
/// change — in one transaction.
pub(crate) async fn edit(
    client: &mut deadpool_postgres::Client,
    before: &AlarmRecord,
    after: &AlarmRecord,
    changed_by: &str,
    now: f64,
) -> Result<i32, StoreError> {
    let txn = client
        .transaction()
        .await
        .map_err(ctx("starting the edit"))?;
    let version: i32 = txn
        .query_one(
            "INSERT INTO entry_version (entry_id, version_num, title, content, data, changed_by, timestamp)
             SELECT $1::varchar, COALESCE(max(version_num), 0) + 1, $2, $3, $4, $5, $6
             FROM entry_version WHERE entry_id = $1
             RETURNING version_num",
            &[&before.id, &before.title, &before.content, &before.data, &changed_by, &now],
        )
        .await
        .map_err(ctx("writing the version snapshot"))?
        .get(0);
    txn.execute(
        "UPDATE entry SET title = $2, content = $3, data = $4, archived = $5, timestamp_modified = $6
         WHERE id = $1",
        &[&after.id, &after.title, &after.content, &after.data, &after.archived, &now],
    )
    .await
    .map_err(ctx("updating the alarm"))?;
    txn.commit().await.map_err(ctx("committing the edit"))?;
    Ok(version)
}

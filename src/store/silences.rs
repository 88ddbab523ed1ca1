//! Silence rows: `kind='silence'` in context `swf-alarms`, fields in
//! `data` (see `crate::silence`). The dashboard's alarm pages filter on
//! kind, so they never see these rows. Edits go through
//! [`super::alarms::edit`], which keeps a version in `entry_version` first,
//! as for alarms.

use deadpool_postgres::GenericClient;
use serde_json::Value;

use super::{
    alarms::{record, AlarmRecord, RECORD_COLUMNS},
    ctx, keys, StoreError,
};

/// A silence row as stored, for reading and editing.
pub(crate) type SilenceRecord = AlarmRecord;

/// The silence rows a tick must know: not archived or deleted, and not
/// over by `now` (rows whose `ends_at` is no number are left to `check`).
pub(crate) async fn load_current(
    client: &impl GenericClient,
    now: f64,
) -> Result<Vec<SilenceRecord>, StoreError> {
    // Compared as numeric, so that no stored number can fail the cast.
    let stmt = client
        .prepare_cached(&format!(
            "SELECT {RECORD_COLUMNS} FROM entry
             WHERE context_id = $1 AND kind = $2 AND archived = false AND deleted_at IS NULL
               AND CASE WHEN jsonb_typeof(data->'ends_at') = 'number'
                        THEN (data->>'ends_at')::numeric > $3::float8::numeric END
             ORDER BY timestamp_created, id"
        ))
        .await
        .map_err(ctx("loading silences"))?;
    let rows = client
        .query(&stmt, &[&keys::CONTEXT, &keys::KIND_SILENCE, &now])
        .await
        .map_err(ctx("loading silences"))?;
    Ok(rows.iter().map(record).collect())
}

/// Every silence row that is not soft-deleted, newest first.
pub(crate) async fn list(client: &impl GenericClient) -> Result<Vec<SilenceRecord>, StoreError> {
    let rows = client
        .query(
            &format!(
                "SELECT {RECORD_COLUMNS} FROM entry
                 WHERE context_id = $1 AND kind = $2 AND deleted_at IS NULL
                 ORDER BY timestamp_created DESC, id"
            ),
            &[&keys::CONTEXT, &keys::KIND_SILENCE],
        )
        .await
        .map_err(ctx("listing silences"))?;
    Ok(rows.iter().map(record).collect())
}

/// Inserts a silence row with every NOT NULL column set.
pub(crate) async fn insert(
    client: &impl GenericClient,
    id: &str,
    title: &str,
    comment: &str,
    data: &Value,
    now: f64,
) -> Result<(), StoreError> {
    client
        .execute(
            "INSERT INTO entry (id, title, content, kind, context_id, name, data, priority, status,
                                archived, parent_id, timestamp_created, timestamp_modified, deleted_at)
             VALUES ($1, $2, $3, $4, $5, NULL, $6, NULL, 'active', false, NULL, $7, $7, NULL)",
            &[&id, &title, &comment, &keys::KIND_SILENCE, &keys::CONTEXT, data, &now],
        )
        .await
        .map_err(ctx("creating the silence"))?;
    Ok(())
}

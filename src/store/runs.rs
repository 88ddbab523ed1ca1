//! The engine run row: one per tick, opened at the start and closed at the end.

use deadpool_postgres::GenericClient;
use serde_json::{json, Value};
use tokio_postgres::types::Json;

use super::{
    ctx, decode_json, keys,
    rows::{RunRecord, RunStart},
    StoreError,
};

/// Inserts the run row (`status = 'active'`) and returns its id.
pub(crate) async fn start(client: &impl GenericClient, now: f64) -> Result<String, StoreError> {
    let id = uuid::Uuid::new_v4().to_string();
    let title = format!("Engine run {}", crate::time::utc_label(now));
    let data = Json(RunStart::at(now));
    client
        .execute(
            "INSERT INTO entry (id, title, content, kind, context_id, name, data, priority,
                                status, archived, parent_id, timestamp_created,
                                timestamp_modified, deleted_at)
             VALUES ($1, $2, '', $3, $4, NULL, $5, NULL, 'active', false, NULL, $6, $6, NULL)",
            &[&id, &title, &keys::KIND_RUN, &keys::CONTEXT, &data, &now],
        )
        .await
        .map_err(ctx("recording the start of the run"))?;
    Ok(id)
}

/// Merges the tick's results into the run row and marks it `done`.
pub(crate) async fn finish(
    client: &impl GenericClient,
    id: &str,
    record: &RunRecord<'_>,
) -> Result<(), StoreError> {
    client
        .execute(
            "UPDATE entry SET data = COALESCE(data, '{}'::jsonb) || $2, status = 'done',
                              timestamp_modified = $3
             WHERE id = $1",
            &[&id, &Json(record), &record.finished_at],
        )
        .await
        .map_err(ctx("recording the end of the run"))?;
    Ok(())
}

/// The newest `limit` run rows: (status, data), newest first, without
/// the bulky parts of `per_alarm` (each alarm's event id lists and
/// params: tens of MB a row when a tick touches a million events, and no
/// reader of this listing needs them). A row whose `data` cannot be
/// decoded shows as `{"entry_id", "unreadable"}` instead of failing the
/// listing.
pub(crate) async fn recent(
    client: &impl GenericClient,
    limit: i64,
) -> Result<Vec<(String, Value)>, StoreError> {
    let rows = client
        .query(
            "SELECT COALESCE(status, '')::text,
                    CASE WHEN jsonb_typeof(data->'per_alarm') = 'object' THEN
                        data || jsonb_build_object('per_alarm', (
                            SELECT COALESCE(jsonb_object_agg(p.key, CASE
                                       WHEN jsonb_typeof(p.value) = 'object' THEN p.value
                                           - 'bundle_new_event_ids' - 'bundle_renotify_event_ids'
                                           - 'bundle_resolved_event_ids' - 'bundle_silenced_event_ids'
                                           - 'params'
                                       ELSE p.value END), '{}'::jsonb)
                            FROM jsonb_each(data->'per_alarm') AS p))
                    ELSE COALESCE(data, '{}'::jsonb) END::text,
                    data->>'entry_id', id::text
             FROM entry
             WHERE context_id = $1 AND kind = $2 AND deleted_at IS NULL
             ORDER BY timestamp_created DESC LIMIT $3",
            &[&keys::CONTEXT, &keys::KIND_RUN, &limit],
        )
        .await
        .map_err(ctx("reading recent runs"))?;
    Ok(rows
        .iter()
        .map(|r| {
            let data = match decode_json(r.get(1)) {
                Ok(data) => data.unwrap_or_else(|| json!({})),
                Err(reason) => {
                    let id: String = r.get(3);
                    json!({
                        keys::ENTRY_ID: r.get::<_, Option<String>>(2),
                        "unreadable": format!("run row {id}: data cannot be read: {reason}"),
                    })
                }
            };
            (r.get(0), data)
        })
        .collect())
}

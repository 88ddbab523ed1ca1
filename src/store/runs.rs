//! The engine run row: one per tick, opened at the start and closed at the end.

use deadpool_postgres::GenericClient;
use serde_json::{json, Value};
use tokio_postgres::{
    binary_copy::BinaryCopyInWriter,
    types::{Json, Type},
};

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

/// Merges the tick's results into the run row and marks it `done`. The
/// per-alarm entries are streamed in with a binary COPY and merged by the
/// server, all in one transaction: sent as one parameter, the record of a
/// tick with a million bundled events (38 MB) made the driver hold about
/// 160 MB of buffers.
pub(crate) async fn finish(
    client: &mut deadpool_postgres::Client,
    id: &str,
    record: &RunRecord<'_>,
) -> Result<(), StoreError> {
    let context = "recording the end of the run";
    let txn = client.transaction().await.map_err(ctx(context))?;
    let sink = txn
        .copy_in("COPY swf_alarms_run_alarm (run_id, ord, alarm, record) FROM STDIN BINARY")
        .await
        .map_err(ctx(context))?;
    let writer =
        BinaryCopyInWriter::new(sink, &[Type::VARCHAR, Type::INT4, Type::TEXT, Type::TEXT]);
    let mut writer = std::pin::pin!(writer);
    for (ord, (alarm, entry)) in record.per_alarm.iter().enumerate() {
        let ord = i32::try_from(ord).unwrap_or(i32::MAX);
        let entry = serde_json::to_string(entry)
            .map_err(|e| StoreError::Schema(format!("the run record of {alarm}: {e}")))?;
        writer
            .as_mut()
            .write(&[&id, &ord, alarm, &entry])
            .await
            .map_err(ctx(context))?;
    }
    writer.as_mut().finish().await.map_err(ctx(context))?;
    let rest = RunRecord {
        per_alarm: &[],
        error_details: record.error_details.clone(),
        ..*record
    };
    // One statement takes the staged entries out and merges them in.
    txn.execute(
        "WITH staged AS (DELETE FROM swf_alarms_run_alarm WHERE run_id = $1
                         RETURNING ord, alarm, record)
         UPDATE entry
         SET data = COALESCE(data, '{}'::jsonb) || $2 || jsonb_build_object('per_alarm', COALESCE(
                        (SELECT ('{' || string_agg(to_json(alarm)::text || ':' || record, ','
                                                   ORDER BY ord) || '}')::jsonb
                         FROM staged), '{}'::jsonb)),
             status = 'done',
             timestamp_modified = $3
         WHERE id = $1",
        &[&id, &Json(&rest), &record.finished_at],
    )
    .await
    .map_err(ctx(context))?;
    txn.commit().await.map_err(ctx(context))?;
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

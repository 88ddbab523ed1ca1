//! Reading alarm rows and team rows.

use std::collections::HashMap;

use deadpool_postgres::GenericClient;
use serde_json::Value;

use super::{ctx, keys, StoreError};
use crate::recipients::split_tokens;

/// An alarm row as stored; [`crate::alarm::Alarm::parse`] validates it.
#[derive(Debug, Clone)]
pub(crate) struct AlarmRow {
    pub id: String,
    pub content: String,
    pub data: Option<Value>,
}

/// Every alarm that runs this tick: not archived, not soft-deleted.
pub(crate) async fn load(client: &impl GenericClient) -> Result<Vec<AlarmRow>, StoreError> {
    let stmt = client
        .prepare_cached(
            "SELECT id, content, data FROM entry
             WHERE context_id = $1 AND kind = $2 AND archived = false AND deleted_at IS NULL
             ORDER BY data->>'entry_id', id",
        )
        .await
        .map_err(ctx("loading alarms"))?;
    let rows = client
        .query(&stmt, &[&keys::CONTEXT, &keys::KIND_ALARM])
        .await
        .map_err(ctx("loading alarms"))?;
    Ok(rows
        .iter()
        .map(|r| AlarmRow {
            id: r.get(0),
            content: r.get(1),
            data: r.get(2),
        })
        .collect())
}

/// Team name (`@team`) → its addresses, for every live team row.
pub(crate) async fn load_teams(
    client: &impl GenericClient,
) -> Result<HashMap<String, Vec<String>>, StoreError> {
    let stmt = client
        .prepare_cached(
            "SELECT name, content FROM entry
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

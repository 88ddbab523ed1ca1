//! Event rows: loading an alarm's active events and writing a tick's plan.
//!
//! Writes are set-based: each kind of change is one statement over arrays
//! (`UNNEST`), so an alarm's tick costs the same handful of statements
//! whether it touches two entities or two thousand.
//!
//! Which event is an alarm's active event for a key lives in the engine's
//! table `swf_alarms_active_event` (its primary key is the "one active
//! event per (alarm, dedupe_key)" guarantee); `entry` carries no index over
//! `data`, so the `last_seen` bump of a continuing event can be a HOT
//! update that touches none of the dashboard's indexes.

use deadpool_postgres::GenericClient;
use tokio_postgres::types::Json;

use super::{
    ctx, keys,
    rows::{Bookkeeping, EventData, EventRow},
    StoreError,
};
use crate::reconcile::{ActiveEvent, ResolvedItem};

/// One alarm's active events as the tick starts.
#[derive(Debug, Default)]
pub(crate) struct Active {
    pub events: Vec<ActiveEvent>,
    /// One note per event whose bookkeeping could not be read.
    pub notes: Vec<String>,
    /// Keys whose recorded event is no longer active (archived, deleted or
    /// cleared outside the engine): released by the next write.
    pub stale: Vec<String>,
}

/// The active events of one alarm (`data.entry_id = event_<name>`), read
/// through `swf_alarms_active_event`.
///
/// Timestamps are read as text, so that a value the JSON decoder refuses
/// (`1e400`, nesting 200 deep) cannot fail the load: an unreadable
/// `last_notified` counts as never notified (the next email re-stamps
/// it), an unreadable `fire_time` falls back to the row's creation time.
pub(crate) async fn load_active(
    client: &impl GenericClient,
    event_entry_id: &str,
) -> Result<Active, StoreError> {
    let stmt = client
        .prepare_cached(
            // The join is on the primary key alone and the "still
            // active" test is in the select list: with the test in the
            // join, the planner misjudges its selectivity and scans every
            // event once per row (seconds per alarm at 100k events).
            "SELECT CASE WHEN e.kind = $1 AND e.context_id = $2
                              AND (e.data->>'clear_time') IS NULL
                              AND e.archived = false AND e.deleted_at IS NULL
                         THEN e.id::text END,
                    a.dedupe_key, e.data->>'last_notified', e.data->>'fire_time',
                    COALESCE(e.data->>'subject', e.title, '')::text,
                    COALESCE(e.timestamp_created, 0)::float8,
                    COALESCE(e.data->>'silenced_at', '') <> ''
             FROM swf_alarms_active_event a
             LEFT JOIN entry e ON e.id = a.event_id
             WHERE a.alarm = $3",
        )
        .await
        .map_err(ctx("loading active events"))?;
    let rows = client
        .query(&stmt, &[&keys::KIND_EVENT, &keys::CONTEXT, &event_entry_id])
        .await
        .map_err(ctx("loading active events"))?;
    let mut notes = Vec::new();
    let mut stale = Vec::new();
    let events = rows
        .iter()
        .filter_map(|r| {
            let Some(id) = r.get::<_, Option<String>>(0) else {
                stale.push(r.get(1));
                return None;
            };
            let mut read = |key: &str, text: Option<&str>, fallback: &str| match unix_seconds(text)
            {
                Ok(seconds) => seconds,
                Err(shown) => {
                    notes.push(format!(
                        "event {id}: data.{key} is not a time ({shown}); {fallback}"
                    ));
                    None
                }
            };
            let last_notified = read(
                keys::LAST_NOTIFIED,
                r.get(2),
                "treated as never notified, re-stamped by the next email",
            );
            let fire_time = read(keys::FIRE_TIME, r.get(3), "the row's creation time is used");
            Some(ActiveEvent {
                dedupe_key: r.get(1),
                last_notified,
                fire_time: fire_time.unwrap_or_else(|| r.get(5)),
                subject: r.get(4),
                silenced: r.get(6),
                id,
            })
        })
        .collect();
    Ok(Active {
        events,
        notes,
        stale,
    })
}

/// How far back an unsent recovery notice is still worth sending.
const RESOLVED_BACKLOG_SECONDS: f64 = 7.0 * 86_400.0;

/// Events of the alarm that cleared after being emailed, whose recovery
/// notice has not gone out (a send failed), within the last week.
pub(crate) async fn load_unsent_resolved(
    client: &impl GenericClient,
    event_entry_id: &str,
    now: f64,
) -> Result<Vec<ResolvedItem>, StoreError> {
    let stmt = client
        .prepare_cached(
            "SELECT e.id::text, COALESCE(e.data->>'dedupe_key', ''),
                    COALESCE(e.data->>'subject', e.title, '')::text
             FROM swf_alarms_pending_recovery p
             JOIN entry e ON e.id = p.event_id
             WHERE e.kind = $1 AND e.context_id = $2 AND p.alarm = $3 AND p.cleared_at > $4
               AND e.data->'clear_notified' IS NULL
               AND e.archived = false AND e.deleted_at IS NULL
             ORDER BY p.cleared_at, e.id",
        )
        .await
        .map_err(ctx("loading unsent recovery notices"))?;
    let rows = client
        .query(
            &stmt,
            &[
                &keys::KIND_EVENT,
                &keys::CONTEXT,
                &event_entry_id,
                &(now - RESOLVED_BACKLOG_SECONDS),
            ],
        )
        .await
        .map_err(ctx("loading unsent recovery notices"))?;
    Ok(rows
        .iter()
        .map(|r| ResolvedItem {
            event_id: r.get(0),
            dedupe_key: r.get(1),
            subject: r.get(2),
        })
        .collect())
}

/// SQL for `data.<key>` as float8 seconds, NULL unless it is a JSON
/// number within float8's range: a plain cast would fail the whole
/// statement on one row holding `1e400`.
pub(super) fn sql_seconds(key: &str) -> String {
    sql_number_seconds(&format!("(data->'{key}')"))
}

/// [`sql_seconds`] of any jsonb expression (parenthesised). (Nested CASE:
/// Postgres does not promise the order in which an AND is evaluated.)
pub(super) fn sql_number_seconds(value: &str) -> String {
    format!(
        "(CASE WHEN jsonb_typeof({value}) = 'number' THEN
            CASE WHEN abs({value}::numeric) < 1e300 THEN {value}::numeric::float8 END
         END)"
    )
}

/// Reads a timestamp the old engine or this one wrote, as `->>` gives it:
/// a number, or a numeric string. JSON `null` or no key is absent; any
/// other value (an object, text, a number beyond f64) is an error showing
/// the start of what was found.
fn unix_seconds(text: Option<&str>) -> Result<Option<f64>, String> {
    let Some(text) = text else {
        return Ok(None);
    };
    match text.trim().parse::<f64>() {
        Ok(seconds) if seconds.is_finite() => Ok(Some(seconds)),
        _ => {
            let shown: String = text.chars().take(40).collect();
            Err(if shown.len() < text.len() {
                format!("{shown}…")
            } else {
                shown
            })
        }
    }
}

/// Records `keys[i]` → `ids[i]` as the alarm's active events, after
/// releasing `released` (keys whose event cleared or went stale). Fails
/// with a unique violation when another writer holds one of the keys.
pub(crate) async fn claim_keys(
    client: &impl GenericClient,
    event_entry_id: &str,
    released: &[&str],
    keys: &[&str],
    ids: &[&str],
) -> Result<(), StoreError> {
    if !released.is_empty() {
        let stmt = client
            .prepare_cached(
                "DELETE FROM swf_alarms_active_event a USING UNNEST($2::text[]) AS k(key)
                 WHERE a.alarm = $1 AND a.dedupe_key = k.key",
            )
            .await
            .map_err(ctx("releasing cleared events' keys"))?;
        client
            .execute(&stmt, &[&event_entry_id, &released])
            .await
            .map_err(ctx("releasing cleared events' keys"))?;
    }
    if !keys.is_empty() {
        let stmt = client
            .prepare_cached(
                "INSERT INTO swf_alarms_active_event (alarm, dedupe_key, event_id)
                 SELECT $1, u.key, u.id FROM UNNEST($2::text[], $3::varchar[]) AS u(key, id)",
            )
            .await
            .map_err(ctx("recording new active events"))?;
        client
            .execute(&stmt, &[&event_entry_id, &keys, &ids])
            .await
            .map_err(ctx("recording new active events"))?;
    }
    Ok(())
}

/// Records events that cleared after an email carried them, so that their
/// recovery notice can be sent (again, when a send fails).
pub(crate) async fn owe_recovery(
    client: &impl GenericClient,
    event_entry_id: &str,
    ids: &[String],
    now: f64,
) -> Result<(), StoreError> {
    if ids.is_empty() {
        return Ok(());
    }
    let stmt = client
        .prepare_cached(
            "INSERT INTO swf_alarms_pending_recovery (event_id, alarm, cleared_at)
             SELECT id, $2, $3 FROM UNNEST($1::varchar[]) AS u(id)
             ON CONFLICT (event_id) DO NOTHING",
        )
        .await
        .map_err(ctx("recording owed recovery notices"))?;
    client
        .execute(&stmt, &[&ids, &event_entry_id, &now])
        .await
        .map_err(ctx("recording owed recovery notices"))?;
    Ok(())
}

/// Forgets owed recovery notices that were sent, and any older than the
/// backlog window.
pub(crate) async fn settle_recovery(
    client: &impl GenericClient,
    sent: &[String],
    now: f64,
) -> Result<(), StoreError> {
    let stmt = client
        .prepare_cached(
            "DELETE FROM swf_alarms_pending_recovery
             WHERE event_id = ANY($1::varchar[]) OR cleared_at < $2",
        )
        .await
        .map_err(ctx("settling recovery notices"))?;
    client
        .execute(&stmt, &[&sent, &(now - RESOLVED_BACKLOG_SECONDS)])
        .await
        .map_err(ctx("settling recovery notices"))?;
    Ok(())
}

/// Inserts new events in one statement.
pub(crate) async fn insert(
    client: &impl GenericClient,
    events: &[EventRow<'_>],
) -> Result<(), StoreError> {
    if events.is_empty() {
        return Ok(());
    }
    let ids: Vec<&str> = events.iter().map(|e| e.id).collect();
    let titles: Vec<&str> = events.iter().map(|e| e.title).collect();
    let contents: Vec<&str> = events.iter().map(|e| e.content.as_str()).collect();
    let data: Vec<Json<&EventData>> = events.iter().map(|e| Json(&e.data)).collect();
    let created: Vec<f64> = events.iter().map(|e| e.created).collect();
    let stmt = client
        .prepare_cached(
            "INSERT INTO entry (id, title, content, kind, context_id, name, data, priority, status,
                                archived, parent_id, timestamp_created, timestamp_modified,
                                deleted_at)
             SELECT u.id, u.title, u.content, $6, $7, NULL, u.data, NULL, 'active',
                    false, NULL, u.created, u.created, NULL
             FROM UNNEST($1::varchar[], $2::varchar[], $3::text[], $4::jsonb[], $5::float8[])
                  AS u(id, title, content, data, created)",
        )
        .await
        .map_err(ctx("creating events"))?;
    client
        .execute(
            &stmt,
            &[
                &ids,
                &titles,
                &contents,
                &data,
                &created,
                &keys::KIND_EVENT,
                &keys::CONTEXT,
            ],
        )
        .await
        .map_err(ctx("creating events"))?;
    Ok(())
}

/// Sets bookkeeping keys of `data` (each to its time) on every listed
/// event, in one statement; the rest of the row stays as it was, and
/// `timestamp_modified` moves to the latest of the times.
pub(crate) async fn stamp(
    client: &impl GenericClient,
    ids: &[String],
    stamps: &[(Bookkeeping, f64)],
    context: &'static str,
) -> Result<(), StoreError> {
    if ids.is_empty() || stamps.is_empty() {
        return Ok(());
    }
    let patch: serde_json::Map<String, serde_json::Value> = stamps
        .iter()
        .map(|(key, at)| (key.key().to_owned(), serde_json::Value::from(*at)))
        .collect();
    let modified = stamps.iter().map(|(_, at)| *at).fold(f64::MIN, f64::max);
    let stmt = client
        .prepare_cached(
            "UPDATE entry
             SET data = COALESCE(data, '{}'::jsonb) || $2::jsonb,
                 timestamp_modified = $3
             WHERE id = ANY($1::varchar[])",
        )
        .await
        .map_err(ctx(context))?;
    client
        .execute(&stmt, &[&ids, &Json(&patch), &modified])
        .await
        .map_err(ctx(context))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_old_and_new() {
        assert_eq!(unix_seconds(Some("1.5")), Ok(Some(1.5)));
        assert_eq!(unix_seconds(Some("17")), Ok(Some(17.0)));
        assert_eq!(unix_seconds(Some(" 12.25 ")), Ok(Some(12.25)));
        assert_eq!(unix_seconds(None), Ok(None));
    }

    #[test]
    fn unreadable_timestamps_are_errors_not_panics() {
        let huge = format!("1{}", "0".repeat(400));
        assert!(unix_seconds(Some(&huge)).is_err());
        assert!(unix_seconds(Some("inf")).is_err());
        let deep = format!("{}{}", "[".repeat(200), "]".repeat(200));
        let err = unix_seconds(Some(&deep)).unwrap_err();
        assert!(err.ends_with('…') && err.chars().count() == 41, "{err}");
    }
}

/// Active events of one alarm, summarised.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ActiveSummary {
    pub count: i64,
    pub oldest_fire_time: Option<f64>,
    pub last_notified: Option<f64>,
}

/// Active-event summaries keyed by the events' `entry_id` (`event_<name>`).
pub(crate) async fn active_summaries(
    client: &impl GenericClient,
) -> Result<std::collections::HashMap<String, ActiveSummary>, StoreError> {
    let rows = client
        .query(
            &format!(
                "SELECT a.alarm, count(*), min({fire}), max({notified})
                 FROM swf_alarms_active_event a
                 JOIN entry ON entry.id = a.event_id
                 WHERE kind = $1 AND context_id = $2 AND (data->>'clear_time') IS NULL
                   AND archived = false AND deleted_at IS NULL
                 GROUP BY 1",
                fire = sql_seconds(keys::FIRE_TIME),
                notified = sql_seconds(keys::LAST_NOTIFIED),
            ),
            &[&keys::KIND_EVENT, &keys::CONTEXT],
        )
        .await
        .map_err(ctx("summarising active events"))?;
    Ok(rows
        .iter()
        .filter_map(|r| {
            let key: Option<String> = r.get(0);
            key.map(|k| {
                (
                    k,
                    ActiveSummary {
                        count: r.get(1),
                        oldest_fire_time: r.get(2),
                        last_notified: r.get(3),
                    },
                )
            })
        })
        .collect())
}

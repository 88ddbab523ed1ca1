//! Reads for the status page that no other command needs: active events
//! listed per alarm, event intervals, the week's detection counts from the
//! run records, the last clean tick. Read-only.

use std::collections::HashMap;

use deadpool_postgres::GenericClient;

use super::{
    ctx,
    events::{sql_number_seconds, sql_seconds},
    keys, StoreError,
};

/// One active event as listed on the page.
#[derive(Debug, Clone)]
pub(crate) struct ListedEvent {
    pub subject: String,
    pub fire_time: f64,
    pub last_notified: Option<f64>,
}

/// One alarm's active events: all of them counted, some listed.
#[derive(Debug, Clone, Default)]
pub(crate) struct ActiveEvents {
    pub count: i64,
    pub oldest_fire_time: Option<f64>,
    pub last_notified: Option<f64>,
    /// The newest, at most the number asked for.
    pub listed: Vec<ListedEvent>,
}

/// Every alarm's active events, as the tick sees them (through
/// `swf_alarms_active_event`), keyed by the events' `entry_id`
/// (`event_<name>`): counted, and the newest `per_alarm` listed. Each
/// event's `data` is read once, for its times only; subjects are read for
/// the listed events alone. (Materialized, so that the sort carries a
/// narrow row, not the event's `data`: half the time at 100,000 events.)
pub(crate) async fn active_events(
    client: &impl GenericClient,
    per_alarm: i64,
) -> Result<HashMap<String, ActiveEvents>, StoreError> {
    let rows = client
        .query(
            &format!(
                "WITH active AS MATERIALIZED (
                   SELECT a.alarm, entry.id,
                          COALESCE({fire}, timestamp_created, 0)::float8 AS fire,
                          {notified} AS notified
                   FROM swf_alarms_active_event a
                   JOIN entry ON entry.id = a.event_id
                   WHERE kind = $1 AND context_id = $2 AND (data->>'clear_time') IS NULL
                     AND archived = false AND deleted_at IS NULL),
                 ranked AS (
                   SELECT alarm, id, fire, notified,
                          row_number() OVER (PARTITION BY alarm ORDER BY fire DESC, id) AS n,
                          count(*) OVER per AS total, min(fire) OVER per AS oldest,
                          max(notified) OVER per AS newest_notified
                   FROM active
                   WINDOW per AS (PARTITION BY alarm))
                 SELECT r.alarm, COALESCE(e.data->>'subject', e.title, '')::text,
                        r.fire, r.notified, r.total, r.oldest, r.newest_notified
                 FROM ranked r
                 JOIN entry e ON e.id = r.id
                 WHERE r.n <= $3
                 ORDER BY r.alarm, r.n",
                fire = sql_seconds(keys::FIRE_TIME),
                notified = sql_seconds(keys::LAST_NOTIFIED),
            ),
            &[&keys::KIND_EVENT, &keys::CONTEXT, &per_alarm],
        )
        .await
        .map_err(ctx("listing active events for the status page"))?;
    let mut out: HashMap<String, ActiveEvents> = HashMap::new();
    for r in &rows {
        let alarm = out.entry(r.get(0)).or_insert_with(|| ActiveEvents {
            count: r.get(4),
            oldest_fire_time: r.get(5),
            last_notified: r.get(6),
            listed: Vec::new(),
        });
        alarm.listed.push(ListedEvent {
            subject: r.get(1),
            fire_time: r.get(2),
            last_notified: r.get(3),
        });
    }
    Ok(out)
}

/// An event's life: fire time and clear time (`None` = active).
#[derive(Debug, Clone)]
pub(crate) struct Interval {
    pub dedupe_key: String,
    pub fire_time: f64,
    pub clear_time: Option<f64>,
}

/// Events of the given alarms (by the events' `entry_id`) that were
/// active at some time since `since`, by `entry_id`.
pub(crate) async fn intervals(
    client: &impl GenericClient,
    event_entry_ids: &[String],
    since: f64,
) -> Result<HashMap<String, Vec<Interval>>, StoreError> {
    if event_entry_ids.is_empty() {
        return Ok(HashMap::new());
    }
    let rows = client
        .query(
            &format!(
                "SELECT data->>'entry_id', COALESCE(data->>'dedupe_key', '')::text,
                        COALESCE({fire}, timestamp_created, 0)::float8, {clear}
                 FROM entry
                 WHERE kind = $1 AND context_id = $2 AND data->>'entry_id' = ANY($3::text[])
                   AND archived = false AND deleted_at IS NULL
                   AND ((data->>'clear_time') IS NULL OR {clear} >= $4)",
                fire = sql_seconds(keys::FIRE_TIME),
                clear = sql_seconds(keys::CLEAR_TIME),
            ),
            &[&keys::KIND_EVENT, &keys::CONTEXT, &event_entry_ids, &since],
        )
        .await
        .map_err(ctx("reading event intervals for the status page"))?;
    let mut out: HashMap<String, Vec<Interval>> = HashMap::new();
    for r in &rows {
        out.entry(r.get(0)).or_default().push(Interval {
            dedupe_key: r.get(1),
            fire_time: r.get(2),
            clear_time: r.get(3),
        });
    }
    Ok(out)
}

/// Fire and clear times of every event that fired or cleared since
/// `since`: (fire times, clear times), for counting new and cleared
/// events per tick.
pub(crate) async fn changes_since(
    client: &impl GenericClient,
    since: f64,
) -> Result<(Vec<f64>, Vec<f64>), StoreError> {
    let rows = client
        .query(
            &format!(
                "SELECT {fire}, {clear} FROM entry
                 WHERE kind = $1 AND context_id = $2 AND deleted_at IS NULL
                   AND ({fire} >= $3 OR {clear} >= $3)",
                fire = sql_seconds(keys::FIRE_TIME),
                clear = sql_seconds(keys::CLEAR_TIME),
            ),
            &[&keys::KIND_EVENT, &keys::CONTEXT, &since],
        )
        .await
        .map_err(ctx("reading recent event changes for the status page"))?;
    let mut fired = Vec::new();
    let mut cleared = Vec::new();
    for r in &rows {
        let fire: Option<f64> = r.get(0);
        let clear: Option<f64> = r.get(1);
        fired.extend(fire.filter(|t| *t >= since));
        cleared.extend(clear.filter(|t| *t >= since));
    }
    Ok((fired, cleared))
}

/// Per alarm `entry_id`: (hour start, most detections in a tick of that
/// hour) for every hour since `since` that had a recorded tick, oldest
/// first; read from the run records' `per_alarm.alarms_seen`.
///
/// A run record can be megabytes (a tick that created a million events
/// lists every id), stored compressed: each `data->` of a row unpacks all
/// of it again. So each row's `data` is read twice only, behind a fence,
/// and each `per_alarm` entry is cut down to its count before sorting.
/// (Written plainly, with `data->` in every expression of every output
/// row, it took 52 s over four such records.)
pub(crate) async fn hourly_detections(
    client: &impl GenericClient,
    since: f64,
) -> Result<HashMap<String, Vec<(f64, f64)>>, StoreError> {
    let rows = client
        .query(
            &format!(
                "SELECT s.key, floor(r.started / 3600) * 3600 AS hour, max(s.seen)
                 FROM (SELECT {started} AS started,
                              CASE WHEN jsonb_typeof(per_alarm) = 'object'
                                   THEN per_alarm ELSE '{{}}'::jsonb END AS per_alarm
                       FROM (SELECT data->'started_at' AS started_at,
                                    data->'per_alarm' AS per_alarm
                             FROM entry
                             WHERE kind = $1 AND context_id = $2 AND deleted_at IS NULL
                               AND timestamp_created >= $3::float8 - 3600
                             OFFSET 0) AS fenced) AS r,
                      LATERAL (SELECT p.key,
                                      CASE WHEN jsonb_typeof(p.value->'alarms_seen') = 'number'
                                           THEN (p.value->>'alarms_seen')::float8 END AS seen
                               FROM jsonb_each(r.per_alarm) AS p
                               WHERE jsonb_typeof(p.value) = 'object') AS s
                 WHERE r.started >= $3
                 GROUP BY 1, 2 ORDER BY 1, 2",
                started = sql_number_seconds("started_at"),
            ),
            &[&keys::KIND_RUN, &keys::CONTEXT, &since],
        )
        .await
        .map_err(ctx("reading the week's run records for the status page"))?;
    let mut out: HashMap<String, Vec<(f64, f64)>> = HashMap::new();
    for r in &rows {
        let count: Option<f64> = r.get(2);
        if let Some(count) = count {
            out.entry(r.get(0)).or_default().push((r.get(1), count));
        }
    }
    Ok(out)
}

/// Start of the newest tick that finished with no alarm failing.
pub(crate) async fn last_clean_tick(
    client: &impl GenericClient,
) -> Result<Option<f64>, StoreError> {
    let row = client
        .query_opt(
            &format!(
                // Newest first, so that only the runs since the last
                // clean one are read (each `data` may be large).
                "SELECT {started} FROM entry
                 WHERE kind = $1 AND context_id = $2 AND deleted_at IS NULL
                   AND status = 'done' AND data->'errors' = '0'::jsonb
                 ORDER BY timestamp_created DESC LIMIT 1",
                started = sql_seconds("started_at"),
            ),
            &[&keys::KIND_RUN, &keys::CONTEXT],
        )
        .await
        .map_err(ctx("finding the last clean tick"))?;
    Ok(row.and_then(|r| r.get(0)))
}

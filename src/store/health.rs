//! Each alarm's failing streak, in the engine's own table
//! `swf_alarms_alarm_health` (one row per alarm; the dashboard never sees it).

use std::collections::HashMap;

use deadpool_postgres::GenericClient;

use super::{ctx, StoreError};
use crate::failing::Streak;

/// The alarm's current streak; `None` when its detector succeeded last
/// (or it never ran).
pub(crate) async fn load(
    client: &impl GenericClient,
    alarm_entry_id: &str,
) -> Result<Option<Streak>, StoreError> {
    let stmt = client
        .prepare_cached(
            "SELECT failing_since, consecutive_failures, COALESCE(last_error, '')
             FROM swf_alarms_alarm_health
             WHERE alarm_entry_id = $1 AND failing_since IS NOT NULL",
        )
        .await
        .map_err(ctx("loading the alarm's failing streak"))?;
    let row = client
        .query_opt(&stmt, &[&alarm_entry_id])
        .await
        .map_err(ctx("loading the alarm's failing streak"))?;
    Ok(row.map(|r| Streak {
        since: r.get(0),
        failures: i64::from(r.get::<_, i32>(1)),
        last_error: r.get(2),
    }))
}

/// Every failing alarm's streak, by `entry_id` (for `status`).
pub(crate) async fn failing(
    client: &impl GenericClient,
) -> Result<HashMap<String, Streak>, StoreError> {
    let rows = client
        .query(
            "SELECT alarm_entry_id, failing_since, consecutive_failures, COALESCE(last_error, '')
             FROM swf_alarms_alarm_health WHERE failing_since IS NOT NULL",
            &[],
        )
        .await
        .map_err(ctx("reading failing streaks"))?;
    Ok(rows
        .iter()
        .map(|r| {
            (
                r.get(0),
                Streak {
                    since: r.get(1),
                    failures: i64::from(r.get::<_, i32>(2)),
                    last_error: r.get(3),
                },
            )
        })
        .collect())
}

/// Records this tick's streak (`None`: the detector succeeded).
pub(crate) async fn save(
    client: &impl GenericClient,
    alarm_entry_id: &str,
    streak: Option<&Streak>,
    now: f64,
) -> Result<(), StoreError> {
    let stmt = client
        .prepare_cached(
            "INSERT INTO swf_alarms_alarm_health AS h
                 (alarm_entry_id, failing_since, consecutive_failures, last_error, updated_at)
             VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (alarm_entry_id) DO UPDATE SET
                 failing_since = EXCLUDED.failing_since,
                 consecutive_failures = EXCLUDED.consecutive_failures,
                 last_error = COALESCE(EXCLUDED.last_error, h.last_error),
                 updated_at = EXCLUDED.updated_at",
        )
        .await
        .map_err(ctx("recording the alarm's failing streak"))?;
    let failures = streak.map_or(0, |s| i32::try_from(s.failures).unwrap_or(i32::MAX));
    client
        .execute(
            &stmt,
            &[
                &alarm_entry_id,
                &streak.map(|s| s.since),
                &failures,
                &streak.map(|s| s.last_error.as_str()),
                &now,
            ],
        )
        .await
        .map_err(ctx("recording the alarm's failing streak"))?;
    Ok(())
}

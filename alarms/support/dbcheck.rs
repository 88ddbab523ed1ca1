//! The two database checks behind `db_freshness`, `db_rate` and their
//! production instances: is the newest matching row recent enough, and
//! are there too many matching rows in a trailing window.

use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::sql::{self, quote_ident};
use crate::{Ctx, DetectError, Detection, ParamSchema, ParamSpec, SqlValue};

/// Params of a freshness check.
#[derive(Debug, Clone, Deserialize, ParamSchema)]
#[serde(deny_unknown_fields)]
pub struct FreshnessParams {
    /// Prefix of the dedupe keys: <name>:stale, <name>:never.
    pub name: String,
    /// Table (or schema.table) to look in.
    pub table: String,
    /// Timestamp column (a timestamp type or Unix seconds).
    pub time_column: String,
    /// Equality filters: column or column.json.path → value or list of values.
    #[serde(default)]
    pub filters: Map<String, Value>,
    /// Fire when the newest matching row is older than this.
    pub max_age_hours: f64,
}

/// Params of a rate check.
#[derive(Debug, Clone, Deserialize, ParamSchema)]
#[serde(deny_unknown_fields)]
pub struct RateParams {
    /// Prefix of the dedupe key: <name>:rate.
    pub name: String,
    /// Table (or schema.table) to count in.
    pub table: String,
    /// Timestamp column (a timestamp type or Unix seconds).
    pub time_column: String,
    /// Equality filters: column or column.json.path → value or list of values.
    #[serde(default)]
    pub filters: Map<String, Value>,
    /// Trailing window to count in.
    pub window_minutes: f64,
    /// Fire when more rows than this match in the window.
    pub max_count: f64,
}

/// How to read the time column as Unix seconds, by its SQL type.
async fn epoch_expr(ctx: &Ctx, table: &str, column: &str) -> Result<(String, bool), DetectError> {
    let quoted = quote_ident(column)?;
    let kind = ctx
        .db()?
        .column_type(table.to_owned(), column.to_owned())
        .await?
        .ok_or_else(|| {
            DetectError::InvalidParams(format!("table {table} has no column {column}"))
        })?;
    if kind.starts_with("timestamp") || kind == "date" {
        Ok((quoted, true))
    } else if ["double precision", "real", "numeric", "bigint", "integer"]
        .iter()
        .any(|t| kind.starts_with(t))
    {
        Ok((quoted, false))
    } else {
        Err(DetectError::InvalidParams(format!(
            "{table}.{column} is {kind}, not a timestamp or a number of Unix seconds"
        )))
    }
}

fn where_clause(conditions: &[String]) -> String {
    if conditions.is_empty() {
        "TRUE".into()
    } else {
        conditions.join(" AND ")
    }
}

fn validate_common(name: &str, positive: &[(&str, f64)]) -> Result<(), DetectError> {
    if name.trim().is_empty() {
        return Err(DetectError::InvalidParams("name must not be empty".into()));
    }
    for (key, value) in positive {
        if !(value.is_finite() && *value > 0.0) {
            return Err(DetectError::InvalidParams(format!(
                "{key} must be a positive number"
            )));
        }
    }
    Ok(())
}

/// Fires `<name>:never` when no row matches, `<name>:stale` when the
/// newest is older than the limit.
pub async fn freshness(ctx: &Ctx, p: &FreshnessParams) -> Result<Vec<Detection>, DetectError> {
    validate_common(&p.name, &[("max_age_hours", p.max_age_hours)])?;
    let table = quote_ident(&p.table)?;
    let (column, is_timestamp) = epoch_expr(ctx, &p.table, &p.time_column).await?;
    let (conditions, values) = sql::filters(&p.filters, 1)?;
    let newest = if is_timestamp {
        format!("extract(epoch FROM max({column}))::float8")
    } else {
        format!("max({column})::float8")
    };
    let query = format!(
        "SELECT {newest} FROM {table} WHERE {}",
        where_clause(&conditions)
    );
    let newest = ctx.db()?.query_f64(query, values).await?;
    let context = json!({"table": p.table, "filters": p.filters, "max_age_hours": p.max_age_hours});
    let mut extra = context.as_object().cloned().unwrap_or_default();
    let Some(newest) = newest else {
        return Ok(vec![Detection {
            dedupe_key: format!("{}:never", p.name),
            subject: format!("{}: no matching row in {} at all", p.name, p.table),
            body: format!(
                "No row of {} matches {}.\nThe job that writes them has never succeeded, or the filters are wrong.",
                p.table,
                Value::Object(p.filters.clone())
            ),
            extra,
            notify_after_minutes: None,
        }]);
    };
    let age_hours = (ctx.now - newest) / 3600.0;
    if age_hours <= p.max_age_hours {
        return Ok(Vec::new());
    }
    extra.insert("newest".into(), json!(newest));
    extra.insert("age_hours".into(), json!((age_hours * 10.0).round() / 10.0));
    Ok(vec![Detection {
        dedupe_key: format!("{}:stale", p.name),
        subject: format!(
            "{}: newest row is {:.1} h old (limit {} h)",
            p.name, age_hours, p.max_age_hours
        ),
        body: format!(
            "Newest row of {} matching {} is {:.1} hours old; the limit is {} hours.",
            p.table,
            Value::Object(p.filters.clone()),
            age_hours,
            p.max_age_hours
        ),
        extra,
        notify_after_minutes: None,
    }])
}

/// Fires `<name>:rate` when more than `max_count` rows match within the
/// trailing window.
pub async fn rate(ctx: &Ctx, p: &RateParams) -> Result<Vec<Detection>, DetectError> {
    validate_common(&p.name, &[("window_minutes", p.window_minutes)])?;
    let table = quote_ident(&p.table)?;
    let (column, is_timestamp) = epoch_expr(ctx, &p.table, &p.time_column).await?;
    let (mut conditions, mut values) = sql::filters(&p.filters, 1)?;
    let n = values.len() + 1;
    conditions.push(if is_timestamp {
        format!("{column} >= to_timestamp(${n}::float8)")
    } else {
        format!("{column} >= ${n}::float8")
    });
    values.push(SqlValue::Float(ctx.now - p.window_minutes * 60.0));
    let query = format!(
        "SELECT count(*)::float8 FROM {table} WHERE {}",
        where_clause(&conditions)
    );
    let count = ctx.db()?.query_f64(query, values).await?.unwrap_or(0.0);
    if count <= p.max_count {
        return Ok(Vec::new());
    }
    let extra = json!({"table": p.table, "filters": p.filters, "count": count,
                       "window_minutes": p.window_minutes, "max_count": p.max_count});
    Ok(vec![Detection {
        dedupe_key: format!("{}:rate", p.name),
        subject: format!(
            "{}: {} rows in the last {} min (limit {})",
            p.name, count, p.window_minutes, p.max_count
        ),
        body: format!(
            "{} rows of {} matching {} in the last {} minutes; more than {} is unusual.",
            count,
            p.table,
            Value::Object(p.filters.clone()),
            p.window_minutes,
            p.max_count
        ),
        extra: extra.as_object().cloned().unwrap_or_default(),
        notify_after_minutes: None,
    }])
}

/// The schema of a preset: the base detector's parameters, each with the
/// preset's default where it has one.
pub fn preset_specs(mut specs: Vec<ParamSpec>, defaults: &Value) -> Vec<ParamSpec> {
    for spec in &mut specs {
        if let Some(value) = defaults.get(spec.name) {
            spec.default = Some(value.clone());
        }
    }
    specs
}

/// Overlays an alarm's params on an instance's defaults (both objects).
pub fn with_defaults(defaults: Value, params: Value) -> Value {
    let mut merged = defaults.as_object().cloned().unwrap_or_default();
    if let Value::Object(given) = params {
        merged.extend(given);
    }
    Value::Object(merged)
}

//! The two database checks behind `db_freshness`, `db_rate` and their
//! production instances: is the newest matching row recent enough, and
//! are there too many matching rows in a trailing window.

use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::sql::{self, quote_ident, quote_table};
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

/// Checks the identifiers of a check's params: the table (no system
/// catalog), the time column and the filter keys.
fn check_names(
    table: &str,
    time_column: &str,
    filters: &Map<String, Value>,
) -> Result<(), DetectError> {
    quote_table(table).map_err(|e| DetectError::InvalidParams(format!("table: {e}")))?;
    sql::check_ident(time_column)
        .map_err(|e| DetectError::InvalidParams(format!("time_column: {e}")))?;
    sql::filters(filters, 1).map_err(|e| DetectError::InvalidParams(format!("filters: {e}")))?;
    Ok(())
}

/// Parses freshness params and checks their identifiers, so `check` and
/// `alarm create` refuse a bad table or column before anything is written.
pub fn validate_freshness(params: Value) -> Result<(), DetectError> {
    let p: FreshnessParams = crate::parse_params(params)?;
    check_names(&p.table, &p.time_column, &p.filters)
}

/// Parses rate params and checks their identifiers (see [`validate_freshness`]).
pub fn validate_rate(params: Value) -> Result<(), DetectError> {
    let p: RateParams = crate::parse_params(params)?;
    check_names(&p.table, &p.time_column, &p.filters)
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

/// The newest matching row's time, as Unix seconds; `None` when no row matches.
pub async fn newest(ctx: &Ctx, p: &FreshnessParams) -> Result<Option<f64>, DetectError> {
    validate_common(&p.name, &[("max_age_hours", p.max_age_hours)])?;
    let table = quote_table(&p.table)?;
    ctx.db()?.allow_table(&p.table)?;
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
    ctx.db()?.query_f64(query, values).await
}

/// Fires `<name>:never` when no row matches, `<name>:stale` when the
/// newest is older than the limit.
pub async fn freshness(ctx: &Ctx, p: &FreshnessParams) -> Result<Vec<Detection>, DetectError> {
    let newest = newest(ctx, p).await?;
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

/// Matching rows within the trailing window.
pub async fn count(ctx: &Ctx, p: &RateParams) -> Result<f64, DetectError> {
    validate_common(&p.name, &[("window_minutes", p.window_minutes)])?;
    let table = quote_table(&p.table)?;
    ctx.db()?.allow_table(&p.table)?;
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
    Ok(ctx.db()?.query_f64(query, values).await?.unwrap_or(0.0))
}

/// Fires `<name>:rate` when more than `max_count` rows match within the
/// trailing window.
pub async fn rate(ctx: &Ctx, p: &RateParams) -> Result<Vec<Detection>, DetectError> {
    let count = count(ctx, p).await?;
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
        extra: crate::fields(extra),
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

/// A number as Python's `%g` writes it (six significant digits, no
/// trailing zeros): the old engine's subjects use it for hour limits.
pub fn py_g(value: f64) -> String {
    if !value.is_finite() {
        return value.to_string();
    }
    if value == 0.0 {
        return "0".into();
    }
    let exponent = value.abs().log10().floor() as i32;
    // Rounding to six digits may carry into the next power of ten.
    let sci = format!("{value:.5e}");
    let exponent = sci
        .split_once('e')
        .and_then(|(_, e)| e.parse::<i32>().ok())
        .unwrap_or(exponent);
    let trim = |s: String| -> String {
        if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_owned()
        } else {
            s
        }
    };
    if !(-4..6).contains(&exponent) {
        let (mantissa, _) = sci.split_once('e').unwrap_or((&sci, ""));
        let sign = if exponent < 0 { '-' } else { '+' };
        format!("{}e{sign}{:02}", trim(mantissa.to_owned()), exponent.abs())
    } else {
        let decimals = (5 - exponent).max(0) as usize;
        trim(format!("{value:.decimals$}"))
    }
}

/// Rounded to one decimal as Python's `round(x, 1)` does (half to even
/// on the exact binary value, as Rust's formatting does too).
pub fn py_round1(value: f64) -> f64 {
    format!("{value:.1}").parse().unwrap_or(value)
}

/// A whole number as a JSON integer (as the old engine's `int(...)`
/// params wrote it), anything else as a float.
pub fn whole_or_float(value: f64) -> Value {
    if value.fract() == 0.0 && value.abs() < 9.0e15 {
        json!(value as i64)
    } else {
        json!(value)
    }
}

/// Unix seconds as Python's `datetime.isoformat()` writes an aware UTC
/// time: `2026-11-23T10:00:00+00:00`, with microseconds only when non-zero.
pub fn py_isoformat(epoch: f64) -> String {
    let micros = (epoch * 1e6).round() as i64;
    let Some(time) = chrono::DateTime::from_timestamp_micros(micros) else {
        return format!("{epoch} (Unix seconds)");
    };
    let seconds = time.format("%Y-%m-%dT%H:%M:%S");
    match micros.rem_euclid(1_000_000) {
        0 => format!("{seconds}+00:00"),
        frac => format!("{seconds}.{frac:06}+00:00"),
    }
}

/// Overlays an alarm's params on an instance's defaults (both objects).
pub fn with_defaults(defaults: Value, params: Value) -> Value {
    let mut merged = defaults.as_object().cloned().unwrap_or_default();
    if let Value::Object(given) = params {
        merged.extend(given);
    }
    Value::Object(merged)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_times_as_python_writes_them() {
        let g: Vec<String> = [
            30.0,
            36.5,
            0.5,
            1e-5,
            123456.0,
            1234567.0,
            0.0001,
            2.0 / 3.0,
        ]
        .iter()
        .map(|v| py_g(*v))
        .collect();
        assert_eq!(
            g,
            [
                "30",
                "36.5",
                "0.5",
                "1e-05",
                "123456",
                "1.23457e+06",
                "0.0001",
                "0.666667"
            ]
        );
        assert_eq!(py_isoformat(0.0), "1970-01-01T00:00:00+00:00");
        assert_eq!(
            py_isoformat(1_795_428_000.25),
            "2026-11-23T10:00:00.250000+00:00"
        );
        assert_eq!((py_round1(40.25), py_round1(40.35)), (40.2, 40.4));
        assert_eq!(whole_or_float(60.0), json!(60));
        assert_eq!(whole_or_float(1.5), json!(1.5));
    }
}

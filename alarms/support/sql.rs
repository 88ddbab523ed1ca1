//! Building read-only SQL from detector params, safely.
//!
//! Identifiers (tables, columns, JSON keys) are checked against a strict
//! pattern and quoted; values are never spliced into the text but bound as
//! parameters. A row's params can therefore choose *what* to look at, but
//! can never smuggle SQL in.

use serde_json::{Map, Value};

use crate::{DetectError, SqlValue};

fn invalid(message: String) -> DetectError {
    DetectError::InvalidParams(message)
}

/// Checks one identifier: lower-case letters, digits and `_`, starting
/// with a letter or `_`, at most 63 characters (Postgres' limit).
pub fn check_ident(name: &str) -> Result<&str, DetectError> {
    let mut chars = name.chars();
    let ok = name.len() <= 63
        && chars
            .next()
            .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if ok {
        Ok(name)
    } else {
        Err(invalid(format!(
            "{name:?} is not a plain identifier (lower-case letters, digits and _ only)"
        )))
    }
}

/// A checked, quoted identifier; `schema.table` is allowed.
pub fn quote_ident(name: &str) -> Result<String, DetectError> {
    let parts: Vec<&str> = name.split('.').collect();
    if parts.len() > 2 {
        return Err(invalid(format!("{name:?}: at most schema.table")));
    }
    parts
        .iter()
        .map(|p| check_ident(p).map(|p| format!("\"{p}\"")))
        .collect::<Result<Vec<_>, _>>()
        .map(|q| q.join("."))
}

/// Whether `name` (`table` or `schema.table`, already checked) names a
/// system catalog: a `pg_*` schema or `information_schema`, or an
/// unqualified `pg_*` name (which Postgres looks up in `pg_catalog` first).
pub fn is_system_table(name: &str) -> bool {
    match name.split_once('.') {
        Some((schema, _)) => schema.starts_with("pg_") || schema == "information_schema",
        None => name.starts_with("pg_"),
    }
}

/// A checked, quoted table name that is not a system catalog: params may
/// choose among the site's tables, never read the server's own.
pub fn quote_table(name: &str) -> Result<String, DetectError> {
    let quoted = quote_ident(name)?;
    if is_system_table(name) {
        return Err(invalid(format!(
            "table {name:?} is a system catalog; database checks never read those"
        )));
    }
    Ok(quoted)
}

/// `WHERE` conditions for equality filters, numbering parameters from
/// `first_param`. A key is a column (`app_name`) or a column and a JSON
/// path (`extra_data.action`); a value is a string, number or boolean
/// (compared as text) or a list of them (any of).
pub fn filters(
    filters: &Map<String, Value>,
    first_param: usize,
) -> Result<(Vec<String>, Vec<SqlValue>), DetectError> {
    let mut conditions = Vec::new();
    let mut values = Vec::new();
    for (key, value) in filters {
        let mut path = key.split('.');
        let column = quote_ident(path.next().unwrap_or(""))?;
        let json_keys: Vec<&str> = path.map(check_ident).collect::<Result<_, _>>()?;
        let lhs = if json_keys.is_empty() {
            format!("{column}::text")
        } else {
            format!("({column} #>> '{{{}}}')", json_keys.join(","))
        };
        let n = first_param + values.len();
        match value {
            Value::Array(items) => {
                let texts = items
                    .iter()
                    .map(scalar_text)
                    .collect::<Option<Vec<_>>>()
                    .ok_or_else(|| {
                        invalid(format!(
                            "filter {key}: a list may hold only strings, numbers and booleans"
                        ))
                    })?;
                conditions.push(format!("{lhs} = ANY(${n}::text[])"));
                values.push(SqlValue::TextList(texts));
            }
            other => {
                let text = scalar_text(other).ok_or_else(|| {
                    invalid(format!(
                        "filter {key}: expected a string, number, boolean or list"
                    ))
                })?;
                conditions.push(format!("{lhs} = ${n}::text"));
                values.push(SqlValue::Text(text));
            }
        }
    }
    Ok((conditions, values))
}

fn scalar_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn system_catalogs_are_refused() {
        for name in [
            "pg_authid",
            "pg_catalog.pg_authid",
            "information_schema.tables",
            "pg_toast.x",
        ] {
            assert!(quote_table(name).is_err(), "{name}");
        }
        assert_eq!(
            quote_table("public.swf_applog").expect("ok"),
            "\"public\".\"swf_applog\""
        );
    }

    #[test]
    fn identifiers_are_checked_and_quoted() {
        assert_eq!(quote_ident("swf_applog").expect("ok"), "\"swf_applog\"");
        assert_eq!(
            quote_ident("public.entry").expect("ok"),
            "\"public\".\"entry\""
        );
        for bad in [
            "",
            "Entry",
            "a-b",
            "x; DROP TABLE entry",
            "a\"b",
            "1abc",
            "a.b.c",
            "e'x",
        ] {
            assert!(quote_ident(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn filters_bind_values_and_quote_paths() {
        let f = json!({"app_name": "epicprod", "extra_data.action": "x'); DROP TABLE entry; --",
                       "capture_policy": ["a", "b"]});
        let (conds, values) = filters(f.as_object().expect("object"), 3).expect("valid");
        assert_eq!(
            conds,
            [
                "\"app_name\"::text = $3::text",
                "\"capture_policy\"::text = ANY($4::text[])",
                "(\"extra_data\" #>> '{action}') = $5::text",
            ]
        );
        assert_eq!(
            values[2],
            SqlValue::Text("x'); DROP TABLE entry; --".into())
        );
        let bad = json!({"extra_data.act'ion": "x"});
        assert!(filters(bad.as_object().expect("object"), 1).is_err());
    }
}

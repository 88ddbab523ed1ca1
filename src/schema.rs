//! Checking an alarm's `params` against its detector's parameter schema,
//! before anything is written (`alarm create/update`) or run (`check`).

use alarms::{ParamSpec, ParamType, Registration};
use serde_json::Value;

/// Every way `params` departs from the schema, one message each.
pub(crate) fn problems(registration: &Registration, params: &Value) -> Vec<String> {
    let Some(map) = params.as_object() else {
        return vec![format!("params must be a JSON object, found {params}")];
    };
    let mut out = Vec::new();
    for key in map.keys() {
        if !registration.params.iter().any(|p| p.name == key) {
            let known: Vec<&str> = registration.params.iter().map(|p| p.name).collect();
            out.push(format!(
                "params.{key}: {} has no such parameter (it takes: {})",
                registration.name,
                known.join(", ")
            ));
        }
    }
    for spec in registration.params {
        match map.get(spec.name) {
            None if spec.default.is_none() => out.push(format!(
                "params.{}: required ({})",
                spec.name, spec.description
            )),
            None => {}
            Some(value) => {
                if let Some(problem) = type_problem(spec, value) {
                    out.push(format!("params.{}: {problem}", spec.name));
                }
            }
        }
    }
    out
}

fn type_problem(spec: &ParamSpec, value: &Value) -> Option<String> {
    let ok = match (spec.kind, value) {
        // An optional parameter whose default is null may be given as null.
        (_, Value::Null) => spec.default == Some("null"),
        (ParamType::String, Value::String(_)) => true,
        (ParamType::Number, Value::Number(_)) => true,
        (ParamType::Integer, Value::Number(n)) => n.is_i64() || n.is_u64(),
        (ParamType::Boolean, Value::Bool(_)) => true,
        (ParamType::Array, Value::Array(_)) => true,
        (ParamType::Object, Value::Object(_)) => true,
        _ => false,
    };
    (!ok).then(|| format!("expected {}, found {value}", spec.kind.as_str()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn reg(name: &str) -> &'static Registration {
        alarms::find(name).expect("registered")
    }

    #[test]
    fn finds_unknown_missing_and_mistyped_params() {
        let p = problems(
            reg("panda_failure_rate"),
            &json!({"treshold": 0.03, "since_days": 1.5, "username": null}),
        );
        assert_eq!(p.len(), 3, "{p:?}");
        assert!(p[0].contains("params.treshold") && p[0].contains("no such parameter"));
        assert!(p.iter().any(|m| m.contains("params.threshold: required")));
        assert!(p
            .iter()
            .any(|m| m.contains("params.since_days: expected integer")));
    }

    #[test]
    fn every_example_fits_its_schema() {
        for reg in alarms::registry() {
            let example: Value = serde_json::from_str(reg.example).expect("json");
            assert_eq!(
                problems(reg, &example),
                Vec::<String>::new(),
                "{}",
                reg.name
            );
        }
    }
}

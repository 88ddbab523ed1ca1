//! Checking an alarm's `params` against its detector's parameter schema,
//! before anything is written (`alarm create/update`) or run (`check`).

use alarms::{DetectError, ParamSpec, ParamType, Registration};
use serde_json::Value;

/// Every way `params` departs from the schema, one message each.
///
/// The schema gives messages per parameter (unknown, missing, mistyped);
/// then the detector's own parser has the last word, so that a row is
/// accepted here exactly when the tick would run it.
pub(crate) fn problems(registration: &Registration, params: &Value) -> Vec<String> {
    let Some(map) = params.as_object() else {
        return vec![format!("params must be a JSON object, found {params}")];
    };
    let specs = (registration.params)();
    let mut out = Vec::new();
    for key in map.keys() {
        if !specs.iter().any(|p| p.answers_to(key)) {
            let known: Vec<&str> = specs.iter().map(|p| p.name).collect();
            out.push(format!(
                "params.{key}: {} has no such parameter (it takes: {})",
                registration.name,
                known.join(", ")
            ));
        }
    }
    for spec in &specs {
        let given: Vec<(&String, &Value)> =
            map.iter().filter(|(k, _)| spec.answers_to(k)).collect();
        match given.as_slice() {
            [] if spec.default.is_none() => out.push(format!(
                "params.{}: required ({})",
                spec.name, spec.description
            )),
            [] => {}
            [(key, value)] => {
                if let Some(problem) = type_problem(spec, value) {
                    out.push(format!("params.{key}: {problem}"));
                }
            }
            many => {
                let keys: Vec<&str> = many.iter().map(|(k, _)| k.as_str()).collect();
                out.push(format!(
                    "params.{}: given more than once ({})",
                    spec.name,
                    keys.join(", ")
                ));
            }
        }
    }
    if out.is_empty() {
        if let Err(error) = (registration.validate)(params.clone()) {
            out.push(match error {
                DetectError::InvalidParams(message) => format!("params: {message}"),
                other => format!("params: {other}"),
            });
        }
    }
    out
}

fn type_problem(spec: &ParamSpec, value: &Value) -> Option<String> {
    let ok = match (spec.kind, value) {
        // An optional parameter whose default is null may be given as null.
        (_, Value::Null) => spec.default == Some(Value::Null),
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
    fn aliases_are_accepted_once_and_the_parser_has_the_last_word() {
        let reg = reg("panda_failure_rate");
        let old = json!({"threshold": 0.05, "days_window": 1, "workinggroup": "EIC"});
        assert_eq!(problems(reg, &old), Vec::<String>::new());
        let both = json!({"threshold": 0.05, "days_window": 1, "since_days": 2});
        let p = problems(reg, &both);
        assert!(p[0].contains("given more than once"), "{p:?}");
        // Types fit the table, but the value does not fit the field.
        let p = problems(reg, &json!({"threshold": 0.05, "since_days": -1}));
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(p[0].starts_with("params: ") && p[0].contains("-1"), "{p:?}");
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

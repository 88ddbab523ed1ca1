//! `swf-alarms detectors`: the registered detectors and their parameter
//! schemas — as a table for people, as JSON for a dashboard's editor.

use std::process::ExitCode;

use serde_json::{json, Value};

/// The registry as JSON: name, aliases, summary, params (name, type,
/// required, default, description).
pub(crate) fn registry_json() -> Value {
    Value::Array(
        alarms::registry()
            .iter()
            .map(|r| {
                json!({
                    "name": r.name,
                    "aliases": r.aliases,
                    "summary": r.summary,
                    "example": serde_json::from_str::<Value>(r.example).unwrap_or(Value::Null),
                    "params": (r.params)().into_iter().map(|p| json!({
                        "name": p.name,
                        "aliases": p.aliases,
                        "type": p.kind.as_str(),
                        "required": p.default.is_none(),
                        "default": p.default,
                        "description": p.description,
                    })).collect::<Vec<_>>(),
                })
            })
            .collect(),
    )
}

pub(crate) fn run(as_json: bool) -> anyhow::Result<ExitCode> {
    if as_json {
        say!("{}", serde_json::to_string_pretty(&registry_json())?);
        return Ok(ExitCode::SUCCESS);
    }
    for r in alarms::registry() {
        say!("{}  —  {}", r.name, r.summary);
        if !r.aliases.is_empty() {
            say!("  also answers to: {}", r.aliases.join(", "));
        }
        for p in (r.params)() {
            let default = match &p.default {
                None => "required".to_owned(),
                Some(d) => format!("default {d}"),
            };
            say!("  {:<26} {:<8} {}", p.name, p.kind.as_str(), default);
            if !p.aliases.is_empty() {
                say!("  {:<26} also accepted as: {}", "", p.aliases.join(", "));
            }
            say!("  {:<26} {}", "", p.description);
        }
        say!("");
    }
    Ok(ExitCode::SUCCESS)
}

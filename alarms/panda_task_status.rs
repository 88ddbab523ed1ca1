//! `panda_task_status`: PanDA tasks that reached a dead-end status (by
//! default broken, failed or aborted) within the window — so operators
//! hear of dead tasks even when no failure rate is computable.
//!
//! Upstream: `GET /api/panda/tasks/`, one query per status, every page.
//! Dedupe key: `task:<jeditaskid>`. Example params:
//!
//! ```json
//! {"statuses": ["broken", "aborted"], "since_days": 1, "username": "%"}
//! ```

use serde::Deserialize;
use serde_json::{json, Value};

use crate::support::panda::{list_tasks, TaskFilter};
use crate::{parse_params, Ctx, DetectFuture, Detection, ParamSpec, ParamType, Registration};

/// The params of `panda_task_status`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Params {
    /// Statuses that fire.
    #[serde(default = "default_statuses")]
    statuses: Vec<String>,
    /// Window and owner filters.
    #[serde(flatten)]
    filter: TaskFilter,
}

fn default_statuses() -> Vec<String> {
    ["broken", "failed", "aborted"].map(String::from).to_vec()
}

const PARAMS: &[ParamSpec] = &[
    ParamSpec {
        name: "statuses",
        kind: ParamType::Array,
        default: Some(r#"["broken", "failed", "aborted"]"#),
        description: "Task statuses that fire, one query each.",
    },
    ParamSpec {
        name: "since_days",
        kind: ParamType::Integer,
        default: Some("1"),
        description: "Tasks modified within this many days.",
    },
    ParamSpec {
        name: "username",
        kind: ParamType::String,
        default: Some("null"),
        description: "Task owner; % wildcards pass through to PanDA.",
    },
    ParamSpec {
        name: "processingtype",
        kind: ParamType::String,
        default: Some("null"),
        description: "PanDA processing type.",
    },
    ParamSpec {
        name: "workinggroup",
        kind: ParamType::String,
        default: Some("null"),
        description: "PanDA working group.",
    },
];

fn detect(ctx: Ctx, params: Value) -> DetectFuture {
    Box::pin(async move {
        let p: Params = parse_params(params)?;
        let panda = ctx.panda()?;
        let mut detections = Vec::new();
        for status in &p.statuses {
            let query = p.filter.query(status);
            for task in list_tasks(panda, &query).await? {
                // The server filters by status; a task that moved on between
                // pages is judged by what it says now.
                if !p.statuses.iter().any(|s| s == &task.status) {
                    continue;
                }
                let url = panda.task_url(task.jeditaskid);
                let extra = json!({
                    "jeditaskid": task.jeditaskid, "taskname": task.taskname, "status": task.status,
                    "username": task.username, "site": task.site, "modificationtime": task.modificationtime,
                    "nfinished": task.nfinished, "nfailed": task.nfailed, "task_url": url,
                });
                detections.push(Detection {
                    dedupe_key: format!("task:{}", task.jeditaskid),
                    subject: format!("task {} {} — {}", task.jeditaskid, task.status, task.taskname),
                    body: format!(
                        "PanDA task {} — {}\nStatus:    {} (since {})\nOwner:     {}\nSite:      {}\nJobs:      {} failed, {} finished\nTask page: {}",
                        task.jeditaskid,
                        task.taskname,
                        task.status,
                        task.modificationtime.as_deref().unwrap_or("?"),
                        task.username,
                        task.site,
                        task.nfailed,
                        task.nfinished,
                        url
                    ),
                    extra: extra.as_object().cloned().unwrap_or_default(),
                    notify_after_minutes: None,
                });
            }
        }
        Ok(detections)
    })
}

inventory::submit!(Registration {
    name: "panda_task_status",
    aliases: &[],
    summary: "PanDA tasks that became broken, failed or aborted within the window.",
    params: PARAMS,
    example: r#"{"statuses": ["broken", "aborted"], "since_days": 1}"#,
    detect,
});

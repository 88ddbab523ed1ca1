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
use crate::{parse_params, Ctx, DetectFuture, Detection, ParamSchema, Registration};

/// The params of `panda_task_status`.
#[derive(Debug, Deserialize, ParamSchema)]
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
    params: <Params as ParamSchema>::param_specs,
    validate: crate::validate::<Params>,
    example: r#"{"statuses": ["broken", "aborted"], "since_days": 1}"#,
    detect,
});

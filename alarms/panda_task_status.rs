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

use crate::support::panda::{list_tasks, or_unknown, Task, TaskFilter};
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

/// The detection for a dead task. The old engine had no such alarm; its
/// words and `data` keys follow the old engine's failure-rate events, so
/// the two read alike on the dashboard.
fn detection(task: &Task, since_days: u32, url: &str) -> Detection {
    let status = task.status_or_unknown();
    let body = format!(
        "PanDA task {id} — {name}\n\
         Status:      {status} (modified {modified})\n\
         Owner:       {owner}\n\
         Site:        {site}\n\
         \n\
         Input files: retry-exhausted failed={final_failed}  finished={files_finished}\n\
         Jobs: nfailed={nfailed}  nfinished={nfinished}  nactive={nactive}\n\
         Since: last {since_days} day(s)\n\
         \n\
         Task page: {url}\n",
        id = task.jeditaskid,
        name = task.taskname_or_unknown(),
        modified = task.modificationtime.as_deref().unwrap_or("?"),
        owner = or_unknown(&task.username),
        site = or_unknown(&task.site),
        final_failed = task.nfinalfailed.unwrap_or(0),
        files_finished = task.nfilesfinished,
        nfailed = task.nfailed,
        nfinished = task.nfinished,
        nactive = task.nactive,
    );
    let extra = json!({
        "jeditaskid": task.jeditaskid, "taskname": task.taskname, "status": task.status,
        "username": task.username, "site": task.site, "modificationtime": task.modificationtime,
        "nactive": task.nactive, "nfinished": task.nfinished, "nfailed": task.nfailed,
        "nfinalfailed": task.nfinalfailed, "nfilesfinished": task.nfilesfinished,
        "nretries": task.nretries, "since_days": since_days, "task_url": url,
    });
    Detection {
        dedupe_key: format!("task:{}", task.jeditaskid),
        subject: format!(
            "task {} {status} — {}",
            task.jeditaskid,
            task.taskname_or_unknown()
        ),
        body,
        extra: crate::fields(extra),
        notify_after_minutes: None,
    }
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
                if !p.statuses.iter().any(|s| Some(s) == task.status.as_ref()) {
                    continue;
                }
                let url = panda.task_url(task.jeditaskid);
                detections.push(detection(&task, p.filter.since_days, &url));
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

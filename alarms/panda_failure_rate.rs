//! `panda_failure_rate`: PanDA tasks whose retry-exhausted failure rate is
//! at or above a threshold.
//!
//! Upstream: `GET /api/panda/tasks/`, one query per status, every page.
//! The rate is `computed_finalfailurerate` (failures that exhausted their
//! retries); a server too old to send it is judged on
//! `computed_failurerate`, with a warning once per tick. Tasks with fewer
//! terminal jobs than `min_terminal_jobs` are noise and skipped.
//!
//! Dedupe key: `task:<jeditaskid>`. Example params:
//!
//! ```json
//! {"threshold": 0.03, "since_days": 1, "username": "Sakib Rahman", "min_terminal_jobs": 5}
//! ```
//!
//! The production rows `alarm_panda_failure_rate_eic_all` and
//! `alarm_panda_failure_rate_sakib` resolve here by name.

use serde::Deserialize;
use serde_json::{json, Value};

use crate::support::panda::{failure_rate, list_tasks, RateKind, TaskFilter};
use crate::{parse_params, Ctx, DetectError, DetectFuture, Detection, ParamSchema, Registration};

/// The params of `panda_failure_rate`.
#[derive(Debug, Deserialize, ParamSchema)]
#[serde(deny_unknown_fields)]
struct Params {
    /// Fire at or above this rate (0.03 = 3 %).
    threshold: f64,
    /// Window and owner filters.
    #[serde(flatten)]
    filter: TaskFilter,
    /// Skip tasks with fewer terminal jobs (noise floor).
    #[serde(default = "five")]
    min_terminal_jobs: u64,
    /// Task statuses to query, one request each.
    #[serde(default = "default_statuses")]
    statuses: Vec<String>,
}

fn five() -> u64 {
    5
}
fn default_statuses() -> Vec<String> {
    ["running", "failed", "broken"].map(String::from).to_vec()
}

fn percent(rate: f64) -> String {
    format!("{:.1}%", rate * 100.0)
}

fn detect(ctx: Ctx, params: Value) -> DetectFuture {
    Box::pin(async move {
        let p: Params = parse_params(params)?;
        if !(p.threshold.is_finite() && p.threshold >= 0.0) {
            return Err(DetectError::InvalidParams(
                "threshold must be a rate such as 0.03".into(),
            ));
        }
        let panda = ctx.panda()?;
        let mut detections = Vec::new();
        for status in &p.statuses {
            let query = p.filter.query(status);
            for task in list_tasks(panda, &query).await? {
                let Some(rate) = failure_rate(&task) else {
                    continue;
                };
                if rate.kind == RateKind::AllFailures {
                    panda.warn_once(
                        "panda_failure_rate:fallback",
                        "PanDA sends no computed_finalfailurerate; judging tasks on computed_failurerate (all failed attempts).",
                    );
                }
                if rate.terminal < p.min_terminal_jobs || rate.value < p.threshold {
                    continue;
                }
                let failed = task.nfinalfailed.unwrap_or(task.nfailed);
                let url = panda.task_url(task.jeditaskid);
                let subject = format!(
                    "task {} ({}) failure rate {} — {}",
                    task.jeditaskid,
                    if task.status.is_empty() {
                        "?"
                    } else {
                        &task.status
                    },
                    percent(rate.value),
                    if task.taskname.is_empty() {
                        "?"
                    } else {
                        &task.taskname
                    },
                );
                let body = format!(
                    "PanDA task {id} — {name}\n\
                     Status:    {status}\n\
                     Owner:     {owner}\n\
                     Site:      {site}\n\
                     Rate:      {rate} ({field}); threshold {threshold}\n\
                     Jobs:      {failed} failed, {finished} finished, {active} active\n\
                     Window:    last {days} day(s)\n\
                     Task page: {url}",
                    id = task.jeditaskid,
                    name = task.taskname,
                    status = task.status,
                    owner = task.username,
                    site = task.site,
                    rate = percent(rate.value),
                    field = rate.kind.field(),
                    threshold = percent(p.threshold),
                    failed = failed,
                    finished = task.nfinished,
                    active = task.nactive,
                    days = p.filter.since_days,
                );
                let extra = json!({
                    "metric": percent(rate.value),
                    "rate": rate.value,
                    "rate_field": rate.kind.field(),
                    "threshold": p.threshold,
                    "jeditaskid": task.jeditaskid,
                    "taskname": task.taskname,
                    "status": task.status,
                    "username": task.username,
                    "site": task.site,
                    "nfinished": task.nfinished,
                    "nfailed": task.nfailed,
                    "nfinalfailed": task.nfinalfailed,
                    "nactive": task.nactive,
                    "native_failurerate": task.failurerate,
                    "since_days": p.filter.since_days,
                    "task_url": url,
                });
                detections.push(Detection {
                    dedupe_key: format!("task:{}", task.jeditaskid),
                    subject,
                    body,
                    extra: extra.as_object().cloned().unwrap_or_default(),
                    notify_after_minutes: None,
                });
            }
        }
        Ok(detections)
    })
}

inventory::submit!(Registration {
    name: "panda_failure_rate",
    aliases: &["panda_failure_rate_eic_all", "panda_failure_rate_sakib"],
    summary: "PanDA tasks whose retry-exhausted failure rate is at or above a threshold.",
    params: <Params as ParamSchema>::param_specs,
    validate: crate::validate::<Params>,
    example: r#"{"threshold": 0.03, "since_days": 1, "username": "Sakib Rahman", "min_terminal_jobs": 5}"#,
    detect,
});

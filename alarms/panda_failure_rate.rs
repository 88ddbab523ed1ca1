//! `panda_failure_rate`: PanDA tasks whose retry-exhausted failure rate is
//! at or above a threshold.
//!
//! Upstream: `GET /api/panda/tasks/`, one query per status, every page.
//! Each task is judged as the old engine judged it: on its
//! `computed_finalfailurerate` (input files that exhausted their retries),
//! or, when that is null for this task, on its `computed_failurerate`
//! (every failed job record) — the event then says so (`rate_kind`
//! `all-failures-fallback`, and the rate label of its subject). Whichever
//! rate is used, a task with fewer than `min_terminal_jobs` terminal job
//! records (`nfailed + nfinished`) is noise and skipped.
//!
//! Title, body and `data` keys are the old engine's, word for word.
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

use crate::support::panda::{
    failure_rate, list_tasks, or_unknown, Rate, RateKind, Task, TaskFilter,
};
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

/// A JSON value as the old engine printed it into text: strings bare,
/// everything else as JSON.
fn shown(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Bool(true) => "True".into(),
        Value::Bool(false) => "False".into(),
        other => other.to_string(),
    }
}

/// The detection for a task that fires, in the old engine's words and
/// `data` keys (the dashboard and the recipients know them); `rate`,
/// `rate_field` and `task_url` are this engine's additions.
fn detection(task: &Task, rate: &Rate, threshold: f64, since_days: u32, url: &str) -> Detection {
    let label = rate.kind.label();
    let subject = format!(
        "task {} ({}) {label} {} — {}",
        task.jeditaskid,
        task.status_or_unknown(),
        percent(rate.value),
        task.taskname_or_unknown(),
    );
    let native = if task.failurerate.is_null() {
        "JEDI native failurerate: NULL (expected — not populated for ePIC task types)".to_owned()
    } else {
        format!(
            "JEDI native failurerate: {} (computed is the operative signal)",
            shown(&task.failurerate)
        )
    };
    let body = format!(
        "PanDA task {id} — {name}\n\
         Status:      {status}\n\
         Owner:       {owner}\n\
         Site:        {site}\n\
         \n\
         {label}: {rate}  (threshold {threshold_pct})\n\
         Input files: retry-exhausted failed={failed}  finished={files_finished}\n\
         Jobs: nfailed={nfailed}  nfinished={nfinished}  nactive={nactive}\n\
         (final failures = input files that exhausted all retries, JEDI file-level accounting;\n \
         a job that failed then succeeded on retry does not count)\n\
         Since: last {since_days} day(s)\n\
         {native}\n\
         \n\
         Task page: {url}\n",
        id = task.jeditaskid,
        name = task.taskname_or_unknown(),
        status = task.status_or_unknown(),
        owner = or_unknown(&task.username),
        site = or_unknown(&task.site),
        rate = percent(rate.value),
        threshold_pct = percent(threshold),
        failed = rate.failed,
        files_finished = task.nfilesfinished,
        nfailed = task.nfailed,
        nfinished = task.nfinished,
        nactive = task.nactive,
    );
    let extra = json!({
        "metric": percent(rate.value),
        "rate_kind": rate.kind.data_value(),
        "jeditaskid": task.jeditaskid,
        "taskname": task.taskname,
        "status": task.status,
        "username": task.username,
        "site": task.site,
        "computed_failurerate": task.computed_failurerate,
        "computed_finalfailurerate": task.computed_finalfailurerate,
        "native_failurerate": task.failurerate,
        "nactive": task.nactive,
        "nfinished": task.nfinished,
        "nfailed": task.nfailed,
        "nfinalfailed": rate.failed,
        "nfilesfinished": task.nfilesfinished,
        "nretries": task.nretries,
        "threshold": threshold,
        "since_days": since_days,
        "rate": rate.value,
        "rate_field": rate.kind.field(),
        "task_url": url,
    });
    Detection {
        dedupe_key: format!("task:{}", task.jeditaskid),
        subject,
        body,
        extra: crate::fields(extra),
        notify_after_minutes: None,
    }
}

/// Whether a task fires: enough terminal jobs (`nfailed + nfinished`,
/// whichever rate judges it) and a rate at or above the threshold.
fn fires(rate: &Rate, threshold: f64, min_terminal_jobs: u64) -> bool {
    rate.terminal >= min_terminal_jobs && rate.value >= threshold
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
                        "Some PanDA tasks have no computed_finalfailurerate; judging them on computed_failurerate (all failed job records), as the old engine did.",
                    );
                }
                if !fires(&rate, p.threshold, p.min_terminal_jobs) {
                    continue;
                }
                let url = panda.task_url(task.jeditaskid);
                detections.push(detection(
                    &task,
                    &rate,
                    p.threshold,
                    p.filter.since_days,
                    &url,
                ));
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

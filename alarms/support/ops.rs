//! Judging an ops-monitor snapshot: the checks behind the `ops_*`
//! detectors and `aurora_ops`, as pure functions of one record.
//!
//! The record is one flat JSON object in which every number is a float
//! (flags are 1.0/0.0) and a missing measurement is null; a null never
//! fires. Dedupe keys are the alert ids of the platform's own alerter
//! (`storage:<prefix>`, `power:battery_soc`, `stream:<prefix>:<key>`, …).

use std::{collections::BTreeMap, sync::Arc};

use serde::Deserialize;
use serde_json::{json, Map, Value};

use crate::{Ctx, DetectError, Detection, ParamSchema, Snapshot};

/// The data streams of the platform, as prefixes of their keys.
pub const STREAMS: &[&str] = &[
    "cl61",
    "radar",
    "hatpro",
    "vaisalamet",
    "asfs_logger",
    "asfs_fast_sonic",
    "asfs_fast_gas",
    "power",
    "pdu",
    "wxcam",
    "auroracam",
];

/// The unit kinds whose health `ops_services` watches, per stream.
const UNIT_KINDS: &[&str] = &["source_sync", "append", "quicklooks"];

/// The newest snapshot, or an error saying there is none.
pub async fn load(ctx: &Ctx, dir: Option<&str>) -> Result<Arc<Snapshot>, DetectError> {
    ctx.snapshots()?
        .latest(dir)
        .await?
        .ok_or_else(|| DetectError::Upstream {
            source_name: dir.unwrap_or("engine.ops_snapshot_dir").to_owned(),
            message:
                "no ops snapshot found (no complete record in ops_monitor_*.jsonl or latest.json)"
                    .into(),
        })
}

fn num(record: &Map<String, Value>, key: &str) -> Option<f64> {
    record
        .get(key)
        .and_then(Value::as_f64)
        .filter(|f| f.is_finite())
}

fn text<'a>(record: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    record.get(key).and_then(Value::as_str)
}

fn detection(key: String, subject: String, body: String, extra: Value) -> Detection {
    Detection {
        dedupe_key: key,
        subject,
        body,
        extra: extra.as_object().cloned().unwrap_or_default(),
        notify_after_minutes: None,
    }
}

/// A readable name for a filesystem prefix.
fn filesystem_label(prefix: &str) -> String {
    let known = [
        ("aurora_project", "Aurora raw mirror disk"),
        ("aurora_data", "Aurora data disk"),
        ("aurora_root", "Aurora root disk"),
        ("host_ass_data", "ASS shared data disk"),
        ("host_ass_root", "ASS root disk"),
        ("host_celine_data", "CELINE data disk"),
        ("host_celine_source", "CELINE source disk"),
        ("host_aps_data", "APS data disk"),
        ("host_aps_root", "APS root disk"),
        ("host_aps_source", "APS source disk"),
        ("gws_storage", "GWS storage"),
    ];
    known
        .iter()
        .find(|(p, _)| *p == prefix)
        .map(|(_, label)| (*label).to_owned())
        .unwrap_or_else(|| format!("{prefix} disk"))
}

/// `ops_collector_stale`: the newest snapshot is older than
/// `max_age_minutes` by the engine's clock, or there is none.
pub fn collector_stale(
    snapshot: Option<&Snapshot>,
    now: f64,
    max_age_minutes: f64,
) -> Vec<Detection> {
    let key = "ops_collector_stale".to_owned();
    match snapshot {
        None => vec![detection(
            key,
            "Ops monitor: no snapshot at all".into(),
            "No complete ops-monitor record was found. The collector has never run, or writes elsewhere.".into(),
            json!({"max_age_minutes": max_age_minutes}),
        )],
        Some(s) => {
            let age = (now - s.time) / 60.0;
            if age < max_age_minutes {
                return Vec::new();
            }
            vec![detection(
                key,
                format!("Ops monitor: newest snapshot is {} old", human_minutes(age)),
                format!(
                    "The newest ops-monitor record ({}) was taken at {} — {} ago by this engine's clock; \
                     the limit is {max_age_minutes} min. The collector has stopped; every other ops alert \
                     reflects that old record.",
                    s.file,
                    text(&s.record, "time_utc").unwrap_or("?"),
                    human_minutes(age)
                ),
                json!({"age_minutes": (age * 10.0).round() / 10.0, "max_age_minutes": max_age_minutes,
                       "snapshot_time": s.time}),
            )]
        }
    }
}

fn human_minutes(minutes: f64) -> String {
    if minutes >= 120.0 {
        format!("{:.1} h", minutes / 60.0)
    } else {
        format!("{minutes:.0} min")
    }
}

/// `ops_storage`: every `<prefix>_used_pct` at or above the threshold,
/// once per probe target (two mounts of one disk are one alert).
pub fn storage(record: &Map<String, Value>, threshold_pct: f64) -> Vec<Detection> {
    // Group filesystems that resolve to the same disk: same probe target
    // and the same readings. The alphabetically first prefix speaks for it.
    let mut groups: BTreeMap<String, (String, f64)> = BTreeMap::new();
    for (key, value) in record {
        let Some(prefix) = key.strip_suffix("_used_pct") else {
            continue;
        };
        if prefix.ends_with("_inode") {
            continue;
        }
        let Some(used) = value.as_f64().filter(|f| f.is_finite()) else {
            continue;
        };
        if used < threshold_pct {
            continue;
        }
        let identity = match text(record, &format!("{prefix}_probe_target")) {
            Some(target) => format!(
                "{target}|{used}|{:?}|{}",
                num(record, &format!("{prefix}_inode_used_pct")),
                text(record, &format!("{prefix}_resolved_path")).unwrap_or("")
            ),
            None => prefix.to_owned(),
        };
        let entry = groups
            .entry(identity)
            .or_insert_with(|| (prefix.to_owned(), used));
        if prefix < entry.0.as_str() {
            *entry = (prefix.to_owned(), used);
        }
    }
    let mut found: Vec<(String, f64)> = groups.into_values().collect();
    found.sort_by(|a, b| a.0.cmp(&b.0));
    found
        .into_iter()
        .map(|(prefix, used)| {
            let label = filesystem_label(&prefix);
            let free = num(record, &format!("{prefix}_free_gb"));
            detection(
                format!("storage:{prefix}"),
                format!("{label} storage at {used:.1}%"),
                format!(
                    "{label} ({prefix}) is {used:.1}% full (threshold {threshold_pct}%).{}",
                    free.map(|f| format!(" {f:.1} GB free.")).unwrap_or_default()
                ),
                json!({"filesystem": prefix, "used_pct": used, "threshold_pct": threshold_pct, "free_gb": free}),
            )
        })
        .collect()
}

/// Thresholds of `ops_power`.
#[derive(Debug, Clone, Deserialize, ParamSchema)]
#[serde(deny_unknown_fields)]
pub struct PowerLimits {
    /// Battery state of charge at or below this fires.
    #[serde(default = "soc_min")]
    pub soc_min_pct: f64,
    /// Battery voltage below this fires.
    #[serde(default = "voltage_min")]
    pub voltage_min_v: f64,
    /// Enclosure temperature at or above this fires.
    #[serde(default = "temp_max")]
    pub temp_max_c: f64,
    /// Enclosure temperature below this fires.
    #[serde(default = "temp_min")]
    pub temp_min_c: f64,
    /// Dew-point margin at or below this fires (only when humidity is measured).
    #[serde(default)]
    pub dewpoint_margin_min_c: f64,
}

fn soc_min() -> f64 {
    40.0
}
fn voltage_min() -> f64 {
    50.0
}
fn temp_max() -> f64 {
    45.0
}
fn temp_min() -> f64 {
    5.0
}

impl Default for PowerLimits {
    fn default() -> Self {
        PowerLimits {
            soc_min_pct: soc_min(),
            voltage_min_v: voltage_min(),
            temp_max_c: temp_max(),
            temp_min_c: temp_min(),
            dewpoint_margin_min_c: 0.0,
        }
    }
}

/// `ops_power`: battery and enclosure conditions of the APS.
pub fn power(record: &Map<String, Value>, limits: &PowerLimits) -> Vec<Detection> {
    let mut out = Vec::new();
    let mut check = |key: &str, field: &str, fires: bool, subject: String, threshold: String| {
        if fires {
            let value = num(record, field);
            out.push(detection(
                format!("power:{key}"),
                subject.clone(),
                format!("{subject} (threshold {threshold}), from {field}."),
                json!({"value": value, "threshold": threshold, "field": field}),
            ));
        }
    };
    if let Some(soc) = num(record, "aps_battery_soc_pct") {
        check(
            "battery_soc",
            "aps_battery_soc_pct",
            soc <= limits.soc_min_pct,
            format!("Battery SOC at {soc:.1}%"),
            format!("<= {}%", limits.soc_min_pct),
        );
    }
    if let Some(v) = num(record, "aps_battery_voltage_v") {
        check(
            "battery_voltage",
            "aps_battery_voltage_v",
            v < limits.voltage_min_v,
            format!("Battery voltage at {v:.1} V"),
            format!("< {} V", limits.voltage_min_v),
        );
    }
    if let Some(t) = num(record, "aps_internal_temp_c") {
        check(
            "internal_temp",
            "aps_internal_temp_c",
            t >= limits.temp_max_c,
            format!("APS internal temperature at {t:.1} C"),
            format!(">= {} C", limits.temp_max_c),
        );
        check(
            "internal_temp_low",
            "aps_internal_temp_c",
            t < limits.temp_min_c,
            format!("APS internal temperature low at {t:.1} C"),
            format!("< {} C", limits.temp_min_c),
        );
    }
    let humidity = num(record, "aps_internal_humidity_available_state") == Some(1.0)
        || num(record, "aps_internal_humidity_pct").is_some();
    if humidity {
        if let Some(margin) = num(record, "aps_internal_dewpoint_margin_c") {
            check(
                "internal_dewpoint",
                "aps_internal_dewpoint_margin_c",
                margin <= limits.dewpoint_margin_min_c,
                format!("APS enclosure at its dew point (margin {margin:.1} C)"),
                format!("<= {} C", limits.dewpoint_margin_min_c),
            );
        }
    }
    out
}

/// `ops_archive`: the archive's health level is red; the mirror summary
/// is not recent.
pub fn archive(record: &Map<String, Value>) -> Vec<Detection> {
    let mut out = Vec::new();
    if text(record, "archive_health_level") == Some("red") {
        let title = text(record, "archive_health_title").unwrap_or("Archive health is red");
        let failures = record
            .get("archive_health_failures")
            .cloned()
            .unwrap_or(Value::Null);
        out.push(detection(
            "archive:health_red".into(),
            title.to_owned(),
            format!(
                "{}\nFailures: {}",
                text(record, "archive_health_detail")
                    .unwrap_or("The archive health contract reports red."),
                failures
            ),
            json!({"level": "red", "failures": failures}),
        ));
    }
    if num(record, "mirror_summary_recent_state") == Some(0.0) {
        let age = num(record, "mirror_summary_age_min");
        out.push(detection(
            "transfer:mirror_manifest_stale".into(),
            "Mirror verification summary is not recent".into(),
            format!(
                "The mirror verifier's summary is {} old (recent means 30 min or less).",
                age.map(human_minutes)
                    .unwrap_or_else(|| "of unknown age".into())
            ),
            json!({"age_minutes": age}),
        ));
    }
    out
}

/// `ops_services`: every source-sync, append or quicklook unit of a
/// stream whose healthy flag is 0.
pub fn services(record: &Map<String, Value>, streams: &[String]) -> Vec<Detection> {
    let mut out = Vec::new();
    for stream in streams {
        for kind in UNIT_KINDS {
            let key = format!("{stream}_{kind}_service_healthy_state");
            if num(record, &key) == Some(0.0) {
                let unit = format!("{stream} {}", kind.replace('_', " "));
                out.push(detection(
                    format!("stream:{stream}:{key}"),
                    format!("{unit} is unhealthy"),
                    format!("The systemd unit behind {unit} reports unhealthy ({key} = 0)."),
                    json!({"stream": stream, "unit_key": key}),
                ));
            }
        }
    }
    out
}

/// What `ops_stream_freshness` found.
pub enum StreamFreshness {
    /// Judged: these streams are stale.
    Judged(Vec<Detection>),
    /// The snapshot carries no per-stream source ages (the newer format).
    NoFields,
}

/// `ops_stream_freshness`: a stream whose source data is at least
/// `max_age_minutes` old — unless the mirror itself is stale (then every
/// age is suspect) or the instrument's outlet is off.
pub fn stream_freshness(
    record: &Map<String, Value>,
    streams: &[String],
    max_age_minutes: f64,
) -> StreamFreshness {
    let has_fields = streams
        .iter()
        .any(|s| record.contains_key(&format!("{s}_source_age_min")));
    if !has_fields {
        return StreamFreshness::NoFields;
    }
    if num(record, "mirror_summary_recent_state") == Some(0.0) {
        return StreamFreshness::Judged(Vec::new());
    }
    let mut out = Vec::new();
    for stream in streams {
        let Some(age) = num(record, &format!("{stream}_source_age_min")) else {
            continue;
        };
        if age < max_age_minutes {
            continue;
        }
        if num(record, &format!("{stream}_outlet_on_state")) == Some(0.0) {
            continue;
        }
        out.push(detection(
            format!("stream:{stream}:source_stale"),
            format!("{stream} source data is {} old", human_minutes(age)),
            format!(
                "The newest {stream} source file is {} old (limit {max_age_minutes} min).",
                human_minutes(age)
            ),
            json!({"stream": stream, "age_minutes": age, "max_age_minutes": max_age_minutes}),
        ));
    }
    StreamFreshness::Judged(out)
}

/// The stream list from params, or every known stream.
pub fn streams_or_default(streams: Option<Vec<String>>) -> Vec<String> {
    streams.unwrap_or_else(|| STREAMS.iter().map(|s| (*s).to_owned()).collect())
}

/// Sets a hold on detections (aurora_ops holds some families).
pub fn hold(mut detections: Vec<Detection>, minutes: f64) -> Vec<Detection> {
    for d in &mut detections {
        d.notify_after_minutes = Some(minutes);
    }
    detections
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(v: Value) -> Map<String, Value> {
        v.as_object().cloned().expect("object")
    }

    fn keys(d: &[Detection]) -> Vec<&str> {
        d.iter().map(|d| d.dedupe_key.as_str()).collect()
    }

    #[test]
    fn storage_reports_a_shared_disk_once_and_ignores_nulls_and_inodes() {
        let r = record(json!({
            "host_celine_data_used_pct": 86.0, "host_celine_data_probe_target": "a@h", "host_celine_data_inode_used_pct": 1.0,
            "host_ass_data_used_pct": 86.0, "host_ass_data_probe_target": "a@h", "host_ass_data_inode_used_pct": 1.0,
            "aurora_project_used_pct": 83.0, "aurora_project_inode_used_pct": 95.0,
            "aurora_root_used_pct": null, "aurora_data_used_pct": 79.9,
        }));
        let d = storage(&r, 80.0);
        assert_eq!(
            keys(&d),
            ["storage:aurora_project", "storage:host_ass_data"]
        );
        assert_eq!(d[0].subject, "Aurora raw mirror disk storage at 83.0%");
    }

    #[test]
    fn power_thresholds_and_dewpoint_only_with_humidity() {
        let r = record(
            json!({"aps_battery_soc_pct": 40.0, "aps_battery_voltage_v": 50.0,
            "aps_internal_temp_c": 4.0, "aps_internal_dewpoint_margin_c": -1.0}),
        );
        let d = power(&r, &PowerLimits::default());
        assert_eq!(keys(&d), ["power:battery_soc", "power:internal_temp_low"]);
        let mut with_humidity = r.clone();
        with_humidity.insert("aps_internal_humidity_available_state".into(), json!(1.0));
        assert!(keys(&power(&with_humidity, &PowerLimits::default()))
            .contains(&"power:internal_dewpoint"));
    }

    #[test]
    fn stale_collector_is_judged_by_the_engine_clock() {
        let s = Snapshot {
            time: 1000.0,
            record: Map::new(),
            file: "f".into(),
        };
        assert!(collector_stale(Some(&s), 1000.0 + 19.0 * 60.0, 20.0).is_empty());
        assert_eq!(
            collector_stale(Some(&s), 1000.0 + 21.0 * 60.0, 20.0).len(),
            1
        );
        assert_eq!(
            collector_stale(None, 0.0, 20.0)[0].dedupe_key,
            "ops_collector_stale"
        );
    }

    #[test]
    fn stream_freshness_skips_when_the_mirror_is_stale_or_the_outlet_off() {
        let streams = streams_or_default(None);
        let r = record(
            json!({"radar_source_age_min": 200.0, "cl61_source_age_min": 10.0,
                              "hatpro_source_age_min": 500.0, "hatpro_outlet_on_state": 0.0}),
        );
        let StreamFreshness::Judged(d) = stream_freshness(&r, &streams, 180.0) else {
            panic!("judged")
        };
        assert_eq!(keys(&d), ["stream:radar:source_stale"]);
        let mut stale_mirror = r.clone();
        stale_mirror.insert("mirror_summary_recent_state".into(), json!(0.0));
        let StreamFreshness::Judged(d) = stream_freshness(&stale_mirror, &streams, 180.0) else {
            panic!("judged")
        };
        assert!(d.is_empty());
        assert!(matches!(
            stream_freshness(&Map::new(), &streams, 180.0),
            StreamFreshness::NoFields
        ));
    }
}

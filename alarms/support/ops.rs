//! Judging an ops-monitor snapshot: the checks behind the `ops_*`
//! detectors and `aurora_ops`, as pure functions of one record.
//!
//! Every rule is the platform alerter's (`evaluate_alerts` in
//! aurora_cloud_dashboard's `send_ops_alerts.py`, commit 387b546): the same
//! alert ids (`storage:<prefix>`, `power:battery_soc`,
//! `stream:<prefix>:<key>`, …), the same boundaries, the same titles, and
//! values read the way it reads them: a number is anything Python's
//! `float()` takes that is finite (null, NaN and ±inf skip the rule), and a
//! flag is that number rounded half to even (0.5 is off, 0.6 is on). The
//! README's ops rule table lists every rule.

use std::sync::Arc;

use serde::Deserialize;
use serde_json::{json, Map, Value};

use crate::{Ctx, DetectError, Detection, ParamSchema, Snapshot};

/// A data stream as the alerter knows it: its label, the prefix of its
/// alert ids, the units whose health it watches, and the PDU outlet that
/// powers its instrument (when one is known).
#[derive(Debug)]
pub struct Stream {
    /// The alerter's name for it (`Cloud Radar`).
    pub label: &'static str,
    /// The prefix of its alert ids and snapshot keys (`radar`).
    pub prefix: &'static str,
    /// Its `*_service_healthy_state` keys, as the alerter watches them.
    pub units: &'static [&'static str],
    /// Whether its instrument hangs on a known PDU outlet: switched off
    /// there, its stream alerts are expected and not raised.
    pub has_outlet: bool,
}

/// The streams the alerter watches, in its order: 26 unit keys in all.
pub const STREAMS: &[Stream] = &[
    Stream {
        label: "CL61",
        prefix: "cl61",
        units: &[
            "cl61_source_sync_service_healthy_state",
            "ceilometer_append_service_healthy_state",
            "ceilometer_quicklooks_service_healthy_state",
        ],
        has_outlet: true,
    },
    Stream {
        label: "Cloud Radar",
        prefix: "radar",
        units: &[
            "radar_source_sync_service_healthy_state",
            "radar_append_service_healthy_state",
            "radar_quicklooks_service_healthy_state",
        ],
        has_outlet: true,
    },
    Stream {
        label: "Scanning Microwave Radiometer",
        prefix: "hatpro",
        units: &[
            "hatpro_source_sync_service_healthy_state",
            "hatpro_append_service_healthy_state",
            "hatpro_quicklooks_service_healthy_state",
        ],
        has_outlet: true,
    },
    Stream {
        label: "Meteorology",
        prefix: "vaisalamet",
        units: &[
            "vaisalamet_source_sync_service_healthy_state",
            "vaisalamet_append_service_healthy_state",
            "vaisalamet_quicklooks_service_healthy_state",
        ],
        has_outlet: false,
    },
    Stream {
        label: "Radiation",
        prefix: "asfs_logger",
        units: &[
            "asfs_logger_source_sync_service_healthy_state",
            "asfs_logger_append_service_healthy_state",
            "asfs_logger_quicklooks_service_healthy_state",
        ],
        has_outlet: false,
    },
    Stream {
        label: "ASFS Fast Sonic",
        prefix: "asfs_fast_sonic",
        units: &[
            "asfs_fast_sonic_source_sync_service_healthy_state",
            "asfs_fast_sonic_append_service_healthy_state",
            "asfs_fast_sonic_quicklooks_service_healthy_state",
        ],
        has_outlet: false,
    },
    Stream {
        label: "Aurora Power Supply",
        prefix: "power",
        units: &[
            "power_source_sync_service_healthy_state",
            "power_append_service_healthy_state",
            "power_quicklooks_service_healthy_state",
        ],
        has_outlet: false,
    },
    Stream {
        label: "ASS PDU",
        prefix: "pdu",
        units: &[
            "pdu_source_sync_service_healthy_state",
            "pdu_append_service_healthy_state",
        ],
        has_outlet: false,
    },
    Stream {
        label: "WXcam",
        prefix: "wxcam",
        units: &[
            "wxcam_source_sync_service_healthy_state",
            "wxcam_catalog_service_healthy_state",
            "wxcam_daily_videos_service_healthy_state",
        ],
        has_outlet: false,
    },
];

/// How long stream-service, archive and mirror conditions last before the
/// alerter emails them; also the source-age limit of a stream.
pub const STREAM_HOLD_MINUTES: f64 = 180.0;

/// Recent means a mirror summary at most this old (the alerter's words).
const MIRROR_SUMMARY_THRESHOLD_MINUTES: f64 = 30.0;

/// The streams named in params (by prefix), or all of them; an unknown
/// prefix is an error naming the known ones.
pub fn select_streams(names: Option<Vec<String>>) -> Result<Vec<&'static Stream>, DetectError> {
    let Some(names) = names else {
        return Ok(STREAMS.iter().collect());
    };
    names
        .iter()
        .map(|name| {
            STREAMS.iter().find(|s| s.prefix == name).ok_or_else(|| {
                let known: Vec<&str> = STREAMS.iter().map(|s| s.prefix).collect();
                DetectError::InvalidParams(format!(
                    "streams: {name:?} is not a stream the alerter watches ({})",
                    known.join(", ")
                ))
            })
        })
        .collect()
}

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

/// A value as the alerter's `_float` reads it: a number, a boolean, or a
/// string Python's `float()` accepts; only finite values count.
pub fn number(value: Option<&Value>) -> Option<f64> {
    let f = match value? {
        Value::Number(n) => n.as_f64()?,
        Value::Bool(b) => f64::from(u8::from(*b)),
        Value::String(s) => {
            let s = s.trim();
            // Python allows single underscores between digits ("1_000").
            let cleaned = if s.contains('_') {
                s.replace('_', "")
            } else {
                s.to_owned()
            };
            cleaned.parse::<f64>().ok()?
        }
        _ => return None,
    };
    f.is_finite().then_some(f)
}

/// A flag as the alerter's `_bool_state` reads it: the number rounded half
/// to even, then non-zero; `None` (the rule is skipped) when there is no
/// finite number.
pub fn flag(value: Option<&Value>) -> Option<bool> {
    number(value).map(|f| f.round_ties_even() != 0.0)
}

/// A value as Python's `str(value or "")` writes it.
fn text_or_empty(value: Option<&Value>) -> String {
    match value {
        None | Some(Value::Null) | Some(Value::Bool(false)) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(Value::Bool(true)) => "True".into(),
        Some(Value::Number(n)) if n.as_f64() == Some(0.0) => String::new(),
        Some(Value::Array(a)) if a.is_empty() => String::new(),
        Some(Value::Object(o)) if o.is_empty() => String::new(),
        Some(other) => other.to_string(),
    }
}

/// A number as the alerter's `_fmt_value` writes it: no decimals from 100,
/// one from 10, two below.
pub fn fmt_value(value: f64, unit: &str) -> String {
    if value.abs() >= 100.0 {
        format!("{value:.0}{unit}")
    } else if value.abs() >= 10.0 {
        format!("{value:.1}{unit}")
    } else {
        format!("{value:.2}{unit}")
    }
}

/// Python's `str.title()`: a letter after a non-letter is upper case, any
/// other letter lower case.
fn title_case(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut after_letter = false;
    for c in text.chars() {
        if c.is_alphabetic() {
            if after_letter {
                out.extend(c.to_lowercase());
            } else {
                out.extend(c.to_uppercase());
            }
            after_letter = true;
        } else {
            out.push(c);
            after_letter = false;
        }
    }
    out
}

/// The alerter's label for a filesystem prefix.
fn storage_label(prefix: &str) -> String {
    let known = [
        ("host_celine_source", "CL61 root disk"),
        ("host_celine_data", "CL61 data disk"),
        ("host_ass_root", "ASS root disk"),
        ("host_ass_data", "ASS shared data disk"),
        ("host_aps_root", "APS root disk"),
        ("host_aps_data", "APS data disk"),
        ("aurora_project", "Aurora raw mirror disk"),
        ("aurora_data", "AURORA Cloud product disk"),
        ("aurora_root", "AURORA Cloud root disk"),
        ("gws_storage", "JASMIN GWS"),
    ];
    known
        .iter()
        .find(|(p, _)| *p == prefix)
        .map(|(_, label)| (*label).to_owned())
        .unwrap_or_else(|| title_case(&prefix.replace('_', " ").replace(" pct", "")))
}

/// An alert as the alerter words it: the title is the subject; the body is
/// its message and its condition, as the alerter's email lists them.
fn alert(id: String, title: String, message: String, threshold: &str, extra: Value) -> Detection {
    let mut extra = extra.as_object().cloned().unwrap_or_default();
    extra.insert("threshold".into(), json!(threshold));
    Detection {
        dedupe_key: id,
        subject: title,
        body: format!("{message}\nCondition: {threshold}"),
        extra,
        notify_after_minutes: None,
    }
}

fn detection(key: String, subject: String, body: String, extra: Value) -> Detection {
    Detection {
        dedupe_key: key,
        subject,
        body,
        extra: crate::fields(extra),
        notify_after_minutes: None,
    }
}

fn text<'a>(record: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    record.get(key).and_then(Value::as_str)
}

/// Clock skew tolerated before a snapshot counts as dated in the future.
const FUTURE_TOLERANCE_MINUTES: f64 = 5.0;

/// `ops_collector_stale`: the newest snapshot is older than
/// `max_age_minutes` by the engine's clock, dated more than a few minutes
/// in the future, or there is none.
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
            if age < -FUTURE_TOLERANCE_MINUTES {
                // A record from the future proves nothing about the
                // collector now (a wrong clock, a hand-made file), and
                // would hide a stopped one until that time comes.
                return vec![detection(
                    key,
                    format!("Ops monitor: newest snapshot is dated {} in the future", human_minutes(-age)),
                    format!(
                        "The newest ops-monitor record ({}) says it was taken at {} — {} ahead of this \
                         engine's clock. Either clock is wrong, or the file was not written by the \
                         collector; whether the collector still runs cannot be told.",
                        s.file,
                        text(&s.record, "time_utc").unwrap_or("?"),
                        human_minutes(-age)
                    ),
                    json!({"age_minutes": (age * 10.0).round() / 10.0, "max_age_minutes": max_age_minutes,
                           "snapshot_time": s.time, "future": true}),
                )];
            }
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

/// `ops_storage`: every `<prefix>_used_pct` (not `_inode_used_pct`) at or
/// above the threshold. Filesystems with the same probe target and
/// filesystem are one disk, reported once: by the first prefix in key
/// order, or by `host_ass_data` when it is one of them.
pub fn storage(record: &Map<String, Value>, threshold_pct: f64) -> Vec<Detection> {
    let mut keys: Vec<&String> = record
        .keys()
        .filter(|k| k.ends_with("_used_pct") && !k.ends_with("_inode_used_pct"))
        .collect();
    keys.sort();
    let threshold = format!(">= {threshold_pct:.0}%");
    // (disk identity, detection), in the order disks first appear.
    let mut disks: Vec<(String, Detection)> = Vec::new();
    for key in keys {
        let Some(used) = number(record.get(key)) else {
            continue;
        };
        if used < threshold_pct {
            continue;
        }
        let prefix = &key[..key.len() - "_used_pct".len()];
        let label = storage_label(prefix);
        let path = text_or_empty(record.get(&format!("{prefix}_resolved_path")));
        let free = number(record.get(&format!("{prefix}_free_gb")));
        let target = text_or_empty(record.get(&format!("{prefix}_probe_target")));
        let filesystem = text_or_empty(record.get(&format!("{prefix}_filesystem")));
        let identity = if !target.is_empty() && !filesystem.is_empty() {
            format!("remote\u{0}{target}\u{0}{filesystem}")
        } else {
            format!("metric\u{0}{prefix}")
        };
        let d = alert(
            format!("storage:{prefix}"),
            format!("{label} storage at {}", fmt_value(used, "%")),
            format!(
                "{label} is using {} of capacity{}. Path: {}.",
                fmt_value(used, "%"),
                free.map(|f| format!(", free={}", fmt_value(f, " GB")))
                    .unwrap_or_default(),
                if path.is_empty() { "unknown" } else { &path }
            ),
            &threshold,
            json!({"filesystem": prefix, "used_pct": used, "threshold_pct": threshold_pct, "free_gb": free}),
        );
        match disks.iter_mut().find(|(id, _)| *id == identity) {
            None => disks.push((identity, d)),
            Some(slot) if prefix == "host_ass_data" => slot.1 = d,
            Some(_) => {}
        }
    }
    disks.into_iter().map(|(_, d)| d).collect()
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

/// `ops_power`: battery and enclosure conditions of the APS, in the
/// alerter's order.
pub fn power(record: &Map<String, Value>, limits: &PowerLimits) -> Vec<Detection> {
    let mut out = Vec::new();
    let extra = |field: &str, value: f64| json!({"value": value, "field": field});
    if let Some(soc) = number(record.get("aps_battery_soc_pct")) {
        if soc <= limits.soc_min_pct {
            out.push(alert(
                "power:battery_soc".into(),
                format!("Battery SOC at {}", fmt_value(soc, "%")),
                format!(
                    "Aurora Power Supply battery state of charge is {}.",
                    fmt_value(soc, "%")
                ),
                &format!("<= {:.0}%", limits.soc_min_pct),
                extra("aps_battery_soc_pct", soc),
            ));
        }
    }
    if let Some(temp) = number(record.get("aps_internal_temp_c")) {
        let message = format!(
            "Aurora Power Supply internal temperature is {}.",
            fmt_value(temp, " C")
        );
        if temp >= limits.temp_max_c {
            out.push(alert(
                "power:internal_temp".into(),
                format!("APS internal temperature at {}", fmt_value(temp, " C")),
                message.clone(),
                &format!(">= {:.0} C", limits.temp_max_c),
                extra("aps_internal_temp_c", temp),
            ));
        }
        if temp < limits.temp_min_c {
            out.push(alert(
                "power:internal_temp_low".into(),
                format!("APS internal temperature low at {}", fmt_value(temp, " C")),
                message,
                &format!("< {:.0} C", limits.temp_min_c),
                extra("aps_internal_temp_c", temp),
            ));
        }
    }
    let margin = number(record.get("aps_internal_dewpoint_margin_c"));
    let humidity_available = flag(record.get("aps_internal_humidity_available_state"));
    if let (Some(true), Some(margin)) = (humidity_available, margin) {
        if margin <= limits.dewpoint_margin_min_c {
            let part = |label: &str, key: &str, unit: &str| {
                number(record.get(key)).map(|v| format!("{label}={}", fmt_value(v, unit)))
            };
            let details: Vec<String> = [
                Some(format!("margin={}", fmt_value(margin, " C"))),
                part("temperature", "aps_internal_dewpoint_temp_c", " C"),
                part("RH", "aps_internal_humidity_pct", "%"),
                part("dew point", "aps_internal_dewpoint_c", " C"),
            ]
            .into_iter()
            .flatten()
            .collect();
            out.push(alert(
                "power:internal_dewpoint".into(),
                format!(
                    "APS internal dew point margin at {}",
                    fmt_value(margin, " C")
                ),
                format!(
                    "Aurora Power Supply internal air is at or below the calculated dew point margin: {}",
                    details.join(", ")
                ),
                &format!("<= {:.0} C", limits.dewpoint_margin_min_c),
                extra("aps_internal_dewpoint_margin_c", margin),
            ));
        }
    }
    if let Some(volts) = number(record.get("aps_battery_voltage_v")) {
        if volts < limits.voltage_min_v {
            out.push(alert(
                "power:battery_voltage".into(),
                format!("Battery voltage at {}", fmt_value(volts, " V")),
                format!(
                    "Aurora Power Supply battery voltage from DC inverter voltage is {}.",
                    fmt_value(volts, " V")
                ),
                &format!("< {:.0} V", limits.voltage_min_v),
                extra("aps_battery_voltage_v", volts),
            ));
        }
    }
    out
}

/// `ops_archive`: the archive health level is red (any case); the mirror
/// verification summary is not recent (its flag is off).
pub fn archive(record: &Map<String, Value>) -> Vec<Detection> {
    let mut out = Vec::new();
    if text_or_empty(record.get("archive_health_level")).to_lowercase() == "red" {
        let failures: Vec<Value> = match record.get("archive_health_failures") {
            Some(Value::Array(items)) => items.clone(),
            _ => Vec::new(),
        };
        let title = text_or_empty(record.get("archive_health_title"));
        let detail = text_or_empty(record.get("archive_health_detail"));
        let message = if !detail.trim().is_empty() {
            detail.trim().to_owned()
        } else if !failures.is_empty() {
            failures
                .iter()
                .map(|f| match f {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                })
                .collect::<Vec<_>>()
                .join("; ")
        } else {
            "No failure detail was supplied.".to_owned()
        };
        out.push(alert(
            "archive:health_red".into(),
            if title.is_empty() {
                "Archive delivery or verification needs action".into()
            } else {
                title
            },
            message,
            "archive health level = red",
            json!({"level": "red", "failures": failures, "value": failures.len()}),
        ));
    }
    if flag(record.get("mirror_summary_recent_state")) == Some(false) {
        let age = number(record.get("mirror_summary_age_min"));
        out.push(alert(
            "transfer:mirror_manifest_stale".into(),
            format!(
                "Mirror verification stale for {}",
                age.map(|a| fmt_value(a, " min"))
                    .unwrap_or_else(|| "unknown age".into())
            ),
            "Mirror verification telemetry is stale; stream source ages are unavailable until verification runs again.".into(),
            &format!("> {MIRROR_SUMMARY_THRESHOLD_MINUTES:.0} min"),
            json!({"age_minutes": age}),
        ));
    }
    out
}

/// Whether a stream's instrument is switched off at its outlet, so its
/// alerts are expected. The alerter reads the PDU's own record for this;
/// this engine reads `<prefix>_outlet_on_state` from the snapshot when the
/// collector writes it (on means at least 0.5, as the alerter judges an
/// outlet), and otherwise assumes on — the alerter's fail-safe default.
fn expected_off(record: &Map<String, Value>, stream: &Stream) -> bool {
    stream.has_outlet
        && number(record.get(&format!("{}_outlet_on_state", stream.prefix)))
            .is_some_and(|v| v < 0.5)
}

fn service_label(key: &str) -> String {
    let mut label = key;
    for suffix in [
        "_service_healthy_state",
        "_timer_active_state",
        "_source_recent_state",
    ] {
        if let Some(stripped) = label.strip_suffix(suffix) {
            label = stripped;
            break;
        }
    }
    label.replace('_', " ")
}

/// `ops_services`: every unit key of the alerter's table whose flag is off
/// (rounds to 0); null, NaN and non-numbers are skipped.
pub fn services(record: &Map<String, Value>, streams: &[&Stream]) -> Vec<Detection> {
    let mut out = Vec::new();
    for stream in streams {
        if expected_off(record, stream) {
            continue;
        }
        for key in stream.units {
            if flag(record.get(*key)) == Some(false) {
                out.push(alert(
                    format!("stream:{}:{key}", stream.prefix),
                    format!("{} {} is unhealthy", stream.label, service_label(key)),
                    format!(
                        "{} stream health component `{key}` is reporting off/unhealthy.",
                        stream.label
                    ),
                    &format!("continuous for {STREAM_HOLD_MINUTES:.0} min"),
                    json!({"stream": stream.prefix, "unit_key": key, "value": record.get(*key)}),
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
/// `max_age_minutes` old — unless the mirror verification is not recent
/// (then every age is suspect) or the instrument is switched off.
pub fn stream_freshness(
    record: &Map<String, Value>,
    streams: &[&Stream],
    max_age_minutes: f64,
) -> StreamFreshness {
    let has_fields = streams
        .iter()
        .any(|s| record.contains_key(&format!("{}_source_age_min", s.prefix)));
    if !has_fields {
        return StreamFreshness::NoFields;
    }
    if flag(record.get("mirror_summary_recent_state")) == Some(false) {
        return StreamFreshness::Judged(Vec::new());
    }
    let mut out = Vec::new();
    for stream in streams {
        let Some(age) = number(record.get(&format!("{}_source_age_min", stream.prefix))) else {
            continue;
        };
        if age < max_age_minutes || expected_off(record, stream) {
            continue;
        }
        out.push(alert(
            format!("stream:{}:source_stale", stream.prefix),
            format!(
                "{} source stale for {}",
                stream.label,
                fmt_value(age, " min")
            ),
            format!(
                "{} source data age is {}.",
                stream.label,
                fmt_value(age, " min")
            ),
            &format!(">= {max_age_minutes:.0} min"),
            json!({"stream": stream.prefix, "age_minutes": age, "max_age_minutes": max_age_minutes}),
        ));
    }
    StreamFreshness::Judged(out)
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

    /// Every rule of the alerter on one record, with its default limits.
    fn all_ids(r: &Map<String, Value>) -> Vec<String> {
        let streams = select_streams(None).expect("all streams");
        let mut d = storage(r, 80.0);
        d.extend(power(r, &PowerLimits::default()));
        d.extend(archive(r));
        d.extend(services(r, &streams));
        if let StreamFreshness::Judged(stale) = stream_freshness(r, &streams, STREAM_HOLD_MINUTES) {
            d.extend(stale);
        }
        let mut ids: Vec<String> = d.into_iter().map(|d| d.dedupe_key).collect();
        ids.sort();
        ids
    }

    /// Every rule at and beside its boundary. The expected ids were checked
    /// against `evaluate_alerts` of send_ops_alerts.py at 387b546 on the same
    /// records.
    #[test]
    fn every_rule_at_and_beside_its_boundary() {
        let cases: Vec<Value> = serde_json::from_str(include_str!(
            "../../tests/fixtures/aurora/ops_rule_cases.json"
        ))
        .expect("the cases are JSON");
        assert!(cases.len() > 40);
        for case in cases {
            let name = case["name"].as_str().expect("name");
            let mut want: Vec<String> = serde_json::from_value(case["ids"].clone()).expect("ids");
            want.sort();
            assert_eq!(all_ids(&record(case["record"].clone())), want, "{name}");
        }
    }

    /// The alerter's 26 unit keys, each raising exactly its own id.
    #[test]
    fn each_of_the_26_unit_keys_raises_its_id_and_nothing_else_does() {
        let streams = select_streams(None).expect("all streams");
        let units: Vec<(&str, &str)> = STREAMS
            .iter()
            .flat_map(|s| s.units.iter().map(move |u| (s.prefix, *u)))
            .collect();
        assert_eq!(units.len(), 26);
        // Units the snapshot carries that the alerter does not watch.
        let outside = [
            "asfs_fast_gas_source_sync_service_healthy_state",
            "asfs_fast_gas_append_service_healthy_state",
            "auroracam_source_sync_service_healthy_state",
            "auroracam_backfill_service_healthy_state",
            "cl61_append_service_healthy_state",
            "cl61_quicklooks_service_healthy_state",
            "radar_backfill_service_healthy_state",
            "radar_daily_quicklooks_service_healthy_state",
            "wxcam_append_service_healthy_state",
            "wxcam_quicklooks_service_healthy_state",
            "ops_monitor_append_service_healthy_state",
            "mirror_verify_service_healthy_state",
            "power_soc_forecast_service_healthy_state",
        ];
        let mut healthy = Map::new();
        for (_, key) in &units {
            healthy.insert((*key).to_owned(), json!(1.0));
        }
        for key in outside {
            healthy.insert(key.to_owned(), json!(0.0));
        }
        assert!(
            services(&healthy, &streams).is_empty(),
            "units outside the table raise nothing"
        );
        for (prefix, key) in &units {
            let mut r = healthy.clone();
            r.insert((*key).to_owned(), json!(0.0));
            let d = services(&r, &streams);
            assert_eq!(keys(&d), [format!("stream:{prefix}:{key}")], "{key}");
        }
        let mut all_off = healthy.clone();
        for (_, key) in &units {
            all_off.insert((*key).to_owned(), json!(0.0));
        }
        assert_eq!(services(&all_off, &streams).len(), 26);
    }

    #[test]
    fn flags_round_half_to_even_and_skip_what_is_not_a_finite_number() {
        let cases = [
            (json!(0.4), Some(false)),
            (json!(0.5), Some(false)),
            (json!(0.6), Some(true)),
            (json!(1.5), Some(true)),
            (json!(2.5), Some(true)),
            (json!(-0.5), Some(false)),
            (json!(null), None),
            (json!("NaN"), None),
            (json!(f64::NAN), None),
            (json!("inf"), None),
            (json!("garbage"), None),
            (json!([0]), None),
            (json!(false), Some(false)),
            (json!(" 1 "), Some(true)),
        ];
        for (value, want) in cases {
            assert_eq!(flag(Some(&value)), want, "{value}");
        }
        assert_eq!(flag(None), None);
    }

    #[test]
    fn titles_are_the_alerters() {
        let r = record(json!({
            "aurora_root_used_pct": 96.0, "aurora_root_free_gb": 3.0912, "aurora_root_resolved_path": "/",
            "host_aps_source_used_pct": 100.0,
            "aps_internal_dewpoint_margin_c": -0.5, "aps_internal_humidity_available_state": 1.0,
            "aps_internal_humidity_pct": 97.0, "aps_internal_dewpoint_c": 12.3,
            "radar_append_service_healthy_state": 0.0,
            "mirror_summary_recent_state": 0.0,
        }));
        let streams = select_streams(Some(vec!["radar".into()])).expect("radar");
        let mut d = storage(&r, 80.0);
        d.extend(power(&r, &PowerLimits::default()));
        d.extend(archive(&r));
        d.extend(services(&r, &streams));
        let lines: Vec<(&str, &str)> = d
            .iter()
            .map(|d| (d.subject.as_str(), d.body.as_str()))
            .collect();
        assert_eq!(
            lines,
            [
                (
                    "AURORA Cloud root disk storage at 96.0%",
                    "AURORA Cloud root disk is using 96.0% of capacity, free=3.09 GB. Path: /.\nCondition: >= 80%"
                ),
                (
                    "Host Aps Source storage at 100%",
                    "Host Aps Source is using 100% of capacity. Path: unknown.\nCondition: >= 80%"
                ),
                (
                    "APS internal dew point margin at -0.50 C",
                    "Aurora Power Supply internal air is at or below the calculated dew point margin: margin=-0.50 C, RH=97.0%, dew point=12.3 C\nCondition: <= 0 C"
                ),
                (
                    "Mirror verification stale for unknown age",
                    "Mirror verification telemetry is stale; stream source ages are unavailable until verification runs again.\nCondition: > 30 min"
                ),
                (
                    "Cloud Radar radar append is unhealthy",
                    "Cloud Radar stream health component `radar_append_service_healthy_state` is reporting off/unhealthy.\nCondition: continuous for 180 min"
                ),
            ]
        );
        assert!(select_streams(Some(vec!["auroracam".into()])).is_err());
    }

    #[test]
    fn a_switched_off_instrument_raises_no_stream_alerts() {
        let streams = select_streams(None).expect("all streams");
        let r = record(json!({
            "radar_outlet_on_state": 0.0, "radar_append_service_healthy_state": 0.0, "radar_source_age_min": 500.0,
            "hatpro_outlet_on_state": 1.0, "hatpro_append_service_healthy_state": 0.0,
            "power_outlet_on_state": 0.0, "power_append_service_healthy_state": 0.0,
        }));
        assert_eq!(
            keys(&services(&r, &streams)),
            [
                "stream:hatpro:hatpro_append_service_healthy_state",
                "stream:power:power_append_service_healthy_state"
            ],
            "only instruments on a known outlet are expected off"
        );
        let StreamFreshness::Judged(stale) = stream_freshness(&r, &streams, 180.0) else {
            panic!("judged")
        };
        assert!(stale.is_empty());
    }

    #[test]
    fn stale_collector_is_judged_by_the_engine_clock() {
        let s = Snapshot {
            time: 1000.0,
            record: Map::new(),
            file: "f".into(),
        };
        assert!(collector_stale(Some(&s), 1000.0 + 19.99 * 60.0, 20.0).is_empty());
        assert_eq!(
            collector_stale(Some(&s), 1000.0 + 20.0 * 60.0, 20.0).len(),
            1
        );
        assert_eq!(
            collector_stale(None, 0.0, 20.0)[0].dedupe_key,
            "ops_collector_stale"
        );
    }

    #[test]
    fn the_older_format_without_source_ages_is_said_so() {
        let streams = select_streams(None).expect("all streams");
        assert!(matches!(
            stream_freshness(&Map::new(), &streams, 180.0),
            StreamFreshness::NoFields
        ));
    }
}

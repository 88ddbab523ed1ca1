//! The engine's side of the detector sources: what `alarms::Ctx` hands to
//! detectors. One set per tick, so nothing is cached across ticks.

pub(crate) mod db;
mod once;
pub(crate) mod panda;
pub(crate) mod probe;
pub(crate) mod snapshots;

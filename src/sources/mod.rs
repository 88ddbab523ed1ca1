//! The engine's side of the detector sources: what `alarms::Ctx` hands to
//! detectors. One set per tick, so nothing is cached across ticks.

pub(crate) mod db;
pub(crate) mod panda;

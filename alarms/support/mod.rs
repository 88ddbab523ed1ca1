//! Logic shared by several detectors. Nothing here registers a detector;
//! the generated module list covers only the top-level files of `alarms/`.

pub mod dbcheck;
pub mod ops;
pub mod panda;
pub mod probe;
pub mod sql;

//! One module per subcommand; each returns its exit status, or an error
//! that the CLI reports with exit status 2.

pub(crate) mod alarm;
pub(crate) mod check;
pub(crate) mod detectors;
pub(crate) mod migrate;
pub(crate) mod run;
pub(crate) mod status;
pub(crate) mod test;

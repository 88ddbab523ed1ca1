//! The `swf-alarms` binary; everything lives in the library (see its docs).

use std::process::ExitCode;

fn main() -> ExitCode {
    swf_alarms::cli::main()
}

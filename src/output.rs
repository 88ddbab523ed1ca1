//! A command's answer on standard output (the `say!` macro), kept apart
//! from the CLI so that commands need not import the module that calls them.

/// Writes one line of output; see the `say!` macro.
pub(crate) fn emit(line: &str) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    if let Err(error) = writeln!(out, "{line}") {
        if error.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
    }
}

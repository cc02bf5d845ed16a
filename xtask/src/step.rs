//! Running external tools: a progress line per step, their output hidden unless `--verbose`
//! or they fail.

use std::process::{Command, Output, Stdio};
use std::time::Instant;

use anyhow::{Context, Result, bail};

/// Prints what is about to happen (stderr, so stdout stays the transcript).
pub fn progress(what: &str) {
    eprintln!("==> {what}");
}

/// Runs `command` as the step `what`; fails with its output when it fails.
pub fn run(what: &str, command: &mut Command, verbose: bool) -> Result<Output> {
    progress(what);
    let started = Instant::now();
    let output = if verbose {
        let status = command
            .stdin(Stdio::null())
            .status()
            .with_context(|| format!("{what}: could not start {command:?}"))?;
        Output {
            status,
            stdout: Vec::new(),
            stderr: Vec::new(),
        }
    } else {
        command
            .stdin(Stdio::null())
            .output()
            .with_context(|| format!("{what}: could not start {command:?}"))?
    };
    if !output.status.success() {
        eprint!("{}", String::from_utf8_lossy(&output.stdout));
        eprint!("{}", String::from_utf8_lossy(&output.stderr));
        bail!("{what} failed ({})", output.status);
    }
    if verbose {
        eprintln!("    ({:.1} s)", started.elapsed().as_secs_f64());
    }
    Ok(output)
}

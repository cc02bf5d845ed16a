//! Running external tools: a progress line per step, their output hidden unless `--verbose`
//! or they fail.
//!
//! Hidden output goes to files, not pipes: a `wine` command may start a wineserver that
//! inherits its output handles and lives on for seconds, and reading a pipe to its end would
//! wait for that server to exit.

use std::fs::File;
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

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
        capture(command).with_context(|| format!("{what}: could not start {command:?}"))?
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

/// How often a long step says it is alive.
const HEARTBEAT: Duration = Duration::from_secs(10);

/// Runs a long `command` (a package install) as the step `what`: with `--verbose` its own
/// progress lines show; otherwise a line every few seconds gives the elapsed time and the
/// command's latest line. Either way the step ends with its duration.
pub fn run_long(what: &str, command: &mut Command, verbose: bool) -> Result<()> {
    if verbose {
        return run(what, command, verbose).map(drop);
    }
    progress(what);
    let started = Instant::now();
    let log = std::env::temp_dir().join(format!("xtask-{}-long.log", std::process::id()));
    // One file for both streams: its last line is the step's latest news.
    let file = File::create(&log)?;
    let mut child = command
        .stdin(Stdio::null())
        .stdout(file.try_clone()?)
        .stderr(file)
        .spawn()
        .with_context(|| format!("{what}: could not start {command:?}"))?;
    let mut beat = started;
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        std::thread::sleep(Duration::from_millis(200));
        if beat.elapsed() >= HEARTBEAT {
            beat = Instant::now();
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            let latest = text.lines().rev().find(|line| !line.trim().is_empty());
            eprintln!(
                "    {:>4.0} s: {}",
                started.elapsed().as_secs_f64(),
                latest.unwrap_or("(no output yet)").trim()
            );
        }
    };
    let output = std::fs::read_to_string(&log).unwrap_or_default();
    let _ = std::fs::remove_file(&log);
    if !status.success() {
        eprint!("{output}");
        bail!("{what} failed ({status})");
    }
    eprintln!("    done in {:.1} s", started.elapsed().as_secs_f64());
    Ok(())
}

/// Runs `command` to completion and returns its output, read from files (see the module docs).
pub fn capture(command: &mut Command) -> std::io::Result<Output> {
    static STEP: AtomicU32 = AtomicU32::new(0);
    let stem = std::env::temp_dir().join(format!(
        "xtask-{}-{}",
        std::process::id(),
        STEP.fetch_add(1, Ordering::Relaxed)
    ));
    let (out_path, err_path) = (stem.with_extension("out"), stem.with_extension("err"));
    let status = command
        .stdin(Stdio::null())
        .stdout(File::create(&out_path)?)
        .stderr(File::create(&err_path)?)
        .status();
    let stdout = std::fs::read(&out_path).unwrap_or_default();
    let stderr = std::fs::read(&err_path).unwrap_or_default();
    let _ = std::fs::remove_file(out_path);
    let _ = std::fs::remove_file(err_path);
    Ok(Output {
        status: status?,
        stdout,
        stderr,
    })
}

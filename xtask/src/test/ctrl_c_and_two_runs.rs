//! Checks of `cargo xtask run` as people use it, each running this very tool as a child process:
//! two runs at once in one prefix, and a run sent Ctrl-C. (A run longer than Wine's default
//! service start limit is among the Wine checks.) They run last: no session of the checks
//! before may hold the prefix.

use std::fs;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use super::{Check, Needs};
use crate::wine::{PREFIX_VARIABLE, Prefix};

pub fn checks() -> Vec<Check> {
    vec![
        Check::new(
            "run: two runs at once in one prefix, one waits for the other, both pass with their own parameters",
            Needs::Runs,
            |_| two_runs_at_once(),
        ),
        Check::new(
            "run: Ctrl-C ends the run (exit 130) and every Wine process of the prefix; the next run passes",
            Needs::Runs,
            |context| ctrl_c_ends_what_the_run_started(&Prefix::locate(context.options)?),
        ),
    ]
}

/// A `cargo xtask run` started as a child, its output in files.
struct Run {
    child: Child,
    stdout: PathBuf,
    stderr: PathBuf,
}

impl Run {
    fn start(name: &str, args: &[&str]) -> Result<Self> {
        let dir = std::env::temp_dir().join(format!("xtask-usage-{}", std::process::id()));
        fs::create_dir_all(&dir)?;
        let (stdout, stderr) = (
            dir.join(format!("{name}.out")),
            dir.join(format!("{name}.err")),
        );
        let child = Command::new(std::env::current_exe()?)
            .arg("run")
            .args(args)
            .env_remove(PREFIX_VARIABLE)
            .stdin(Stdio::null())
            .stdout(fs::File::create(&stdout)?)
            .stderr(fs::File::create(&stderr)?)
            .spawn()
            .context("starting cargo xtask run")?;
        Ok(Self {
            child,
            stdout,
            stderr,
        })
    }

    fn stderr(&self) -> String {
        fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    /// Waits for the run's end (at most `limit`): its exit code, stdout and stderr.
    fn finish(mut self, limit: Duration) -> Result<(Option<i32>, String, String)> {
        let started = Instant::now();
        let status = loop {
            if let Some(status) = self.child.try_wait()? {
                break status;
            }
            if started.elapsed() > limit {
                let _ = self.child.kill();
                bail!("the run did not end within {} s", limit.as_secs());
            }
            std::thread::sleep(Duration::from_millis(100));
        };
        let stdout = fs::read_to_string(&self.stdout).unwrap_or_default();
        Ok((status.code(), stdout, self.stderr()))
    }
}

/// Two runs with different parameters started together in one prefix: one waits for the
/// other, saying so, and each passes with its own parameters.
fn two_runs_at_once() -> Result<()> {
    let paged = Run::start("paged", &["--list-type", "paged"])?;
    let per_processor = Run::start("per-processor", &["--list-mode", "per-processor"])?;
    let limit = Duration::from_mins(5);
    let (paged, per_processor) = (paged.finish(limit)?, per_processor.finish(limit)?);
    for ((code, stdout, stderr), own) in [
        (&paged, "ListType 1 (paged)"),
        (&per_processor, "ListMode 1 (per-processor)"),
    ] {
        if *code != Some(0) {
            bail!("a run exited with {code:?}: {}", last_lines(stderr));
        }
        if !stdout.contains(own) {
            bail!("a run did not run with its own parameters ({own})");
        }
    }
    if ![&paged.2, &per_processor.2]
        .iter()
        .any(|stderr| stderr.contains("waiting for the run that is using the prefix"))
    {
        bail!("neither run said it waited for the other");
    }
    Ok(())
}

/// A run sent SIGINT while the driver runs: it exits 130 saying so, no process of the prefix
/// is left, and the next run passes.
fn ctrl_c_ends_what_the_run_started(prefix: &Prefix) -> Result<()> {
    let run = Run::start("interrupted", &["--stress", "3000000", "--threads", "2"])?;
    let waiting = Instant::now();
    while !run.stderr().contains("    running: ") {
        if waiting.elapsed() > Duration::from_mins(3) {
            bail!(
                "the long run never got going: {}",
                last_lines(&run.stderr())
            );
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let pid = run.child.id().to_string();
    let sent = Command::new("kill").args(["-INT", &pid]).status()?;
    if !sent.success() {
        bail!("kill -INT {pid} failed");
    }
    let (code, _, stderr) = run.finish(Duration::from_mins(1))?;
    if code != Some(130) || !stderr.contains("interrupted: stopped every Wine process") {
        bail!("exit code {code:?}: {}", last_lines(&stderr));
    }
    let left = prefix.processes();
    if !left.is_empty() {
        bail!("processes of the prefix are left: {left:?}");
    }
    let (code, _, stderr) = Run::start("after", &[])?.finish(Duration::from_mins(3))?;
    if code != Some(0) {
        bail!(
            "the run after the interrupted one exited with {code:?}: {}",
            last_lines(&stderr)
        );
    }
    Ok(())
}

fn last_lines(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(5)..].join(" | ")
}

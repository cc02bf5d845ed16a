//! Starting the driver (`sc start`), watching it run, and reading back what it printed: the
//! transcript, the fixture's accounting, the status, Wine's trouble, and the run's verdict.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use lookaside_contract::anchors;

use super::prefix::{Server, append_to};
use super::{Prefix, SC, SERVICE};
use crate::{process, workspace};

/// What `DriverEntry` returns by design.
pub const STATUS_DEVICE_CONFIGURATION_ERROR: u32 = 0xC000_0182;
/// How often a long run says it is alive.
const HEARTBEAT: Duration = Duration::from_secs(5);
/// How long the fixture's totals may take to arrive once `sc start` has returned. The fixture
/// prints them in winedevice.exe's loading thread as soon as `ZwLoadDriver` returns, which is
/// milliseconds after `DriverEntry` returned; the rest is margin for a loaded machine. Nothing
/// waits for the driver's process to end (docs/linux.md, "When a load ends").
const TOTALS_WAIT: Duration = Duration::from_secs(30);

/// What one `sc start` showed.
pub struct Load {
    /// The driver's DbgPrint output, split into lines as DebugView shows them.
    pub transcript: Vec<String>,
    /// The fixture's own lines (leak accounting), without their prefix.
    pub fixture: Vec<String>,
    /// The NTSTATUS DriverEntry returned, when Wine reported one.
    pub status: Option<u32>,
    /// Whether `sc start` reported success (the driver stayed loaded).
    pub started: bool,
    /// How long `sc start` took: services.exe's wait for the driver's `DriverEntry`.
    pub start_took: Duration,
    /// Signs of trouble in Wine's output: unimplemented functions, crashes.
    pub problems: Vec<String>,
    /// When the fixture's totals never came: the prefix's processes still running then, and
    /// where Wine's whole output was kept.
    pub missing_totals: Option<MissingTotals>,
}

/// What a load that never reported its totals left behind, for its one-line error.
pub struct MissingTotals {
    /// The prefix's processes still running when the tool gave up waiting (pid and command).
    pub still_running: Vec<String>,
    /// Wine's output of the load.
    pub log: PathBuf,
}

impl MissingTotals {
    /// The processes still running, for the error line.
    fn running(&self) -> String {
        if self.still_running.is_empty() {
            "no process of the prefix".to_owned()
        } else {
            self.still_running.join("; ")
        }
    }
}

impl Load {
    /// The run's verdict, from everything it showed: `Ok` when `DriverEntry` returned
    /// `STATUS_DEVICE_CONFIGURATION_ERROR` (so the driver did not stay loaded), every pool block
    /// was back when the driver's load returned (the fixture's exact balance), fault injection,
    /// if asked for, happened, and Wine reported no crash or missing function. The error names
    /// the first reason in one line.
    pub fn verdict(&self) -> Result<()> {
        if !self.problems.is_empty() {
            bail!("Wine reported trouble: {}", self.problems.join("; "));
        }
        match (self.status, self.started) {
            (Some(STATUS_DEVICE_CONFIGURATION_ERROR), false) => {}
            (Some(status), _) => bail!(
                "DriverEntry returned {}; expected {}",
                describe(status),
                describe(STATUS_DEVICE_CONFIGURATION_ERROR)
            ),
            (None, true) => bail!(
                "the driver started and stayed loaded; it should have returned {}",
                describe(STATUS_DEVICE_CONFIGURATION_ERROR)
            ),
            (None, false) => match &self.missing_totals {
                Some(missing) => bail!(
                    "Wine did not report DriverEntry's status, nor the fixture its totals; still running: {}; Wine's output: {}",
                    missing.running(),
                    missing.log.display()
                ),
                None => bail!(
                    "Wine did not report DriverEntry's status: the driver's winedevice.exe ended without a word (rerun with --verbose for Wine's own output)"
                ),
            },
        }
        // The fixture's exact count over every list (per list the two may differ: with
        // per-processor lists a block may be freed to another processor's list).
        if let Some(missing) = &self.missing_totals {
            bail!(
                "the fixture reported no totals within {} s of `sc start` returning; still running: {}; Wine's output: {}",
                TOTALS_WAIT.as_secs(),
                missing.running(),
                missing.log.display()
            );
        }
        let total = self
            .fixture
            .iter()
            .find(|line| line.starts_with(anchors::FIXTURE_TOTAL))
            .context("the fixture reported no total over the lookaside lists")?;
        if !total.ends_with(anchors::NONE_OUTSTANDING) {
            bail!("blocks the lookaside lists handed out never came back: {total}");
        }
        let balance = self
            .final_balance()
            .context("the fixture reported no pool balance when the driver's load returned")?;
        if !balance.ends_with(anchors::NONE_OUTSTANDING) {
            bail!("pool blocks leaked: {balance}");
        }
        if let Some(line) = self.transcript.iter().find(|line| {
            line.contains(anchors::FAULT_INJECTION) && line.contains(anchors::NEVER_HAPPENED)
        }) {
            bail!(
                "fault injection was asked for but never happened: {}",
                line.trim()
            );
        }
        Ok(())
    }

    /// Prints the transcript (stdout) as DebugView shows it, then the fixture's accounting and
    /// Wine's trouble (stderr).
    pub fn print(&self) {
        println!();
        for line in &self.transcript {
            println!("{line}");
        }
        if !self.fixture.is_empty() {
            eprintln!(
                "\nWine fixture, not driver output: its exact count of what each list handed out and took back, and the pool balance when the driver's load returned:"
            );
            for line in &self.fixture {
                eprintln!("  {line}");
            }
        }
        for problem in &self.problems {
            eprintln!("wine: {problem}");
        }
        println!();
    }

    /// The fixture's pool balance when the driver's load returned: the last one it printed.
    pub fn final_balance(&self) -> Option<&str> {
        self.fixture.iter().rev().find_map(|line| {
            line.strip_prefix(anchors::FIXTURE_BALANCE)
                .map(|_| line.as_str())
        })
    }
}

/// Wine's debug channels of a load: `DbgPrint` output, and the errors that judge the run.
const WINEDEBUG: &str = "-all,+debugstr,err+ntoskrnl,err+sc,err+seh,err+module";

impl Prefix {
    /// The load's log, empty: where the load's wineserver and every Wine process of the load
    /// write their output.
    pub fn new_load_log(&self) -> Result<PathBuf> {
        let log = self.dir().join("lookasidelist-load.log");
        std::fs::File::create(&log).with_context(|| format!("creating {}", log.display()))?;
        Ok(log)
    }

    /// A Wine command of the load: the load's debug channels, its stderr appended to `log`.
    pub fn load_command(&self, log: &Path) -> Result<std::process::Command> {
        let stderr = append_to(log)?;
        let mut command = self.command("wine");
        command
            .env("WINEDEBUG", WINEDEBUG)
            .stdin(Stdio::null())
            .stderr(stderr);
        Ok(command)
    }

    /// `sc start LookasideList` in the load's wineserver, reading Wine's debug
    /// output (the driver's winedevice.exe's too) from the load's `log`, and waiting (at most
    /// `limit`, what the run's parameters allow) for `DriverEntry` to return and the fixture's
    /// totals; alive lines on stderr every few seconds meanwhile. It stops `server` before it
    /// reads the log for the last time.
    pub fn start(&self, server: Server<'_>, limit: Duration, log: &Path) -> Result<Load> {
        process::progress("sc start LookasideList");
        let mut child = self
            .load_command(log)?
            .args([SC, "start", SERVICE])
            .stdout(Stdio::null())
            .spawn()
            .context("starting `wine sc start`")?;
        let text = || String::from_utf8_lossy(&std::fs::read(log).unwrap_or_default()).into_owned();
        let started = Instant::now();
        let mut beat = started;
        let (mut exit, mut exited) = (None, None);
        // Until `sc start` has returned (DriverEntry is done) and the fixture has printed its
        // totals (when ZwLoadDriver returned, in the same thread; a driver that crashed
        // winedevice.exe never lets it: then for TOTALS_WAIT at most).
        while exit.is_none()
            || !(has_final_balance(&text())
                || exited.is_some_and(|at: Instant| at.elapsed() > TOTALS_WAIT))
        {
            self.stop_if_interrupted();
            if exit.is_none() {
                exit = child.try_wait()?;
                if exit.is_some() {
                    exited = Some(Instant::now());
                }
            }
            if started.elapsed() > limit {
                let _ = child.kill();
                drop(server);
                bail!(
                    "the driver did not finish within {} s, the limit for this run's parameters",
                    limit.as_secs()
                );
            }
            if beat.elapsed() >= HEARTBEAT {
                beat = Instant::now();
                eprintln!(
                    "    running: {:.0} s (limit {} s)",
                    started.elapsed().as_secs_f64(),
                    limit.as_secs()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let raw = text();
        // Given up waiting: what was still running, before the server goes with it.
        let still_running =
            (!has_final_balance(&raw)).then(|| (self.processes(), self.process_report()));
        // Stopping the server ends every process of the load, which flushes their output.
        drop(server);
        let raw = text();
        if self.verbose() {
            eprint!("{raw}");
        }
        let mut load = parse(&raw);
        load.started = exit.is_some_and(|status| status.success());
        load.start_took = exited.map_or_else(|| started.elapsed(), |at| at.duration_since(started));
        if let Some((still_running, report)) = still_running {
            let log = keep_log(&format!(
                "{raw}\n--- the prefix's processes when the tool gave up waiting ---\n{report}"
            ));
            load.missing_totals = Some(MissingTotals { still_running, log });
        }
        Ok(load)
    }
}

/// Keeps Wine's output of a load that went wrong in `target/wine-logs/` (the prefix's own log
/// is rewritten by the next load), returning where.
pub(super) fn keep_log(raw: &str) -> PathBuf {
    let log = workspace::root().join(format!(
        "target/wine-logs/load-{}.log",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |elapsed| elapsed.as_millis())
    ));
    if let Some(dir) = log.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    let _ = std::fs::write(&log, raw);
    log
}

/// Whether the fixture's totals have arrived (a balance after Wine reported DriverEntry's
/// status, whichever driver it was).
fn has_final_balance(raw: &str) -> bool {
    raw.contains(&format!(
        "{}{}{}",
        anchors::FIXTURE,
        anchors::fixture_driver(SERVICE),
        anchors::FIXTURE_BALANCE
    ))
}

/// Splits Wine's debug output into the driver's lines, the fixture's lines, the status and
/// any trouble.
pub fn parse(raw: &str) -> Load {
    const DBGPRINT: &str = anchors::WINE_DBGPRINT;
    let mut text = String::new();
    let mut problems = Vec::new();
    let mut status = None;
    let mut in_dbgprint = false;
    for line in raw.lines() {
        if let Some(at) = line.find(DBGPRINT) {
            // "<tid>:warn:debugstr:vDbgPrintExWithPrefix <component>:<level>: <text>"
            let rest = &line[at + DBGPRINT.len()..];
            let text_start = rest.find(": ").map_or(rest.len(), |i| i + 2);
            text.push_str(&rest[text_start..]);
            text.push('\n');
            in_dbgprint = true;
        } else if is_wine_message(line) {
            in_dbgprint = false;
            if let Some(code) = line.split(anchors::WINE_STATUS).nth(1) {
                status = code
                    .rsplit(": ")
                    .next()
                    .and_then(|hex| u32::from_str_radix(hex.trim(), 16).ok());
            }
            let trouble = [
                "unimplemented function",
                "Unhandled",
                "page fault",
                "starting debugger",
                "err:seh",
            ];
            if trouble.iter().any(|t| line.contains(t)) {
                problems.push(line.to_owned());
            }
        } else if in_dbgprint {
            // A DbgPrint string's later lines arrive without Wine's prefix.
            text.push_str(line);
            text.push('\n');
        }
    }
    let mut transcript = Vec::new();
    let mut fixture = Vec::new();
    let ours = anchors::fixture_driver(SERVICE);
    for line in text.lines() {
        match line.strip_prefix(anchors::FIXTURE) {
            // The totals after our service's load; those after the loads of Wine's own drivers
            // (in other winedevice.exe processes) are not the driver's.
            Some(rest) => match rest.strip_prefix(&ours) {
                Some(totals) => fixture.push(totals.to_owned()),
                None if rest.starts_with("driver ") => {}
                None => fixture.push(rest.to_owned()),
            },
            None => transcript.push(line.to_owned()),
        }
    }
    Load {
        transcript,
        fixture,
        status,
        started: false,
        problems,
        missing_totals: None,
        start_took: Duration::ZERO,
    }
}

/// A line Wine itself wrote: `<tid>:<class>:<channel>:...` or `wine: ...`.
fn is_wine_message(line: &str) -> bool {
    if line.starts_with("wine:") {
        return true;
    }
    let mut parts = line.splitn(3, ':');
    let (Some(tid), Some(class)) = (parts.next(), parts.next()) else {
        return false;
    };
    !tid.is_empty()
        && tid.len() <= 8
        && tid.bytes().all(|b| b.is_ascii_hexdigit())
        && ["err", "warn", "fixme", "trace"].contains(&class)
}

/// The status as `0xC0000182 STATUS_DEVICE_CONFIGURATION_ERROR`.
pub fn describe(status: u32) -> String {
    let name = match status {
        0 => "STATUS_SUCCESS",
        STATUS_DEVICE_CONFIGURATION_ERROR => "STATUS_DEVICE_CONFIGURATION_ERROR",
        0xC000_0001 => "STATUS_UNSUCCESSFUL",
        0xC000_009A => "STATUS_INSUFFICIENT_RESOURCES",
        0xC000_007A => "STATUS_PROCEDURE_NOT_FOUND",
        0xC000_0135 => "STATUS_DLL_NOT_FOUND",
        _ => "an unexpected status",
    };
    format!("0x{status:08X} {name}")
}

#[cfg(test)]
mod tests;

//! Loading LookasideList.sys in Wine with `sc.exe`, and reading back what it printed.
//!
//! Wine's `winedevice.exe` hosts kernel drivers and prints their `DbgPrint` output on its
//! `debugstr` channel. Wine 8 lacks the `Ex*LookasideListEx` routines, so winedevice loads the
//! test fixture in `wine/ntoskrnl` as its `ntoskrnl.exe`: it forwards everything else to Wine's
//! own kernel, renamed `wntoskrnl.dll`.

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use std::sync::{Arc, Mutex};

use crate::build::{self, Artifacts};
use crate::cli::{Options, Value};
use crate::{packages, step};

pub const SERVICE: &str = "LookasideList";
/// What `DriverEntry` returns by design.
pub const STATUS_DEVICE_CONFIGURATION_ERROR: u32 = 0xC000_0182;
pub const WINE_NTOSKRNL: &str = "/usr/lib/x86_64-linux-gnu/wine/x86_64-windows/ntoskrnl.exe";
/// Marks a prefix this tool finished creating (a half-created one lacks it).
const READY_MARKER: &str = ".lookasidelist-prefix-ready";
const START_TIMEOUT: Duration = Duration::from_mins(2);
/// How long to wait for the driver's winedevice to exit after `sc start` has returned.
/// (Seconds on a quiet machine; a loaded one has been seen to need more than ten.)
const EXIT_TIMEOUT: Duration = Duration::from_secs(30);
const PARAMETERS_KEY: &str =
    r"HKEY_LOCAL_MACHINE\System\CurrentControlSet\Services\LookasideList\Parameters";

/// A Wine prefix: `$WINEPREFIX` if set, else one of our own under `target/`.
pub struct Prefix {
    dir: PathBuf,
    ours: bool,
    verbose: bool,
}

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
    /// Signs of trouble in Wine's output: unimplemented functions, crashes.
    pub problems: Vec<String>,
}

impl Load {
    /// `Ok` when the driver behaved as designed: `DriverEntry` returned
    /// `STATUS_DEVICE_CONFIGURATION_ERROR`, so the driver did not stay loaded, and Wine reported
    /// no crash or missing function.
    pub fn as_designed(&self) -> Result<()> {
        if !self.problems.is_empty() {
            bail!("Wine reported trouble: {}", self.problems.join("; "));
        }
        match (self.status, self.started) {
            (Some(STATUS_DEVICE_CONFIGURATION_ERROR), false) => Ok(()),
            (Some(status), _) => bail!(
                "DriverEntry returned {}; expected {}",
                describe(status),
                describe(STATUS_DEVICE_CONFIGURATION_ERROR)
            ),
            (None, true) => bail!(
                "the driver started and stayed loaded; it should have returned {}",
                describe(STATUS_DEVICE_CONFIGURATION_ERROR)
            ),
            (None, false) => bail!(
                "Wine did not report DriverEntry's status (rerun with --verbose to see Wine's output)"
            ),
        }
    }
}

impl Prefix {
    pub fn locate(options: &Options) -> Self {
        match std::env::var_os("WINEPREFIX") {
            Some(dir) if !dir.is_empty() => Self {
                dir: PathBuf::from(dir),
                ours: false,
                verbose: options.verbose,
            },
            _ => Self {
                dir: build::root().join("target/wine"),
                ours: true,
                verbose: options.verbose,
            },
        }
    }

    /// The prefix's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn system32(&self) -> PathBuf {
        self.dir.join("drive_c/windows/system32")
    }

    fn usable(&self) -> bool {
        self.dir.join("system.reg").is_file()
            && self.system32().join("ntoskrnl.exe").is_file()
            && (!self.ours || self.dir.join(READY_MARKER).is_file())
    }

    /// A `wine`-family command with this prefix, headless and quiet.
    pub fn command(&self, program: &str) -> Command {
        let mut command = Command::new(program);
        command
            .env("WINEPREFIX", &self.dir)
            // No Mono/Gecko installers (there is no network); no display needed.
            .env("WINEDLLOVERRIDES", "mscoree,mshtml=")
            .env("WINEDEBUG", "-all")
            .env_remove("DISPLAY")
            .env_remove("WAYLAND_DISPLAY");
        command
    }

    /// Creates the prefix on first use; recreates one of ours that is half-created.
    pub fn ensure(&self) -> Result<()> {
        if self.usable() {
            return Ok(());
        }
        if self.dir.exists() {
            if !self.ours {
                bail!(
                    "WINEPREFIX={} is not a usable Wine prefix (no system.reg or system32\\ntoskrnl.exe): \
                     remove it, or unset WINEPREFIX to use one under target/",
                    self.dir.display()
                );
            }
            step::progress(&format!(
                "the Wine prefix {} is incomplete (an interrupted creation?): recreating it",
                self.dir.display()
            ));
            self.kill_server();
            fs::remove_dir_all(&self.dir)
                .with_context(|| format!("removing {}", self.dir.display()))?;
        }
        fs::create_dir_all(&self.dir)?;
        let what = format!(
            "creating the Wine prefix {} (first run only, ~10 s)",
            self.dir.display()
        );
        step::run(&what, self.command("wineboot").arg("-i"), self.verbose)?;
        self.wait_server();
        if !self.dir.join("system.reg").is_file() {
            bail!(
                "wineboot finished but {} has no system.reg",
                self.dir.display()
            );
        }
        if self.ours {
            fs::write(self.dir.join(READY_MARKER), "created by cargo xtask\n")?;
        }
        Ok(())
    }

    fn kill_server(&self) {
        let _ = self
            .command("wineserver")
            .arg("-k")
            .stderr(Stdio::null())
            .status();
        self.wait_server();
    }

    fn wait_server(&self) {
        let _ = self.command("wineserver").arg("-w").status();
    }

    fn wine(&self, what: &str, args: &[&str]) -> Result<std::process::Output> {
        step::run(what, self.command("wine").args(args), self.verbose)
    }

    /// Puts the fixture in as winedevice's `ntoskrnl.exe` (Wine's own becomes `wntoskrnl.dll`).
    pub fn install_fixture(&self, fixture: &Path) -> Result<()> {
        let system32 = self.system32();
        fs::copy(WINE_NTOSKRNL, system32.join("wntoskrnl.dll"))
            .with_context(|| format!("copying Wine's {WINE_NTOSKRNL} (package wine64)"))?;
        fs::copy(fixture, system32.join("ntoskrnl.exe")).context("installing the fixture")?;
        self.wine(
            "installing the Wine ntoskrnl fixture for winedevice.exe",
            &[
                "reg",
                "add",
                r"HKCU\Software\Wine\AppDefaults\winedevice.exe\DllOverrides",
                "/v",
                "ntoskrnl.exe",
                "/d",
                "native,builtin",
                "/f",
            ],
        )?;
        Ok(())
    }

    /// Copies the driver to `system32\drivers` and (re)creates its service, replacing a stale one.
    pub fn install_driver(&self, driver: &Path) -> Result<()> {
        let drivers = self.system32().join("drivers");
        fs::create_dir_all(&drivers)?;
        fs::copy(driver, drivers.join("LookasideList.sys")).context("copying the driver")?;
        // A service left by an earlier run (maybe with another binPath) is replaced.
        let _ = step::capture(self.command("wine").args(["sc", "delete", SERVICE]));
        self.wine(
            r"sc create LookasideList type= kernel binPath= C:\windows\system32\drivers\LookasideList.sys",
            &[
                "sc",
                "create",
                SERVICE,
                "type=",
                "kernel",
                "binPath=",
                r"C:\windows\system32\drivers\LookasideList.sys",
            ],
        )?;
        Ok(())
    }

    /// Everything a load needs: the prefix, the fixture, the driver and its service.
    pub fn prepare(&self, artifacts: &Artifacts) -> Result<()> {
        self.ensure()?;
        self.install_fixture(&artifacts.fixture)?;
        self.install_driver(&artifacts.driver)
    }

    /// Replaces the service's `Parameters` key with exactly these values (none: no key).
    pub fn set_parameters(&self, parameters: &[(String, Value)]) -> Result<()> {
        let mut reg =
            format!("Windows Registry Editor Version 5.00\r\n\r\n[-{PARAMETERS_KEY}]\r\n");
        if !parameters.is_empty() {
            let _ = write!(reg, "\r\n[{PARAMETERS_KEY}]\r\n");
            for (name, value) in parameters {
                let _ = match value {
                    Value::Dword(n) => write!(reg, "\"{name}\"=dword:{n:08x}\r\n"),
                    Value::String(text) => write!(reg, "\"{name}\"=\"{text}\"\r\n"),
                };
            }
        }
        let file = self.dir.join("lookasidelist-parameters.reg");
        fs::write(&file, reg)?;
        let listed: Vec<String> = parameters
            .iter()
            .map(|(name, value)| match value {
                Value::Dword(n) => format!("{name}={n}"),
                Value::String(text) => format!("{name}=\"{text}\""),
            })
            .collect();
        let what = if listed.is_empty() {
            "no driver parameters (the seed's behaviour)".to_owned()
        } else {
            format!("driver parameters: {}", listed.join(" "))
        };
        let windows_path = format!("Z:{}", file.display()).replace('/', "\\");
        step::run(
            &what,
            self.command("wine").args(["reg", "import", &windows_path]),
            self.verbose,
        )?;
        Ok(())
    }

    /// `sc start LookasideList` on a fresh wineserver, capturing Wine's debug output.
    pub fn start(&self) -> Result<Load> {
        // The driver's output goes to the stderr of whichever wine command starts the server,
        // so it must be this one.
        self.kill_server();
        step::progress("sc start LookasideList");
        let mut child = self
            .command("wine")
            .args(["sc", "start", SERVICE])
            .env(
                "WINEDEBUG",
                "-all,+debugstr,err+ntoskrnl,err+sc,err+seh,err+module",
            )
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .context("starting `wine sc start`")?;
        let output = Arc::new(Mutex::new(Vec::new()));
        let reader = {
            let mut stderr = child.stderr.take().expect("piped");
            let output = Arc::clone(&output);
            std::thread::spawn(move || {
                let mut chunk = [0; 4096];
                while let Ok(n @ 1..) = std::io::Read::read(&mut stderr, &mut chunk) {
                    output
                        .lock()
                        .expect("output")
                        .extend_from_slice(&chunk[..n]);
                }
            })
        };
        let text = || String::from_utf8_lossy(&output.lock().expect("output")).into_owned();
        let started = Instant::now();
        let exit = loop {
            if let Some(status) = child.try_wait()? {
                break status;
            }
            if started.elapsed() > START_TIMEOUT {
                let _ = child.kill();
                self.kill_server();
                bail!("`sc start` did not finish in {} s", START_TIMEOUT.as_secs());
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        // The fixture prints its final pool balance when the driver's winedevice exits, a
        // moment after `sc start` has returned: wait for it before stopping the server.
        let waiting = Instant::now();
        while waiting.elapsed() < EXIT_TIMEOUT && !has_final_balance(&text()) {
            std::thread::sleep(Duration::from_millis(20));
        }
        self.kill_server();
        let _ = reader.join();
        let raw = text();
        if self.verbose {
            eprint!("{raw}");
        }
        let mut load = parse(&raw);
        load.started = exit.success();
        if raw.contains("LookasideList: Leaving DriverEntry") && !has_final_balance(&raw) {
            // Without it, the last balance seen is the one printed at list deletion, before
            // the control block was freed: a leak check on it would blame the driver.
            load.problems.push(format!(
                "the fixture's pool balance at winedevice's exit did not arrive within {} s of `sc start` returning",
                EXIT_TIMEOUT.as_secs()
            ));
        }
        Ok(load)
    }
}

/// Whether the fixture's process-exit balance has arrived (a balance after DriverEntry left).
fn has_final_balance(raw: &str) -> bool {
    raw.split_once("LookasideList: Leaving DriverEntry")
        .is_some_and(|(_, after)| after.contains("ntoskrnl-fixture: pool balance: "))
}

/// Splits Wine's debug output into the driver's lines, the fixture's lines, the status and
/// any trouble.
pub fn parse(raw: &str) -> Load {
    const DBGPRINT: &str = ":warn:debugstr:vDbgPrintExWithPrefix ";
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
            if let Some(code) = line.split("ZwLoadDriver failed to create driver").nth(1) {
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
    for line in text.lines() {
        match line.strip_prefix("ntoskrnl-fixture: ") {
            Some(rest) => fixture.push(rest.to_owned()),
            None => transcript.push(line.to_owned()),
        }
    }
    Load {
        transcript,
        fixture,
        status,
        started: false,
        problems,
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

/// The main job: build, load, print the transcript like DebugView and the decoded status.
pub fn run_main_job(options: &Options) -> Result<()> {
    packages::ensure(&[packages::BUILD, packages::WINE], options.verbose)?;
    let artifacts = build::all(options)?;
    let prefix = Prefix::locate(options);
    prefix.prepare(&artifacts)?;
    prefix.set_parameters(&options.parameters)?;
    let load = prefix.start()?;
    println!();
    for line in &load.transcript {
        println!("{line}");
    }
    if !load.fixture.is_empty() {
        eprintln!("\nWine fixture (leak accounting, not driver output):");
        for line in &load.fixture {
            eprintln!("  {line}");
        }
    }
    for problem in &load.problems {
        eprintln!("wine: {problem}");
    }
    println!();
    load.as_designed()?;
    println!(
        "DriverEntry returned {} — expected: the driver unloads itself",
        describe(STATUS_DEVICE_CONFIGURATION_ERROR)
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{Prefix, READY_MARKER, has_final_balance, parse};
    use std::fs;

    #[test]
    fn a_half_created_prefix_of_ours_is_not_usable_until_marked() {
        let dir = std::env::temp_dir().join(format!("xtask-prefix-test-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        let prefix = Prefix {
            dir: dir.clone(),
            ours: true,
            verbose: false,
        };
        assert!(!prefix.usable(), "missing");
        fs::create_dir_all(dir.join("drive_c/windows/system32")).unwrap();
        fs::write(dir.join("system.reg"), "").unwrap();
        fs::write(dir.join("drive_c/windows/system32/ntoskrnl.exe"), "").unwrap();
        assert!(!prefix.usable(), "wineboot was interrupted: no marker");
        fs::write(dir.join(READY_MARKER), "").unwrap();
        assert!(prefix.usable());
        let theirs = Prefix {
            ours: false,
            ..prefix
        };
        fs::remove_file(dir.join(READY_MARKER)).unwrap();
        assert!(theirs.usable(), "a user's prefix needs no marker");
        fs::remove_file(dir.join("system.reg")).unwrap();
        assert!(!theirs.usable());
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn parses_wines_debug_output_back_into_the_drivers_lines() {
        let raw = "\
0118:warn:debugstr:vDbgPrintExWithPrefix 00000000:00000001: \n\
LookasideList: Entering DriverEntry\n\
0118:warn:debugstr:vDbgPrintExWithPrefix 00000000:00000001: ntoskrnl-fixture: pool balance: 1 allocated, 0 freed, 1 outstanding\n\
0118:warn:debugstr:vDbgPrintExWithPrefix 00000000:00000001: LookasideList: Doubly linked list is empty\n\
\n\
0118:warn:debugstr:vDbgPrintExWithPrefix 00000000:00000001: LookasideList: Leaving DriverEntry\n\
0118:err:ntoskrnl:ZwLoadDriver failed to create driver L\"\\\\Registry\\\\Machine\\\\System\\\\CurrentControlSet\\\\Services\\\\LookasideList\": c0000182\n\
0108:err:sc:wmain failed to start service 87\n\
0114:warn:debugstr:vDbgPrintExWithPrefix 00000000:00000001: ntoskrnl-fixture: pool balance: 1 allocated, 1 freed, 0 outstanding\n";
        let load = parse(raw);
        assert_eq!(
            load.transcript,
            [
                "",
                "LookasideList: Entering DriverEntry",
                "LookasideList: Doubly linked list is empty",
                "",
                "LookasideList: Leaving DriverEntry"
            ]
        );
        assert_eq!(load.fixture.len(), 2);
        assert_eq!(load.status, Some(0xC000_0182));
        assert!(load.problems.is_empty());
        assert!(has_final_balance(raw));
        let crash =
            parse("wine: Call from 0001 to unimplemented function ntoskrnl.exe.Foo, aborting\n");
        assert_eq!(crash.problems.len(), 1);
        assert_eq!(crash.status, None);
    }
}

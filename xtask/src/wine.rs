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
/// Marks a folder this tool started to make a prefix in: only such a folder is ever removed.
const CREATING_MARKER: &str = ".lookasidelist-prefix-creating";
/// The project's own variable for where its prefix lives (default: `target/wine`).
pub const PREFIX_VARIABLE: &str = "LOOKASIDELIST_WINEPREFIX";
const START_TIMEOUT: Duration = Duration::from_mins(2);
/// How long to wait for the driver's winedevice to exit after `sc start` has returned.
/// (Seconds on a quiet machine; a loaded one has been seen to need more than ten.)
const EXIT_TIMEOUT: Duration = Duration::from_secs(30);
const PARAMETERS_KEY: &str =
    r"HKEY_LOCAL_MACHINE\System\CurrentControlSet\Services\LookasideList\Parameters";

/// The project's own Wine prefix: `target/wine`, or where `LOOKASIDELIST_WINEPREFIX` puts it.
///
/// It is the project's alone: the fixture replaces its `ntoskrnl.exe` and adds a DLL override,
/// so a prefix the project did not make (`$WINEPREFIX`, a user's own) is never used, nor
/// changed.
pub struct Prefix {
    dir: PathBuf,
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
    /// The run's verdict, from everything it showed: `Ok` when `DriverEntry` returned
    /// `STATUS_DEVICE_CONFIGURATION_ERROR` (so the driver did not stay loaded), every pool block
    /// was back when the driver's process ended (the fixture's exact balance), fault injection,
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
            (None, false) => bail!(
                "Wine did not report DriverEntry's status: the driver's winedevice.exe ended without a word (rerun with --verbose for Wine's own output)"
            ),
        }
        let balance = self
            .final_balance()
            .context("the fixture reported no pool balance when the driver's process ended")?;
        if !balance.ends_with(" 0 outstanding") {
            bail!("pool blocks leaked: {balance}");
        }
        if let Some(line) = self.transcript.iter().find(|line| {
            line.contains("Fault injection: block allocation #") && line.contains("never happened")
        }) {
            bail!(
                "fault injection was asked for but never happened: {}",
                line.trim()
            );
        }
        Ok(())
    }

    /// The fixture's pool balance when the driver's process ended: the last one it printed.
    pub fn final_balance(&self) -> Option<&str> {
        self.fixture
            .iter()
            .rev()
            .find_map(|line| line.strip_prefix("pool balance: ").map(|_| line.as_str()))
    }
}

impl Prefix {
    /// The prefix's folder; says once on stderr that a `$WINEPREFIX` is left alone.
    pub fn locate(options: &Options) -> Result<Self> {
        let dir = match std::env::var_os(PREFIX_VARIABLE) {
            Some(dir) if !dir.is_empty() => absolute_dir(Path::new(&dir))
                .with_context(|| format!("{PREFIX_VARIABLE}={}", dir.display()))?,
            _ => build::root().join("target/wine"),
        };
        if let Some(theirs) = std::env::var_os("WINEPREFIX").filter(|dir| !dir.is_empty()) {
            step::progress(&format!(
                "WINEPREFIX={} is left as it is: the driver runs in this project's own prefix, {} ({PREFIX_VARIABLE} moves it)",
                theirs.display(),
                dir.display()
            ));
        }
        Ok(Self {
            dir,
            verbose: options.verbose,
        })
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
            && self.dir.join(READY_MARKER).is_file()
    }

    /// Whether the folder is one this tool made a prefix in (finished or not).
    fn made_here(&self) -> bool {
        self.dir.join(READY_MARKER).is_file() || self.dir.join(CREATING_MARKER).is_file()
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
        let empty = fs::read_dir(&self.dir).map_or(true, |mut entries| entries.next().is_none());
        if self.dir.exists() && !empty {
            if !self.made_here() {
                bail!(
                    "{} is not a Wine prefix this project made, and not empty: {PREFIX_VARIABLE} must name a new or empty folder (the project changes its prefix's kernel), or be unset for target/wine",
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
        fs::write(
            self.dir.join(CREATING_MARKER),
            "being created by cargo xtask\n",
        )?;
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
        fs::write(self.dir.join(READY_MARKER), "created by cargo xtask\n")?;
        fs::remove_file(self.dir.join(CREATING_MARKER))?;
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

    /// Replaces the service's `Parameters` key with exactly these values (none: no key), then
    /// reads the key back: a value that did not arrive as given stops the run.
    pub fn set_parameters(&self, parameters: &[(String, Value)]) -> Result<()> {
        let file = self.dir.join("lookasidelist-parameters.reg");
        fs::write(&file, reg_file(parameters)?)?;
        let listed: Vec<String> = parameters
            .iter()
            .map(|(name, value)| match value {
                Value::Dword(n) => format!("{name}={n}"),
                Value::String(text) => format!("{name}={text:?}"),
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
        if parameters.is_empty() {
            return Ok(());
        }
        let query = step::capture(self.command("wine").args(["reg", "query", PARAMETERS_KEY]))?;
        check_arrived(parameters, &String::from_utf8_lossy(&query.stdout))
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

/// `dir` made absolute: `~` and `~/...` from `$HOME`, a relative path from the current folder.
fn absolute_dir(dir: &Path) -> Result<PathBuf> {
    let text = dir.to_string_lossy();
    let expanded = match text.strip_prefix('~') {
        Some(rest) if rest.is_empty() || rest.starts_with('/') => {
            let home = std::env::var_os("HOME").context("~ needs $HOME")?;
            PathBuf::from(home).join(rest.trim_start_matches('/'))
        }
        _ => dir.to_path_buf(),
    };
    Ok(std::path::absolute(expanded)?)
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

/// The `.reg` file that replaces the `Parameters` key with `parameters`: names and strings
/// quoted and escaped as the format wants (`\\` and `\"`); a name or string with a control
/// character (a line break would end the entry) is refused.
pub fn reg_file(parameters: &[(String, Value)]) -> Result<String> {
    let mut reg = format!("Windows Registry Editor Version 5.00\r\n\r\n[-{PARAMETERS_KEY}]\r\n");
    if parameters.is_empty() {
        return Ok(reg);
    }
    let _ = write!(reg, "\r\n[{PARAMETERS_KEY}]\r\n");
    for (name, value) in parameters {
        let name = reg_string(name).with_context(|| format!("--param {name:?}: the name"))?;
        let _ = match value {
            Value::Dword(n) => write!(reg, "{name}=dword:{n:08x}\r\n"),
            Value::String(text) => {
                let text = reg_string(text)
                    .with_context(|| format!("--param {name}: the value {text:?}"))?;
                write!(reg, "{name}={text}\r\n")
            }
        };
    }
    Ok(reg)
}

/// `text` as a quoted `.reg` string.
fn reg_string(text: &str) -> Result<String> {
    if text.is_empty() {
        bail!("an empty name or value cannot be written");
    }
    if let Some(c) = text.chars().find(|c| c.is_control()) {
        bail!("it holds the control character {c:?}, which a .reg file cannot carry");
    }
    Ok(format!(
        "\"{}\"",
        text.replace('\\', "\\\\").replace('"', "\\\"")
    ))
}

/// Checks `wine reg query` output of the `Parameters` key against what was written: each
/// value there, with its type and data.
pub fn check_arrived(parameters: &[(String, Value)], query: &str) -> Result<()> {
    for (name, value) in parameters {
        let found = query.lines().find_map(|line| {
            let line = line.trim_start();
            let rest = line.strip_prefix(name.as_str())?;
            let rest = rest.strip_prefix("    ")?;
            rest.split_once("    ")
        });
        let Some((reg_type, data)) = found else {
            bail!(
                "the driver parameter {name} did not reach the registry (wine reg query shows no such value)"
            );
        };
        let arrived = match value {
            Value::Dword(n) => {
                reg_type == "REG_DWORD"
                    && data
                        .strip_prefix("0x")
                        .and_then(|hex| u32::from_str_radix(hex, 16).ok())
                        == Some(*n)
            }
            Value::String(text) => reg_type == "REG_SZ" && data == text,
        };
        if !arrived {
            bail!(
                "the driver parameter {name} reached the registry as {reg_type} {data:?}, not as given ({value:?})"
            );
        }
    }
    Ok(())
}

/// The main job: build, load, print the transcript like DebugView and the decoded status.
pub fn run_main_job(options: &Options) -> Result<()> {
    packages::ensure(&[packages::BUILD, packages::WINE], options.verbose)?;
    let artifacts = build::all(options)?;
    let prefix = Prefix::locate(options)?;
    prefix.prepare(&artifacts)?;
    prefix.set_parameters(&options.parameters)?;
    let load = prefix.start()?;
    println!();
    for line in &load.transcript {
        println!("{line}");
    }
    if !load.fixture.is_empty() {
        eprintln!(
            "\nWine fixture, not driver output: its exact count of what each list handed out and took back, and the pool balance when the driver's process ended:"
        );
        for line in &load.fixture {
            eprintln!("  {line}");
        }
    }
    for problem in &load.problems {
        eprintln!("wine: {problem}");
    }
    println!();
    load.verdict()?;
    println!(
        "DriverEntry returned {} — expected: the driver unloads itself; every pool block came back",
        describe(STATUS_DEVICE_CONFIGURATION_ERROR)
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{Prefix, READY_MARKER, check_arrived, has_final_balance, parse, reg_file};
    use crate::cli::Value;
    use std::fs;

    #[test]
    fn a_half_created_prefix_is_not_usable_until_marked_and_a_foreign_one_is_refused() {
        let dir = std::env::temp_dir().join(format!("xtask-prefix-test-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        let prefix = Prefix {
            dir: dir.clone(),
            verbose: false,
        };
        assert!(!prefix.usable(), "missing");
        fs::create_dir_all(dir.join("drive_c/windows/system32")).unwrap();
        fs::write(dir.join("system.reg"), "").unwrap();
        fs::write(dir.join("drive_c/windows/system32/ntoskrnl.exe"), "").unwrap();
        assert!(!prefix.usable(), "no marker: not a finished prefix of ours");
        // A prefix this project did not make (a user's own) is refused, and left as it was.
        let error = prefix.ensure().unwrap_err().to_string();
        assert!(
            error.contains("not a Wine prefix this project made"),
            "{error}"
        );
        assert!(dir.join("system.reg").is_file(), "untouched");
        fs::write(dir.join(READY_MARKER), "").unwrap();
        assert!(prefix.usable());
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_prefix_folder_is_made_absolute() {
        let home = std::path::PathBuf::from(std::env::var_os("HOME").unwrap());
        assert_eq!(
            super::absolute_dir(std::path::Path::new("~/wp")).unwrap(),
            home.join("wp")
        );
        let relative = super::absolute_dir(std::path::Path::new("relwp")).unwrap();
        assert_eq!(relative, std::env::current_dir().unwrap().join("relwp"));
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

    #[test]
    fn parameters_are_escaped_for_the_reg_format_and_checked_on_arrival() {
        let parameters = vec![
            ("ListType".to_owned(), Value::String(r#"a"b\c"#.to_owned())),
            ("StressThreads".to_owned(), Value::Dword(2)),
        ];
        let reg = reg_file(&parameters).unwrap();
        assert!(reg.contains("\"ListType\"=\"a\\\"b\\\\c\"\r\n"), "{reg}");
        assert!(
            reg.contains("\"StressThreads\"=dword:00000002\r\n"),
            "{reg}"
        );
        let line_break = vec![("ListType".to_owned(), Value::String("a\nb".to_owned()))];
        assert!(reg_file(&line_break).is_err());
        // `wine reg query` as it prints the key.
        let query = "\r\nHKEY_LOCAL_MACHINE\\System\\CurrentControlSet\\Services\\LookasideList\\Parameters\r\n    ListType    REG_SZ    a\"b\\c\r\n    StressThreads    REG_DWORD    0x2\r\n\r\n";
        check_arrived(&parameters, query).unwrap();
        let lost = "    StressThreads    REG_DWORD    0x2\r\n";
        let error = check_arrived(&parameters, lost).unwrap_err().to_string();
        assert!(
            error.contains("ListType did not reach the registry"),
            "{error}"
        );
        let changed = "    ListType    REG_SZ    ab\r\n    StressThreads    REG_DWORD    0x2\r\n";
        let error = check_arrived(&parameters, changed).unwrap_err().to_string();
        assert!(error.contains("not as given"), "{error}");
    }

    /// Wine's output of a load: the driver's lines, the fixture's, the status, and more.
    fn captured(driver: &[&str], balance: &str, status: &str, extra: &str) -> String {
        use std::fmt::Write as _;
        let mut raw = String::new();
        for line in driver {
            let _ = writeln!(
                raw,
                "0118:warn:debugstr:vDbgPrintExWithPrefix 00000000:00000001: {line}"
            );
        }
        let _ = write!(
            raw,
            "0118:err:ntoskrnl:ZwLoadDriver failed to create driver L\"x\": {status}\n{extra}"
        );
        let _ = writeln!(
            raw,
            "0114:warn:debugstr:vDbgPrintExWithPrefix 00000000:00000001: ntoskrnl-fixture: pool balance: {balance}"
        );
        raw
    }

    #[test]
    fn the_verdict_fails_for_each_reason_with_one_line() {
        let story = [
            "LookasideList: Entering DriverEntry",
            "LookasideList: Leaving DriverEntry",
        ];
        let clean = "7 allocated, 7 freed, 0 outstanding";
        assert!(
            parse(&captured(&story, clean, "c0000182", ""))
                .verdict()
                .is_ok()
        );
        let verdict = |raw: String| parse(&raw).verdict().unwrap_err().to_string();
        let status = verdict(captured(&story, clean, "c000009a", ""));
        assert!(
            status.contains("DriverEntry returned 0xC000009A"),
            "{status}"
        );
        let leak = verdict(captured(
            &story,
            "7 allocated, 6 freed, 1 outstanding",
            "c0000182",
            "",
        ));
        assert!(leak.starts_with("pool blocks leaked: "), "{leak}");
        let crash = verdict(captured(
            &story,
            clean,
            "c0000182",
            "wine: Call from 0001 to unimplemented function ntoskrnl.exe.Foo, aborting\n",
        ));
        assert!(crash.starts_with("Wine reported trouble"), "{crash}");
        let missed = [
            "LookasideList: Entering DriverEntry",
            "LookasideList:   Fault injection: block allocation #11 never happened (the run made 10)",
            "LookasideList: Leaving DriverEntry",
        ];
        let missed = verdict(captured(&missed, clean, "c0000182", ""));
        assert!(missed.contains("never happened"), "{missed}");
        for error in [status, leak, crash, missed] {
            assert!(!error.contains('\n'), "one line: {error}");
        }
    }
}

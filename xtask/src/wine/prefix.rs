//! The project's own Wine prefix: where it is, making it, and putting the fixture, the driver
//! and its service in.

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail};

use crate::build::Artifacts;
use crate::debian::WINE_NTOSKRNL;
use crate::options::Options;
use crate::workspace;
use crate::{interrupt, process};

/// The driver's service name.
pub const SERVICE: &str = "LookasideList";
/// Wine's programs the tool runs, by their full Windows path: given a bare name (`wine reg`),
/// Wine starts them through start.exe and `ShellExecuteEx`, which, as a new wineserver comes up
/// on a busy machine, now and then fails (`ShellExecuteEx failed: Internal error`) before the
/// program ran at all.
pub const REG: &str = r"C:\windows\system32\reg.exe";
/// `sc.exe`, as [`REG`].
pub const SC: &str = r"C:\windows\system32\sc.exe";
/// `rundll32.exe`, as [`REG`].
pub const RUNDLL32: &str = r"C:\windows\system32\rundll32.exe";
/// services.exe's start limit, in milliseconds: the largest it parses (a 32-bit `long`), about
/// 24 days, so that the tool's limit always comes first.
const SERVICES_PIPE_TIMEOUT_MS: &str = "2147483647";
/// Where Wine keeps its devices.
const ENUM_KEY: &str = r"HKEY_LOCAL_MACHINE\System\CurrentControlSet\Enum";
/// Wine's root-enumerated devices that load a bus driver at every boot (wine.inf installs them).
const WINE_ROOT_DEVICES: [&str; 2] = [r"ROOT\WINE\WINEBUS", r"ROOT\WINE\WINEUSB"];
/// The header `reg import` expects of a `.reg` file, with the blank line that ends it.
pub const REG_FILE_HEADER: &str = "Windows Registry Editor Version 5.00\r\n\r\n";
/// Marks a prefix this tool finished creating (a half-created one lacks it).
const READY_MARKER: &str = ".lookasidelist-prefix-ready";
/// Marks a folder this tool started to make a prefix in: only such a folder is ever removed.
const CREATING_MARKER: &str = ".lookasidelist-prefix-creating";
/// The project's own variable for where its prefix lives (default: `target/wine`).
pub const PREFIX_VARIABLE: &str = "LOOKASIDELIST_WINEPREFIX";

/// The project's own Wine prefix: `target/wine`, or where `LOOKASIDELIST_WINEPREFIX` puts it.
///
/// It is the project's alone: the fixture replaces its `ntoskrnl.exe` and adds a DLL override,
/// so a prefix the project did not make (`$WINEPREFIX`, a user's own) is never used, nor
/// changed.
pub struct Prefix {
    dir: PathBuf,
    verbose: bool,
}

impl Prefix {
    /// The processes whose environment names `dir` as their `WINEPREFIX`: pid and command.
    pub fn processes(&self) -> Vec<String> {
        self.process_entries()
            .into_iter()
            .map(|(pid, command)| format!("{pid} {command}"))
            .collect()
    }

    /// What each of the prefix's processes was doing, for a kept log: where its stderr went,
    /// and each thread's name, state and kernel wait channel (Linux's `/proc/<pid>/task`).
    pub fn process_report(&self) -> String {
        let mut report = String::new();
        for (pid, command) in self.process_entries() {
            let proc = Path::new("/proc").join(&pid);
            let stderr = fs::read_link(proc.join("fd/2")).map_or_else(
                |error| error.to_string(),
                |target| target.display().to_string(),
            );
            let _ = writeln!(report, "{pid} {command} (stderr: {stderr})");
            let Ok(tasks) = fs::read_dir(proc.join("task")) else {
                continue;
            };
            for task in tasks.flatten() {
                let read =
                    |name: &str| fs::read_to_string(task.path().join(name)).unwrap_or_default();
                // stat: "tid (comm) state ...".
                let stat = read("stat");
                let state = stat
                    .rsplit(") ")
                    .next()
                    .and_then(|rest| rest.split(' ').next());
                let _ = writeln!(
                    report,
                    "    thread {} {}: {} in {}",
                    task.file_name().to_string_lossy(),
                    read("comm").trim(),
                    state.unwrap_or("?"),
                    read("wchan").trim()
                );
            }
        }
        report
    }

    fn process_entries(&self) -> Vec<(String, String)> {
        let wanted = format!("WINEPREFIX={}", self.dir().display());
        let Ok(entries) = fs::read_dir("/proc") else {
            return Vec::new();
        };
        entries
            .flatten()
            .filter(|entry| {
                entry
                    .file_name()
                    .to_string_lossy()
                    .bytes()
                    .all(|b| b.is_ascii_digit())
            })
            .filter_map(|entry| {
                let environ = fs::read(entry.path().join("environ")).ok()?;
                environ
                    .split(|&b| b == 0)
                    .any(|var| var == wanted.as_bytes())
                    .then(|| {
                        let command = fs::read(entry.path().join("cmdline")).unwrap_or_default();
                        (
                            entry.file_name().to_string_lossy().into_owned(),
                            String::from_utf8_lossy(&command)
                                .replace('\0', " ")
                                .trim()
                                .to_owned(),
                        )
                    })
            })
            .collect()
    }

    /// If the run was interrupted (Ctrl-C, SIGTERM): stops every Wine process of the prefix,
    /// says so, exits 130.
    pub fn stop_if_interrupted(&self) {
        if interrupt::requested() {
            self.kill_server();
            eprintln!(
                "interrupted: stopped every Wine process of the prefix {}",
                self.dir().display()
            );
            std::process::exit(interrupt::EXIT_STATUS);
        }
    }

    /// The prefix's folder; says once on stderr that a `$WINEPREFIX` is left alone.
    pub fn locate(options: &Options) -> Result<Self> {
        let dir = match std::env::var_os(PREFIX_VARIABLE) {
            Some(dir) if !dir.is_empty() => absolute_dir(Path::new(&dir))
                .with_context(|| format!("{PREFIX_VARIABLE}={}", dir.display()))?,
            _ => workspace::root().join("target/wine"),
        };
        if let Some(theirs) = std::env::var_os("WINEPREFIX").filter(|dir| !dir.is_empty()) {
            process::progress(&format!(
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

    /// Whether Wine's own output is shown.
    pub const fn verbose(&self) -> bool {
        self.verbose
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
            process::progress(&format!(
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
            "creating the Wine prefix {} (first run only, ~15 s)",
            self.dir.display()
        );
        process::run(&what, self.command("wineboot").arg("-i"), self.verbose)?;
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

    /// Stops the prefix's wineserver and, with it, every Wine process of the prefix.
    pub fn kill_server(&self) {
        let _ = self
            .command("wineserver")
            .arg("-k")
            .stderr(Stdio::null())
            .status();
        self.wait_server();
    }

    /// Stops the prefix's wineserver and starts a new one for the next Wine commands,
    /// persistent (`-p`), its output appended to `log` (or dropped): it runs until the
    /// returned [`Server`] is dropped, which stops it (and saves the registry).
    ///
    /// Persistent, because a wineserver that a Wine command starts by itself (Debian's
    /// `wineserver` wrapper passes `-p0`) begins to shut down as soon as no user process is
    /// left: it tells services.exe and winedevice.exe to exit, takes no new client, and kills
    /// what is left two seconds later. A command that arrives then, such as `sc start` right
    /// after `reg query` exited, joins a session that is ending (docs/linux.md, "Why loads
    /// failed now and then").
    pub fn start_server(&self, log: Option<&Path>) -> Result<Server<'_>> {
        self.kill_server();
        let output = match log {
            Some(log) => Stdio::from(append_to(log)?),
            None => Stdio::null(),
        };
        // It returns once the server is listening.
        let status = self
            .command("wineserver")
            .arg("-p")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(output)
            .status()
            .context("starting `wineserver -p`")?;
        if !status.success() {
            bail!("`wineserver -p` could not start a wineserver for the prefix ({status})");
        }
        Ok(Server { prefix: self })
    }

    fn wait_server(&self) {
        let _ = self.command("wineserver").arg("-w").status();
    }

    fn wine(&self, what: &str, args: &[&str]) -> Result<std::process::Output> {
        process::run(what, self.command("wine").args(args), self.verbose)
    }

    /// Puts the fixture in as winedevice's `ntoskrnl.exe` (Wine's own becomes `wntoskrnl.dll`).
    pub fn install_fixture(&self, fixture: &Path) -> Result<()> {
        let system32 = self.system32();
        fs::copy(WINE_NTOSKRNL, system32.join("wntoskrnl.dll"))
            .with_context(|| format!("copying Wine's {WINE_NTOSKRNL} (package wine64)"))?;
        fs::copy(fixture, system32.join("ntoskrnl.exe")).context("installing the fixture")?;
        let _server = self.start_server(None)?;
        // Wine's services.exe gives a starting service 10 s by default, then reports it failed
        // with the driver still running; the tool's own limit, which follows the run's
        // parameters, is the one that should end a run. services.exe reads the value (Wine 8:
        // as a REG_SZ of digits, where Windows keeps a REG_DWORD) once, when it starts: every
        // load starts a wineserver of its own, so every load's services.exe sees this.
        self.wine(
            "lifting services.exe's 10 s start limit (ServicesPipeTimeout)",
            &[
                REG,
                "add",
                r"HKLM\System\CurrentControlSet\Control",
                "/v",
                "ServicesPipeTimeout",
                "/t",
                "REG_SZ",
                "/d",
                SERVICES_PIPE_TIMEOUT_MS,
                "/f",
            ],
        )?;
        // Wine 8 loads its root-enumerated PnP buses (winebus, wineusb) at every boot and races
        // there: winedevice.exe may enumerate a bus's root device before its main thread has
        // created the PnP manager's driver object, and `IoCreateDevice` dereferences NULL
        // (docs/linux.md, "Why loads failed now and then"). LookasideList is a legacy driver and
        // needs no bus: without the two root devices (recreated only if wineboot updates the
        // prefix) nothing loads them.
        let file = self.dir().join("lookasidelist-prefix.reg");
        let mut reg = String::from(REG_FILE_HEADER);
        for device in WINE_ROOT_DEVICES {
            let _ = write!(reg, "[-{ENUM_KEY}\\{device}]\r\n");
        }
        fs::write(&file, reg)?;
        self.wine(
            "removing Wine's root-enumerated PnP buses (winebus, wineusb) from the prefix",
            &[REG, "import", &z_path(&file)],
        )?;
        self.wine(
            "installing the Wine ntoskrnl fixture for winedevice.exe",
            &[
                REG,
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
        let _server = self.start_server(None)?;
        // A service left by an earlier run (maybe with another binPath) is replaced.
        let _ = process::capture(self.command("wine").args([SC, "delete", SERVICE]));
        self.wine(
            r"sc create LookasideList type= kernel binPath= C:\windows\system32\drivers\LookasideList.sys",
            &[
                SC,
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
}

/// A wineserver [`Prefix::start_server`] started; dropping it stops it, with every Wine process
/// of the prefix, whatever the commands run in it did.
pub struct Server<'a> {
    prefix: &'a Prefix,
}

impl Drop for Server<'_> {
    fn drop(&mut self) {
        self.prefix.kill_server();
    }
}

/// `log` opened for appending, as every writer of a load's log opens it, so that none
/// overwrites another's lines.
pub fn append_to(log: &Path) -> Result<fs::File> {
    fs::OpenOptions::new()
        .append(true)
        .open(log)
        .with_context(|| format!("opening {}", log.display()))
}

/// `path` as Wine sees it through its `Z:` drive, which maps `/`.
pub fn z_path(path: &Path) -> String {
    format!("Z:{}", path.display()).replace('/', "\\")
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

#[cfg(test)]
mod tests {
    use std::fs;

    use super::{Prefix, READY_MARKER};

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
    fn the_process_report_names_a_process_of_the_prefix_its_stderr_and_threads() {
        let dir = std::env::temp_dir().join(format!("xtask-report-test-{}", std::process::id()));
        let prefix = Prefix {
            dir: dir.clone(),
            verbose: false,
        };
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .env("WINEPREFIX", &dir)
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let report = prefix.process_report();
        child.kill().unwrap();
        child.wait().unwrap();
        let pid = child.id().to_string();
        assert!(
            report.contains(&format!("{pid} sleep 30 (stderr: /dev/null)")),
            "{report}"
        );
        assert!(
            report.contains(&format!("    thread {pid} sleep: ")),
            "{report}"
        );
        assert!(
            !Prefix {
                dir: dir.join("other"),
                verbose: false
            }
            .process_report()
            .contains(&pid)
        );
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
}

//! `cargo xtask test`: every check the project has, each by name, ending with one
//! `N passed, N failed` line. `cargo xtask test --list` names them; `cargo xtask test FILTER`
//! runs those whose name contains FILTER (case does not matter): a host check alone takes
//! seconds, and a Wine check builds and loads only what it needs.
//!
//! The checks are declared in one list ([`checks`]), in the order they run: the host's
//! ([`host`]), the cross-build's and the package's ([`cross`]), Wine's ([`wine`]), and the
//! checks of `cargo xtask run` as people use it ([`ctrl_c_and_two_runs`]). What several
//! checks share (the cross-build, the package, the Wine session, the seed's load) is made once,
//! when the first selected check asks for it.

mod cross;
mod ctrl_c_and_two_runs;
mod host;
mod wine;

use std::cell::{OnceCell, Ref, RefCell};
use std::process::Command;

use anyhow::{Result, anyhow, bail};

use crate::build::{self, Artifacts};
use crate::driver_package::{self, Package};
use crate::options::Options;
use crate::wine::{Load, Session};
use crate::{debian, miri, process, workspace};

/// What a check needs before it runs; also the order of the groups.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Needs {
    /// Cargo on this machine.
    Host,
    /// The nightly toolchain's Miri.
    Miri,
    /// The cross-built drivers and fixture.
    CrossBuild,
    /// The signed driver package.
    Package,
    /// The Wine prefix, with the fixture and the driver in it.
    Wine,
    /// This tool itself, run as child processes (no session of ours may hold the prefix).
    Runs,
}

/// What a check does.
type Run = Box<dyn Fn(&Context<'_>) -> Result<()>>;

/// A named check.
pub struct Check {
    pub name: String,
    pub needs: Needs,
    run: Run,
}

impl Check {
    pub fn new(
        name: impl Into<String>,
        needs: Needs,
        run: impl Fn(&Context<'_>) -> Result<()> + 'static,
    ) -> Self {
        Self {
            name: name.into(),
            needs,
            run: Box::new(run),
        }
    }
}

/// Every check, in the order they run.
fn checks() -> Vec<Check> {
    let mut checks = host::checks();
    checks.extend(cross::checks());
    checks.extend(wine::checks());
    checks.extend(ctrl_c_and_two_runs::checks());
    checks
}

/// Every check's name, in order (the docs list them).
pub fn check_names() -> Vec<String> {
    checks().into_iter().map(|check| check.name).collect()
}

/// What the checks share, made once, when first asked for. A failure to make it is kept (as
/// text) and fails every check that needs it.
pub struct Context<'a> {
    pub options: &'a Options,
    artifacts: OnceCell<Result<Artifacts, String>>,
    package: OnceCell<Result<Package, String>>,
    session: RefCell<Option<Session>>,
    seed_load: OnceCell<Result<Load, String>>,
}

impl<'a> Context<'a> {
    const fn new(options: &'a Options) -> Self {
        Self {
            options,
            artifacts: OnceCell::new(),
            package: OnceCell::new(),
            session: RefCell::new(None),
            seed_load: OnceCell::new(),
        }
    }

    /// The cross-build's drivers and fixture.
    pub fn artifacts(&self) -> Result<&Artifacts> {
        self.artifacts
            .get_or_init(|| build::all(self.options).map_err(|error| format!("{error:#}")))
            .as_ref()
            .map_err(|error| anyhow!("the cross-build failed: {error}"))
    }

    /// The signed driver package.
    pub fn package(&self) -> Result<&Package> {
        let artifacts = self.artifacts()?;
        self.package
            .get_or_init(|| {
                driver_package::make(artifacts, self.options.verbose)
                    .map_err(|error| format!("{error:#}"))
            })
            .as_ref()
            .map_err(|error| anyhow!("the package could not be made: {error}"))
    }

    /// The Wine session (the prefix locked, the fixture and LookasideList.sys installed).
    pub fn session(&self) -> Result<Ref<'_, Session>> {
        if self.session.borrow().is_none() {
            let session = Session::open(self.options, self.artifacts()?)?;
            *self.session.borrow_mut() = Some(session);
        }
        Ok(Ref::map(self.session.borrow(), |session| {
            session.as_ref().expect("opened above")
        }))
    }

    /// Ends the Wine session: the prefix is free for child runs of this tool.
    fn close_session(&self) {
        self.session.borrow_mut().take();
    }

    /// The driver loaded once with no parameters: the seed's run, which several checks read.
    pub fn seed_load(&self) -> Result<&Load> {
        self.seed_load
            .get_or_init(|| {
                self.session()
                    .and_then(|session| session.load(&[]))
                    .map_err(|error| format!("{error:#}"))
            })
            .as_ref()
            .map_err(|error| anyhow!("loading the driver with sc.exe failed: {error}"))
    }
}

/// Named checks and their outcomes.
#[derive(Default)]
struct Tally {
    passed: Vec<String>,
    failed: Vec<(String, String)>,
}

impl Tally {
    fn record(&mut self, name: &str, outcome: Result<()>) {
        match outcome {
            Ok(()) => {
                eprintln!("    ok: {name}");
                self.passed.push(name.to_owned());
            }
            Err(error) => {
                eprintln!("    FAILED: {name}: {error:#}");
                self.failed.push((name.to_owned(), format!("{error:#}")));
            }
        }
    }
}

/// `cargo xtask test`: `--list` names the checks; otherwise runs those whose name contains
/// `filter` (all without one).
pub fn all(options: &Options, list: bool, filter: Option<&str>) -> Result<()> {
    let checks = checks();
    if list {
        for check in &checks {
            println!("{}", check.name);
        }
        return Ok(());
    }
    let selected: Vec<&Check> = match filter {
        Some(filter) => {
            let wanted = filter.to_lowercase();
            checks
                .iter()
                .filter(|check| check.name.to_lowercase().contains(&wanted))
                .collect()
        }
        None => checks.iter().collect(),
    };
    if selected.is_empty() {
        bail!(
            "no check's name contains {:?} (`cargo xtask test --list` names them)",
            filter.unwrap_or_default()
        );
    }
    let needs = |group: Needs| selected.iter().any(|check| check.needs == group);
    let mut packages = Vec::new();
    if selected
        .iter()
        .any(|check| check.needs >= Needs::CrossBuild)
    {
        packages.push(debian::BUILD);
    }
    if needs(Needs::Package) {
        packages.push(debian::PACKAGE);
    }
    if needs(Needs::Wine) || needs(Needs::Runs) {
        packages.extend([debian::WINE, debian::PACKAGE]);
    }
    debian::ensure(&packages, options.verbose)?;
    let miri = needs(Needs::Miri) && miri::ensure(options.verbose)?;
    let context = Context::new(options);
    let mut tally = Tally::default();
    for check in selected {
        match check.needs {
            // Where no nightly toolchain can be had, miri::ensure said so in one line.
            Needs::Miri if !miri => continue,
            Needs::Runs => context.close_session(),
            _ => {}
        }
        tally.record(&check.name, (check.run)(&context));
    }
    context.close_session();
    eprintln!();
    for (name, error) in &tally.failed {
        eprintln!("failed: {name}: {error}");
    }
    println!(
        "xtask: {} passed, {} failed",
        tally.passed.len(),
        tally.failed.len()
    );
    if tally.failed.is_empty() {
        Ok(())
    } else {
        bail!("{} check(s) failed", tally.failed.len())
    }
}

/// `cargo` (the one running this tool) in the workspace root.
pub fn cargo() -> Command {
    let mut command = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    command.current_dir(workspace::root());
    command
}

/// Runs a cargo subcommand with its output shown (test runners' summaries must reach the log).
pub fn cargo_shown(what: &str, args: &[&str]) -> Result<()> {
    process::progress(what);
    let status = cargo().args(args).status()?;
    if !status.success() {
        bail!("`cargo {}` failed ({status})", args.join(" "));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::checks;

    #[test]
    fn every_check_has_a_name_of_its_own_and_the_groups_run_in_order() {
        let checks = checks();
        let mut names: Vec<&str> = checks.iter().map(|check| check.name.as_str()).collect();
        assert!(checks.windows(2).all(|pair| pair[0].needs <= pair[1].needs));
        names.sort_unstable();
        let before = names.len();
        names.dedup();
        assert_eq!(names.len(), before, "two checks share a name");
    }
}

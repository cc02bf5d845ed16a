//! Loading LookasideList.sys in Wine with `sc.exe`, and reading back what it printed.
//!
//! Wine's `winedevice.exe` hosts kernel drivers and prints their `DbgPrint` output on its
//! `debugstr` channel. Wine 8 lacks the `Ex*LookasideListEx` routines, so winedevice loads the
//! test fixture in `wine/ntoskrnl` as its `ntoskrnl.exe`: it forwards everything else to Wine's
//! own kernel, renamed `wntoskrnl.dll`.
//!
//! A run's life cycle, in [`run_main_job`]: lock the prefix ([`lock`]), make the prefix
//! ([`prefix`]), install the fixture, the driver and its parameters ([`parameters`]), start
//! and watch the driver ([`load`]), judge the run, clean up (the watch stops the prefix's
//! wineserver; the lock goes with the [`Session`]).

pub mod inf_install;
mod load;
mod lock;
mod parameters;
mod prefix;

pub use load::{Load, STATUS_DEVICE_CONFIGURATION_ERROR, describe};
pub use parameters::run_limit;
pub use prefix::{PREFIX_VARIABLE, Prefix, REG, RUNDLL32, SC, SERVICE};

use anyhow::Result;

use crate::build::{self, Artifacts};
use crate::options::{Options, Value};
use crate::{debian, interrupt};
use lock::PrefixLock;

/// The project's prefix, held for one run (or a series of loads), ready to start the driver.
pub struct Session {
    prefix: Prefix,
    _lock: PrefixLock,
}

impl Session {
    /// Locks the prefix (waiting for another run), makes it if needed, and puts the fixture,
    /// the driver and its service in.
    pub fn open(options: &Options, artifacts: &Artifacts) -> Result<Self> {
        interrupt::install()?;
        let prefix = Prefix::locate(options)?;
        let lock = PrefixLock::acquire(prefix.dir())?;
        prefix.stop_if_interrupted();
        prefix.prepare(artifacts)?;
        prefix.stop_if_interrupted();
        Ok(Self {
            prefix,
            _lock: lock,
        })
    }

    /// The prefix.
    pub const fn prefix(&self) -> &Prefix {
        &self.prefix
    }

    /// Sets exactly these driver parameters and loads the driver once.
    pub fn load(&self, parameters: &[(String, Value)]) -> Result<Load> {
        // One wineserver for the whole load, started by the tool and ended by it: the
        // parameters' import boots Wine (services.exe, Wine's own drivers), then `sc start`
        // asks that services.exe for the driver (docs/linux.md, "When a load ends").
        let log = self.prefix.new_load_log()?;
        let server = self.prefix.start_server(Some(&log))?;
        self.prefix.set_parameters(parameters, &log)?;
        self.prefix.stop_if_interrupted();
        self.prefix.start(server, run_limit(parameters), &log)
    }
}

/// The main job: build, load, print the transcript like DebugView, judge the run.
pub fn run_main_job(options: &Options) -> Result<()> {
    debian::ensure(&[debian::BUILD, debian::WINE], options.verbose)?;
    let artifacts = build::all(options)?;
    let session = Session::open(options, &artifacts)?;
    let load = session.load(&options.parameters)?;
    load.print();
    load.verdict()?;
    println!(
        "DriverEntry returned {} — expected: the driver unloads itself; every pool block came back",
        describe(STATUS_DEVICE_CONFIGURATION_ERROR)
    );
    Ok(())
}

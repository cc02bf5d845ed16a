//! `cargo xtask`: the LookasideList commands for Linux.
//!
//! - `cargo xtask run`: build the driver and load it in Wine with `sc.exe`, printing the
//!   driver's `DbgPrint` transcript as DebugView shows it and the decoded `DriverEntry` status;
//! - `cargo xtask test`: every check (fmt, clippy, host tests, cross-build, PE checks, Wine
//!   end-to-end);
//! - `cargo xtask bench`: the driver's stress run in Wine, as a table of ns per pair;
//! - `cargo xtask package`: the signed driver package for a Windows test VM;
//! - `cargo xtask build`: only the cross-build of `LookasideList.sys` and the Wine fixture;
//! - `cargo xtask docs`: the generated blocks of the README and docs/ written anew.
//!
//! Each installs the Debian packages it needs when run as root, and otherwise says which.
//!
//! The modules depend one way: `main` and `cli` (the parsing) on the commands, the commands
//! (`build`, `wine`, `test`, `bench`, `driver_package`, `docs`) on the leaves (`options`,
//! `process`, `workspace`, `toolchain`…); no module reaches back up.

mod bench;
mod build;
mod cli;
mod debian;
mod docs;
mod driver_package;
mod fsutil;
mod inf;
mod interrupt;
mod kit;
mod linkmap;
mod miri;
mod options;
mod pe;
mod process;
mod test;
mod toolchain;
mod wdk_build_linux;
mod wine;
mod workspace;

use std::process::ExitCode;

fn main() -> ExitCode {
    let options = match cli::parse(std::env::args_os().skip(1)) {
        Ok(options) => options,
        Err(exit) => return exit,
    };
    let result = match &options.command {
        options::Command::Build => debian::ensure(&[debian::BUILD], options.verbose)
            .and_then(|()| build::all(&options))
            .map(|artifacts| {
                println!("{}", artifacts.driver.display());
            }),
        options::Command::Run => wine::run_main_job(&options),
        options::Command::Test { list, filter } => test::all(&options, *list, filter.as_deref()),
        options::Command::Bench { turns, soak } => bench::run(&options, *turns, *soak),
        options::Command::Package => driver_package::run(&options),
        options::Command::Docs => docs::write(&test::check_names()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

//! The command line, declared once with clap's derive. The driver parameters' flags are made
//! from the contract's table ([`lookaside_contract::parameters`]): their names, ranges, value
//! names and `--help` lines follow it, and a value the driver would clamp or ignore is refused
//! before the run, in one line.

use std::ffi::OsString;
use std::process::ExitCode;

use clap::builder::PossibleValuesParser;
use clap::error::ErrorKind;
use clap::{Arg, ArgAction, ArgMatches, Args, FromArgMatches, Parser, Subcommand};
use lookaside_contract::parameters::{self as table, Kind, Parameter};

use crate::bench;
use crate::options::{Command, Options, Value};

/// The LookasideList commands for Linux: the cross-build, Wine, the checks, the benchmark and
/// the signed package.
#[derive(Parser, Debug)]
#[command(
    name = "cargo xtask",
    bin_name = "cargo xtask",
    disable_help_subcommand = true
)]
struct Cli {
    #[command(subcommand)]
    command: CliCommand,
    /// Show the build tools' and Wine's own output.
    #[arg(long, short, global = true)]
    verbose: bool,
}

#[derive(Subcommand, Debug)]
enum CliCommand {
    /// Build LookasideList.sys, load it in Wine with sc.exe, print its DbgPrint transcript.
    ///
    /// The transcript is printed as DebugView shows it, then DriverEntry's status and the
    /// run's verdict (status, crashes, the fixture's exact block and pool balances).
    Run(DriverParams),
    /// Run every check (or those a FILTER names), ending with `N passed, N failed`.
    ///
    /// fmt, clippy, the host and doc tests, Miri, the library's docs and package, a CRLF
    /// checkout, the cross-build (LTO, PE checks, linker maps), the signed package, the Wine
    /// end-to-end tests and the usage checks (two runs at once, Ctrl-C).
    Test {
        /// Name every check instead of running them.
        #[arg(long)]
        list: bool,
        /// Run only the checks whose name contains this text (case does not matter).
        filter: Option<String>,
    },
    /// Time the driver's stress run in Wine: a table of ns per alloc+free pair.
    ///
    /// Each row (list mode, API path, threads) is measured several turns: the floor (a bare
    /// SList), the lookaside list, the pool. The table is printed and written to
    /// target/bench/latest.json. Without the flags below it measures both list modes, both
    /// API paths, and 1 and 2 threads.
    Bench {
        #[command(flatten)]
        parameters: DriverParams,
        /// Measure every row N times, the turns interleaved.
        #[arg(long, value_name = "N", default_value_t = bench::DEFAULT_TURNS, value_parser = number_in(1, 100))]
        turns: u32,
        /// Run the bench's sequence of loads N times in a row and judge every load, timing
        /// nothing: a soak of the Wine path.
        #[arg(long, value_name = "N", value_parser = number_in(1, 1_000_000))]
        soak: Option<u32>,
    },
    /// Make the signed driver package for a test VM, in target/package/LookasideList.
    ///
    /// The .sys signed (Authenticode, SHA-256, page hashes) with a test certificate, the
    /// stamped .inf and the certificate's .cer.
    Package,
    /// Cross-build LookasideList.sys, the example driver and the Wine fixture only.
    Build,
    /// Write the docs' generated blocks anew from the code (the check is `test docs`).
    Docs,
}

/// The driver's parameters, one flag each from the contract's table, and `--param`.
#[derive(Clone, Debug, Default)]
struct DriverParams {
    /// In the order given.
    values: Vec<(String, Value)>,
    /// Every `--threads` value (a comma list for `bench`).
    threads: Vec<u32>,
}

/// A parameter's flag without its dashes (clap's `long`).
fn long(parameter: &Parameter) -> &'static str {
    parameter.flag.trim_start_matches("--")
}

/// A parameter's `--help` line: what it does, the registry value, its range and default.
fn help(parameter: &Parameter) -> String {
    let name = parameter.name_str();
    let values = match parameter.kind {
        Kind::Number { unit } => format!(
            "{name}, {unit}, {}..{}, default {}",
            parameter.min, parameter.max, parameter.default
        ),
        Kind::Choice(names) => format!(
            "{name} {}..{} in this order, default {}",
            parameter.min,
            parameter.max,
            names[(parameter.default - parameter.min) as usize]
        ),
        Kind::Switch => format!("{name} {}", parameter.max),
    };
    format!("{} [{values}]", parameter.summary)
}

/// A `REG_DWORD`: digits, `_` allowed between them, at most `u32::MAX`.
fn dword(value: &str) -> Result<u32, String> {
    let digits = value.replace('_', "");
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("`{value}` is not a number"));
    }
    digits.parse().map_err(|_| {
        format!(
            "{value} is too large for a REG_DWORD (at most {})",
            u32::MAX
        )
    })
}

/// A number in `min..=max` (the driver's own range, for a parameter).
fn number_in(min: u32, max: u32) -> impl Fn(&str) -> Result<u32, String> + Clone + Send + Sync {
    move |value| {
        let n = dword(value)?;
        if (min..=max).contains(&n) {
            Ok(n)
        } else {
            Err(format!("{n} is out of range; accepted: {min}..{max}"))
        }
    }
}

/// `--param NAME=VALUE`: digits are a `REG_DWORD` (any value: the driver's range checks are
/// what `--param` is for), anything else a `REG_SZ`.
fn param(pair: &str) -> Result<(String, Value), String> {
    let (name, value) = pair.split_once('=').ok_or("needs NAME=VALUE")?;
    let digits = !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit());
    let value = if digits {
        Value::Dword(dword(value).map_err(|error| format!("{name}: {error}"))?)
    } else {
        Value::String(value.to_owned())
    };
    Ok((name.to_owned(), value))
}

impl Args for DriverParams {
    fn augment_args(command: clap::Command) -> clap::Command {
        let mut command =
            command.next_help_heading("Driver parameters (the service key's Parameters values)");
        for parameter in table::ALL {
            let arg = Arg::new(parameter.name_str())
                .long(long(&parameter))
                .help(help(&parameter));
            command = command.arg(match parameter.kind {
                Kind::Number { .. } => {
                    let arg = arg
                        .value_name("N")
                        .value_parser(number_in(parameter.min, parameter.max));
                    // The thread count: `bench` takes a comma list.
                    if parameter == table::STRESS_THREADS {
                        arg.value_delimiter(',').action(ArgAction::Append)
                    } else {
                        arg
                    }
                }
                Kind::Choice(names) => arg.value_parser(PossibleValuesParser::new(names)),
                Kind::Switch => arg.action(ArgAction::SetTrue),
            });
        }
        command.arg(
            Arg::new("param")
                .long("param")
                .value_name("NAME=VALUE")
                .action(ArgAction::Append)
                .value_parser(param)
                .help("any value under Parameters: digits make a REG_DWORD (not range-checked), anything else a REG_SZ"),
        )
    }

    fn augment_args_for_update(command: clap::Command) -> clap::Command {
        Self::augment_args(command)
    }
}

impl FromArgMatches for DriverParams {
    fn from_arg_matches(matches: &ArgMatches) -> Result<Self, clap::Error> {
        // (position on the command line, name, value), so the values keep the order given.
        let mut given: Vec<(usize, String, Value)> = Vec::new();
        let mut threads = Vec::new();
        for parameter in table::ALL {
            let id = parameter.name_str();
            let Some(at) = matches.index_of(id) else {
                continue;
            };
            let value = match parameter.kind {
                Kind::Number { .. } => {
                    let values: Vec<u32> = matches
                        .get_many::<u32>(id)
                        .into_iter()
                        .flatten()
                        .copied()
                        .collect();
                    if parameter == table::STRESS_THREADS {
                        threads.clone_from(&values);
                    }
                    // The last given counts, as for any repeated flag.
                    values.last().copied().unwrap_or(parameter.default)
                }
                Kind::Choice(names) => {
                    let chosen = matches.get_one::<String>(id).map(String::as_str);
                    let index = names.iter().position(|name| Some(*name) == chosen);
                    parameter.min + u32::try_from(index.unwrap_or_default()).unwrap_or_default()
                }
                Kind::Switch if matches.get_flag(id) => parameter.max,
                Kind::Switch => continue,
            };
            given.push((at, id.to_owned(), Value::Dword(value)));
        }
        if let (Some(pairs), Some(indices)) = (
            matches.get_many::<(String, Value)>("param"),
            matches.indices_of("param"),
        ) {
            for ((name, value), at) in pairs.zip(indices) {
                given.push((at, name.clone(), value.clone()));
            }
        }
        given.sort_by_key(|(at, _, _)| *at);
        let mut values: Vec<(String, Value)> = Vec::new();
        for (_, name, value) in given {
            // A name given twice (a flag and --param): the later one counts.
            values.retain(|(given, _)| !given.eq_ignore_ascii_case(&name));
            values.push((name, value));
        }
        Ok(Self { values, threads })
    }

    fn update_from_arg_matches(&mut self, matches: &ArgMatches) -> Result<(), clap::Error> {
        *self = Self::from_arg_matches(matches)?;
        Ok(())
    }
}

/// Parses the arguments (after `cargo xtask`). `Err` is the exit status: `--help` printed
/// (0), or a refused argument said in one line (2; the usage is `--help`).
pub fn parse(args: impl IntoIterator<Item = OsString>) -> Result<Options, ExitCode> {
    let args = std::iter::once(OsString::from("cargo xtask")).chain(args);
    match resolve(args) {
        Ok(options) => Ok(options),
        Err(Refused::Clap(error))
            if matches!(
                error.kind(),
                ErrorKind::DisplayHelp
                    | ErrorKind::DisplayVersion
                    | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
            ) =>
        {
            let _ = error.print();
            Err(
                if error.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
                    ExitCode::from(2)
                } else {
                    ExitCode::SUCCESS
                },
            )
        }
        Err(refused) => {
            eprintln!("{} (`cargo xtask --help` shows the usage)", refused.line());
            Err(ExitCode::from(2))
        }
    }
}

/// Why the command line was refused.
#[derive(Debug)]
enum Refused {
    Clap(clap::Error),
    Rule(&'static str),
}

impl Refused {
    /// One line: clap's first (`error: invalid value ... : <why>`), or the rule broken.
    fn line(&self) -> String {
        match self {
            Self::Clap(error) => error
                .to_string()
                .lines()
                .next()
                .unwrap_or("error: refused")
                .to_owned(),
            Self::Rule(rule) => format!("error: {rule}"),
        }
    }
}

fn resolve(args: impl IntoIterator<Item = OsString>) -> Result<Options, Refused> {
    let cli = Cli::try_parse_from(args).map_err(Refused::Clap)?;
    let (command, parameters) = match cli.command {
        CliCommand::Run(parameters) => {
            if parameters.threads.len() > 1 {
                return Err(Refused::Rule(
                    "--threads: `run` takes one thread count; a list is for `bench`",
                ));
            }
            (Command::Run, parameters)
        }
        CliCommand::Test { list, filter } => {
            (Command::Test { list, filter }, DriverParams::default())
        }
        CliCommand::Bench {
            parameters,
            turns,
            soak,
        } => (Command::Bench { turns, soak }, parameters),
        CliCommand::Package => (Command::Package, DriverParams::default()),
        CliCommand::Build => (Command::Build, DriverParams::default()),
        CliCommand::Docs => (Command::Docs, DriverParams::default()),
    };
    Ok(Options {
        command,
        verbose: cli.verbose,
        parameters: parameters.values,
        bench_threads: parameters.threads,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(list: &[&str]) -> Result<Options, String> {
        let args = std::iter::once("cargo xtask")
            .chain(list.iter().copied())
            .map(OsString::from);
        resolve(args).map_err(|refused| refused.line())
    }

    #[test]
    fn the_declaration_is_sound() {
        use clap::CommandFactory as _;
        Cli::command().debug_assert();
    }

    #[test]
    fn commands_and_flags() {
        let options = parse(&["run", "--verbose"]).unwrap();
        assert_eq!((options.command, options.verbose), (Command::Run, true));
        assert_eq!(
            parse(&["test"]).unwrap().command,
            Command::Test {
                list: false,
                filter: None
            }
        );
        assert_eq!(
            parse(&["test", "--list"]).unwrap().command,
            Command::Test {
                list: true,
                filter: None
            }
        );
        assert!(parse(&["run", "test"]).is_err());
        assert!(parse(&["--frobnicate", "run"]).is_err());
        assert!(parse(&["test", "--stress", "5"]).is_err());
        assert_eq!(
            parse(&["bench"]).unwrap().command,
            Command::Bench {
                turns: bench::DEFAULT_TURNS,
                soak: None
            }
        );
    }

    #[test]
    fn driver_parameters_become_registry_values_in_the_order_given() {
        let options = parse(&[
            "run",
            "--list-type",
            "paged",
            "--stress",
            "1_000_000",
            "--threads",
            "2",
            "--fail-at",
            "3",
            "--api-path",
            "inline",
            "--list-mode",
            "per-processor",
            "--break-before-delete",
            "--param",
            "ListType=abc",
        ])
        .unwrap();
        assert_eq!(
            options.parameters,
            [
                ("StressIterations".to_owned(), Value::Dword(1_000_000)),
                ("StressThreads".to_owned(), Value::Dword(2)),
                ("FailAllocationAt".to_owned(), Value::Dword(3)),
                ("ApiPath".to_owned(), Value::Dword(2)),
                ("ListMode".to_owned(), Value::Dword(1)),
                ("BreakBeforeDelete".to_owned(), Value::Dword(1)),
                ("ListType".to_owned(), Value::String("abc".to_owned())),
            ]
        );
        assert!(parse(&["run", "--list-type", "huge"]).is_err());
        assert!(parse(&["run", "--list-mode", "sharded"]).is_err());
        assert!(parse(&["run", "--stress", "many"]).is_err());
    }

    #[test]
    fn values_the_driver_would_clamp_or_ignore_are_refused_in_one_line() {
        for (list, expected) in [
            (
                &["run", "--threads", "0"][..],
                "0 is out of range; accepted: 1..64",
            ),
            (
                &["run", "--threads", "65"],
                "65 is out of range; accepted: 1..64",
            ),
            (&["bench", "--threads", "65,0"], "65 is out of range"),
            (&["run", "--threads", "1,2"], "`run` takes one thread count"),
            (
                &["run", "--stress", "100_000_001"],
                "100000001 is out of range; accepted: 0..100000000",
            ),
            (&["run", "--fail-at", "1000001"], "1000001 is out of range"),
            (
                &["run", "--stress", "99999999999"],
                "too large for a REG_DWORD",
            ),
            (
                &["run", "--param", "ListType=4294967296"],
                "ListType: 4294967296 is too large",
            ),
            (
                &["bench", "--turns", "0"],
                "0 is out of range; accepted: 1..100",
            ),
        ] {
            let error = parse(list).unwrap_err();
            assert!(error.contains(expected), "{list:?}: {error}");
            assert!(!error.contains('\n'), "{error}");
        }
        let bench = parse(&["bench", "--threads", "1,4"]).unwrap();
        assert_eq!(bench.bench_threads, [1, 4]);
    }

    #[test]
    fn every_parameter_of_the_table_has_its_flag_and_help() {
        use clap::CommandFactory as _;
        let mut command = Cli::command();
        let help = command
            .find_subcommand_mut("run")
            .expect("run")
            .render_long_help()
            .to_string();
        for parameter in table::ALL {
            assert!(help.contains(parameter.flag), "{}", parameter.flag);
            assert!(help.contains(parameter.summary), "{}", parameter.flag);
        }
    }
}

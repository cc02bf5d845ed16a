//! Command-line parsing (a few flags: no parser crate needed).

pub const USAGE: &str = "\
usage: cargo xtask <command> [options]

commands:
  run     build LookasideList.sys, load it in Wine with sc.exe, print its DbgPrint transcript
  test    fmt check, clippy, host tests, cross-build, PE checks, Wine end-to-end tests
  bench   run the driver's stress run in Wine, print a table of ns per alloc+free pair and
          write it to target/bench/latest.json
  package make target/package/LookasideList: the .sys signed (Authenticode, SHA-256, page
          hashes) with a test certificate, the stamped .inf, the certificate's .cer
  build   cross-build LookasideList.sys and the Wine ntoskrnl fixture only

driver parameters (run, bench), written to the service key's Parameters subkey:
  --list-type nonpaged|paged     ListType 0|1
  --api-path auto|exported|inline
                                 ApiPath 0|1|2
  --list-mode shared|per-processor
                                 ListMode 0|1 (bench: default both)
  --stress N                     StressIterations N (bench: default 250000)
  --threads N                    StressThreads N (bench: a comma list, default 1,2)
  --fail-at K                    FailAllocationAt K
  --break-before-delete          BreakBeforeDelete 1
  --param NAME=VALUE             any value: a number is a REG_DWORD, anything else a REG_SZ

bench only:
  --turns N                      measure every row N times, the turns interleaved (default 5)

options:
  --verbose   show the build tools' and Wine's own output";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Command {
    Run,
    Test,
    Bench,
    Package,
    Build,
    Help,
}

/// A registry value for the driver's `Parameters` key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value {
    Dword(u32),
    String(String),
}

#[derive(Clone, Debug)]
pub struct Options {
    pub command: Command,
    pub verbose: bool,
    /// Values for the `Parameters` key, in order.
    pub parameters: Vec<(String, Value)>,
    /// `bench`: the thread counts to measure.
    pub bench_threads: Vec<u32>,
    /// `bench`: how many times each row is measured (`--turns`).
    pub turns: Option<u32>,
}

/// A number for a `REG_DWORD`: digits (with `_` allowed between them), at most `u32::MAX`.
fn dword(flag: &str, value: &str) -> Result<u32, String> {
    let digits = value.replace('_', "");
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("{flag}: `{value}` is not a number"));
    }
    digits.parse().map_err(|_| {
        format!(
            "{flag}: {value} is too large for a REG_DWORD (at most {})",
            u32::MAX
        )
    })
}

/// A number for a driver parameter the driver would clamp or ignore outside `range` (the
/// driver's own range, src/parameters.rs): refused here, before the run.
fn in_range(
    flag: &str,
    value: Option<String>,
    range: std::ops::RangeInclusive<u32>,
) -> Result<u32, String> {
    let value = value.ok_or_else(|| format!("{flag} needs a value"))?;
    let n = dword(flag, &value)?;
    if range.contains(&n) {
        Ok(n)
    } else {
        Err(format!(
            "{flag}: {n} is out of range; accepted: {}..{}",
            range.start(),
            range.end()
        ))
    }
}

/// `bench`'s turns when `--turns` is not given: chosen by measurement, so that three benches
/// in a row agree on the one-thread ratios (README, Benchmark).
pub const DEFAULT_TURNS: u32 = 5;

/// `StressIterations`' range (src/parameters.rs).
const STRESS_RANGE: std::ops::RangeInclusive<u32> = 0..=100_000_000;
/// `StressThreads`' range.
const THREADS_RANGE: std::ops::RangeInclusive<u32> = 1..=64;
/// `FailAllocationAt`'s range.
const FAIL_AT_RANGE: std::ops::RangeInclusive<u32> = 0..=1_000_000;

fn choice(flag: &str, value: Option<String>, names: &[&str]) -> Result<u32, String> {
    let value = value.ok_or_else(|| format!("{flag} needs a value"))?;
    names
        .iter()
        .position(|name| *name == value)
        .and_then(|index| u32::try_from(index).ok())
        .ok_or_else(|| format!("{flag}: `{value}` is not one of {}", names.join(", ")))
}

pub fn parse(args: impl IntoIterator<Item = String>) -> Result<Options, String> {
    let mut command = None;
    let mut verbose = false;
    let mut parameters: Vec<(String, Value)> = Vec::new();
    let mut bench_threads = Vec::new();
    let mut turns = None;
    let mut args = args.into_iter();
    let mut set = |name: &str, value: Value| {
        parameters.retain(|(n, _)| n != name);
        parameters.push((name.to_owned(), value));
    };
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--verbose" | "-v" => verbose = true,
            "--help" | "-h" | "help" => command = Some(Command::Help),
            "--list-type" => set(
                "ListType",
                Value::Dword(choice(&arg, args.next(), &["nonpaged", "paged"])?),
            ),
            "--api-path" => set(
                "ApiPath",
                Value::Dword(choice(&arg, args.next(), &["auto", "exported", "inline"])?),
            ),
            "--list-mode" => set(
                "ListMode",
                Value::Dword(choice(&arg, args.next(), &["shared", "per-processor"])?),
            ),
            "--stress" => set(
                "StressIterations",
                Value::Dword(in_range(&arg, args.next(), STRESS_RANGE)?),
            ),
            "--threads" => {
                let list = args.next().ok_or("--threads needs a value")?;
                bench_threads = list
                    .split(',')
                    .map(|n| in_range("--threads", Some(n.to_owned()), THREADS_RANGE))
                    .collect::<Result<_, _>>()?;
                set("StressThreads", Value::Dword(bench_threads[0]));
            }
            "--fail-at" => set(
                "FailAllocationAt",
                Value::Dword(in_range(&arg, args.next(), FAIL_AT_RANGE)?),
            ),
            "--break-before-delete" => set("BreakBeforeDelete", Value::Dword(1)),
            "--turns" => turns = Some(in_range(&arg, args.next(), 1..=100)?),
            "--param" => {
                let pair = args.next().ok_or("--param needs NAME=VALUE")?;
                let (name, value) = pair.split_once('=').ok_or("--param needs NAME=VALUE")?;
                // Digits are a REG_DWORD (any value: the driver's range checks are what
                // --param is for), anything else a REG_SZ.
                let digits = !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit());
                let value = if digits {
                    Value::Dword(dword(&format!("--param {name}"), value)?)
                } else {
                    Value::String(value.to_owned())
                };
                set(name, value);
            }
            "run" | "test" | "bench" | "package" | "build" if command.is_none() => {
                command = Some(match arg.as_str() {
                    "run" => Command::Run,
                    "test" => Command::Test,
                    "bench" => Command::Bench,
                    "package" => Command::Package,
                    _ => Command::Build,
                });
            }
            other => return Err(format!("unexpected argument `{other}`")),
        }
    }
    let command = command.ok_or("no command given")?;
    if matches!(command, Command::Test | Command::Build | Command::Package)
        && !parameters.is_empty()
    {
        return Err("driver parameters go with `run` or `bench`".into());
    }
    if command != Command::Bench && turns.is_some() {
        return Err("--turns goes with `bench`".into());
    }
    if command == Command::Run && bench_threads.len() > 1 {
        return Err(
            "--threads: `run` takes one thread count (1..64); a list is for `bench`".into(),
        );
    }
    Ok(Options {
        command,
        verbose,
        parameters,
        bench_threads,
        turns,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn commands_and_flags() {
        let options = parse(args(&["run", "--verbose"])).unwrap();
        assert_eq!((options.command, options.verbose), (Command::Run, true));
        assert_eq!(parse(args(&["test"])).unwrap().command, Command::Test);
        assert!(parse(args(&[])).is_err());
        assert!(parse(args(&["run", "test"])).is_err());
        assert!(parse(args(&["--frobnicate", "run"])).is_err());
        assert!(parse(args(&["test", "--stress", "5"])).is_err());
    }

    #[test]
    fn driver_parameters_become_registry_values() {
        let options = parse(args(&[
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
            "--param",
            "ListType=abc",
        ]))
        .unwrap();
        assert_eq!(
            options.parameters,
            [
                ("StressIterations".to_owned(), Value::Dword(1_000_000)),
                ("StressThreads".to_owned(), Value::Dword(2)),
                ("FailAllocationAt".to_owned(), Value::Dword(3)),
                ("ApiPath".to_owned(), Value::Dword(2)),
                ("ListMode".to_owned(), Value::Dword(1)),
                ("ListType".to_owned(), Value::String("abc".to_owned())),
            ]
        );
        assert!(parse(args(&["run", "--list-type", "huge"])).is_err());
        assert!(parse(args(&["run", "--list-mode", "sharded"])).is_err());
        assert!(parse(args(&["run", "--stress", "many"])).is_err());
    }

    #[test]
    fn values_the_driver_would_clamp_or_ignore_are_refused_in_one_line() {
        let refused = |list: &[&str]| parse(args(list)).unwrap_err();
        for (list, expected) in [
            (
                &["run", "--threads", "0"][..],
                "--threads: 0 is out of range; accepted: 1..64",
            ),
            (
                &["run", "--threads", "65"],
                "--threads: 65 is out of range; accepted: 1..64",
            ),
            (
                &["bench", "--threads", "65,0"],
                "--threads: 65 is out of range",
            ),
            (&["run", "--threads", "1,2"], "`run` takes one thread count"),
            (
                &["run", "--stress", "100_000_001"],
                "--stress: 100000001 is out of range; accepted: 0..100000000",
            ),
            (
                &["run", "--fail-at", "1000001"],
                "--fail-at: 1000001 is out of range",
            ),
            (
                &["run", "--stress", "99999999999"],
                "too large for a REG_DWORD",
            ),
            (
                &["run", "--param", "ListType=4294967296"],
                "--param ListType: 4294967296 is too large",
            ),
        ] {
            let error = refused(list);
            assert!(error.contains(expected), "{list:?}: {error}");
            assert!(!error.contains('\n'), "{error}");
        }
        let bench = parse(args(&["bench", "--threads", "1,4"])).unwrap();
        assert_eq!(bench.bench_threads, [1, 4]);
    }
}

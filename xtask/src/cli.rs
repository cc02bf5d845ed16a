//! Command-line parsing (a handful of flags: no parser crate needed).

pub const USAGE: &str = "\
usage: cargo xtask <command> [--verbose]

commands:
  run     build LookasideList.sys, load it in Wine with sc.exe, print its DbgPrint transcript
  test    fmt check, clippy, host tests, cross-build, PE checks, Wine end-to-end test
  build   cross-build LookasideList.sys and the Wine ntoskrnl fixture only

options:
  --verbose   show the build tools' and Wine's own output";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Command {
    Run,
    Test,
    Build,
    Help,
}

#[derive(Clone, Debug)]
pub struct Options {
    pub command: Command,
    pub verbose: bool,
}

pub fn parse(args: impl IntoIterator<Item = String>) -> Result<Options, String> {
    let mut command = None;
    let mut verbose = false;
    for arg in args {
        match arg.as_str() {
            "--verbose" | "-v" => verbose = true,
            "--help" | "-h" | "help" => command = Some(Command::Help),
            "run" | "test" | "build" if command.is_none() => {
                command = Some(match arg.as_str() {
                    "run" => Command::Run,
                    "test" => Command::Test,
                    _ => Command::Build,
                });
            }
            other => return Err(format!("unexpected argument `{other}`")),
        }
    }
    let command = command.ok_or("no command given")?;
    Ok(Options { command, verbose })
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
    }
}

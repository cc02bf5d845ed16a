//! The command line, resolved: what `main` hands each command. The parsing is in the
//! `cli` module, which depends on the commands for their defaults; the commands depend only on
//! this.

/// A registry value for the driver's `Parameters` key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value {
    Dword(u32),
    String(String),
}

/// What a command runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    Run,
    Test { list: bool, filter: Option<String> },
    Bench { turns: u32, soak: Option<u32> },
    Package,
    Build,
    Docs,
}

/// The command line, resolved.
#[derive(Clone, Debug)]
pub struct Options {
    pub command: Command,
    pub verbose: bool,
    /// Values for the `Parameters` key, in the order given.
    pub parameters: Vec<(String, Value)>,
    /// `bench`: the thread counts to measure (`--threads`, a comma list).
    pub bench_threads: Vec<u32>,
}

//! The driver's registry parameters: `REG_DWORD` values under
//! `HKLM\SYSTEM\CurrentControlSet\Services\LookasideList\Parameters`, all optional; the
//! defaults are the seed's behaviour.
//!
//! The driver reads and range-checks them with this table; `cargo xtask run` and `bench` set
//! them with the flags named here and refuse, before a run, what the driver would not use;
//! the docs' table is held to it by `cargo xtask test`.

use core::ffi::CStr;

/// How a parameter is given on `cargo xtask`'s command line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A number in the parameter's range, in `unit`s.
    Number {
        /// What the number counts (plural), for `--help` and the docs.
        unit: &'static str,
    },
    /// One of these names, the values `min..=max` in order.
    Choice(&'static [&'static str]),
    /// A flag without a value, setting `max` (its absence leaves the default).
    Switch,
}

/// One parameter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Parameter {
    /// The value's name under `Parameters`.
    pub name: &'static CStr,
    /// Smallest allowed value.
    pub min: u32,
    /// Largest allowed value.
    pub max: u32,
    /// Used when the value is missing or unusable.
    pub default: u32,
    /// The `cargo xtask` flag that sets it (`run`, `bench`).
    pub flag: &'static str,
    /// How the flag takes its value.
    pub kind: Kind,
    /// What it does, in one line.
    pub summary: &'static str,
}

impl Parameter {
    /// The name as text.
    ///
    /// # Panics
    /// Never: every name in the table is ASCII (a test checks).
    #[must_use]
    pub const fn name_str(&self) -> &'static str {
        match self.name.to_str() {
            Ok(name) => name,
            Err(_) => panic!("parameter names are ASCII"),
        }
    }
}

/// `ListType`: the blocks' pool.
pub const LIST_TYPE: Parameter = Parameter {
    name: c"ListType",
    min: 0,
    max: 1,
    default: 0,
    flag: "--list-type",
    kind: Kind::Choice(&["nonpaged", "paged"]),
    summary: "the blocks' pool: NonPagedPoolNx, or PagedPool as the seed's ExInitializePagedLookasideList",
};

/// `BreakBeforeDelete`: `DbgBreakPoint` before `ExDeleteLookasideListEx`.
pub const BREAK_BEFORE_DELETE: Parameter = Parameter {
    name: c"BreakBeforeDelete",
    min: 0,
    max: 1,
    default: 0,
    flag: "--break-before-delete",
    kind: Kind::Switch,
    summary: "break into the kernel debugger before the list is deleted (only when one is attached; otherwise a line says so)",
};

/// `StressIterations`: the stress run's length.
pub const STRESS_ITERATIONS: Parameter = Parameter {
    name: c"StressIterations",
    min: 0,
    max: 100_000_000,
    default: 0,
    flag: "--stress",
    kind: Kind::Number {
        unit: "alloc+free pairs per thread",
    },
    summary: "after the seed, a timed stress run of this many alloc+free pairs per thread (0: none)",
};

/// `ApiPath`: which implementation of the allocate/free pair.
pub const API_PATH: Parameter = Parameter {
    name: c"ApiPath",
    min: 0,
    max: 2,
    default: 0,
    flag: "--api-path",
    kind: Kind::Choice(&["auto", "exported", "inline"]),
    summary: "the kernel's exported ExAllocateFromLookasideListEx/ExFreeToLookasideListEx where it has them, or the driver's port of wdm.h's inline bodies",
};

/// `StressThreads`: threads of the stress run.
pub const STRESS_THREADS: Parameter = Parameter {
    name: c"StressThreads",
    min: 1,
    max: 64,
    default: 1,
    flag: "--threads",
    kind: Kind::Number { unit: "threads" },
    summary: "threads of the stress run (1: the caller only)",
};

/// `FailAllocationAt`: fault injection.
pub const FAIL_ALLOCATION_AT: Parameter = Parameter {
    name: c"FailAllocationAt",
    min: 0,
    max: 1_000_000,
    default: 0,
    flag: "--fail-at",
    kind: Kind::Number {
        unit: "the failing allocation, counted from 1",
    },
    summary: "make this block allocation fail, through the list's allocate callback (0: none)",
};

/// `ListMode`: one list, or one per processor.
pub const LIST_MODE: Parameter = Parameter {
    name: c"ListMode",
    min: 0,
    max: 1,
    default: 0,
    flag: "--list-mode",
    kind: Kind::Choice(&["shared", "per-processor"]),
    summary: "one shared LOOKASIDE_LIST_EX (the seed's), or one per active processor",
};

/// Every parameter, in the order the driver reads and logs them.
pub const ALL: [Parameter; 7] = [
    LIST_TYPE,
    BREAK_BEFORE_DELETE,
    STRESS_ITERATIONS,
    API_PATH,
    STRESS_THREADS,
    FAIL_ALLOCATION_AT,
    LIST_MODE,
];

/// The parameter named `name` (registry names ignore case).
#[must_use]
pub fn by_name(name: &str) -> Option<&'static Parameter> {
    ALL.iter()
        .find(|parameter| parameter.name_str().eq_ignore_ascii_case(name))
}

#[cfg(test)]
mod tests {
    use super::{ALL, Kind};

    #[test]
    fn the_table_is_consistent() {
        for parameter in ALL {
            let name = parameter.name_str();
            assert!(parameter.name.to_str().is_ok(), "{name}");
            assert!(
                parameter.min <= parameter.default && parameter.default <= parameter.max,
                "{name}: the default is in range"
            );
            assert!(parameter.flag.starts_with("--"), "{name}");
            match parameter.kind {
                Kind::Choice(names) => assert_eq!(
                    names.len() as u64,
                    u64::from(parameter.max - parameter.min) + 1,
                    "{name}: one name per value"
                ),
                Kind::Switch => assert_eq!((parameter.min, parameter.max), (0, 1), "{name}"),
                Kind::Number { unit } => assert!(!unit.is_empty(), "{name}"),
            }
        }
        let mut flags: Vec<&str> = ALL.iter().map(|parameter| parameter.flag).collect();
        flags.sort_unstable();
        flags.dedup();
        assert_eq!(flags.len(), ALL.len(), "one flag per parameter");
    }
}

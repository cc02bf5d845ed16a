//! The driver's registry parameters and their range checks.
//!
//! They are `REG_DWORD` values under `HKLM\SYSTEM\CurrentControlSet\Services\LookasideList\
//! Parameters`, all optional, named and ranged by the contract's table
//! ([`lookaside_contract::parameters`]).
//!
//! The defaults are the seed's behaviour. A value of the wrong type or out of range is
//! reported in one log line naming it, its allowed range and the default used instead.

use core::ffi::CStr;
use core::num::NonZeroU32;

use lookaside_contract::parameters::{self as table, Parameter};
use wdm_lookaside::registry::RegistryValue;
use wdm_lookaside::{ApiPath, ListMode, NTSTATUS, PoolKind};

/// One parameter as the driver uses it: its name, allowed range and default (of the
/// contract's table, whose other columns are the tools').
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Spec {
    /// The value's name under `Parameters` (ASCII).
    pub name: &'static CStr,
    /// Smallest allowed value.
    pub min: u32,
    /// Largest allowed value.
    pub max: u32,
    /// Used when the value is missing or bad.
    pub default: u32,
}

impl Spec {
    /// The driver's columns of `parameter`.
    const fn of(parameter: &Parameter) -> Self {
        Self {
            name: parameter.name,
            min: parameter.min,
            max: parameter.max,
            default: parameter.default,
        }
    }
}

/// `ListType`: 0 = nonpaged blocks (`NonPagedPoolNx`), 1 = paged blocks (`PagedPool`, as the
/// seed's `ExInitializePagedLookasideList`).
pub const LIST_TYPE: Spec = Spec::of(&table::LIST_TYPE);
/// `BreakBeforeDelete`: 1 = `DbgBreakPoint` before `ExDeleteLookasideListEx`, if a kernel
/// debugger is attached.
pub const BREAK_BEFORE_DELETE: Spec = Spec::of(&table::BREAK_BEFORE_DELETE);
/// `StressIterations`: alloc+free pairs per thread after the seed scenario (0 = none).
pub const STRESS_ITERATIONS: Spec = Spec::of(&table::STRESS_ITERATIONS);
/// `ApiPath`: 0 = auto, 1 = the kernel's exported routines, 2 = the inline port.
pub const API_PATH: Spec = Spec::of(&table::API_PATH);
/// `StressThreads`: threads in the stress run (1 = the caller only).
pub const STRESS_THREADS: Spec = Spec::of(&table::STRESS_THREADS);
/// `FailAllocationAt`: the k-th block allocation fails (0 = off).
pub const FAIL_ALLOCATION_AT: Spec = Spec::of(&table::FAIL_ALLOCATION_AT);
/// `ListMode`: 0 = one shared list, 1 = one list per active processor.
pub const LIST_MODE: Spec = Spec::of(&table::LIST_MODE);

/// Every parameter, in the order they are read and logged: the table's, column for column.
pub const ALL: [Spec; table::ALL.len()] = {
    let mut all = [Spec::of(&table::ALL[0]); table::ALL.len()];
    let mut index = 1;
    while index < all.len() {
        all[index] = Spec::of(&table::ALL[index]);
        index += 1;
    }
    all
};

/// The settings a run uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Settings {
    /// The blocks' pool.
    pub list_type: PoolKind,
    /// Break into the debugger before deleting the list.
    pub break_before_delete: bool,
    /// Alloc+free pairs per thread in the stress run (0 = no stress run).
    pub stress_iterations: u32,
    /// Exported routines or the inline port.
    pub api_path: ApiPath,
    /// Threads in the stress run.
    pub stress_threads: u32,
    /// Fault injection.
    pub fail_allocation_at: Option<NonZeroU32>,
    /// One shared list or one per processor.
    pub list_mode: ListMode,
}

impl Default for Settings {
    /// The seed's behaviour.
    fn default() -> Self {
        Self::from_values(ALL.map(|spec| spec.default))
    }
}

/// Why a value was not used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Problem {
    /// Not a 4-byte `REG_DWORD`: the `REG_*` type it has (`REG_DWORD` = 4 when its size is
    /// wrong).
    NotDword(u32),
    /// Outside `min..=max`.
    OutOfRange(u32),
    /// `ZwQueryValueKey` failed.
    Unreadable(NTSTATUS),
}

/// A parameter that was set but not usable, for the log.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Complaint {
    /// Which parameter.
    pub spec: Spec,
    /// What was wrong.
    pub problem: Problem,
}

impl Complaint {
    /// The complaint's log line: the parameter, what was wrong, its range and the default used.
    // One caller: inlined there, it needs no frame or unwind entry of its own (measured: a
    // smaller driver).
    #[allow(clippy::inline_always, reason = "one caller; measured smaller")]
    #[inline(always)]
    pub fn log(&self) {
        let Spec {
            name,
            min,
            max,
            default,
        } = self.spec;
        match self.problem {
            // The type as its number (REG_SZ is 1, a REG_DWORD of the wrong size 4): a table
            // of names would cost the image some 180 bytes.
            Problem::NotDword(reg_type) => dbg_print_indented!(
                "Parameter %s is not a 4-byte REG_DWORD (type %u); allowed %u..%u, using the default %u\n",
                name,
                reg_type,
                min,
                max,
                default
            ),
            Problem::OutOfRange(value) => dbg_print_indented!(
                "Parameter %s = %u is out of range; allowed %u..%u, using the default %u\n",
                name,
                value,
                min,
                max,
                default
            ),
            Problem::Unreadable(status) => dbg_print_indented!(
                "Parameter %s could not be read (status %08X); allowed %u..%u, using the default %u\n",
                name,
                status,
                min,
                max,
                default
            ),
        }
    }
}

/// The value to use for `spec`, and why the registry's was not used, if it was not.
#[must_use]
pub const fn check(spec: Spec, value: RegistryValue) -> (u32, Option<Complaint>) {
    let problem = match value {
        RegistryValue::Missing => return (spec.default, None),
        RegistryValue::Dword(value) if value >= spec.min && value <= spec.max => {
            return (value, None);
        }
        RegistryValue::Dword(value) => Problem::OutOfRange(value),
        RegistryValue::NotDword(reg_type) => Problem::NotDword(reg_type),
        RegistryValue::Unreadable(status) => Problem::Unreadable(status),
    };
    (spec.default, Some(Complaint { spec, problem }))
}

/// Parameter `index` of [`ALL`] (the last one past its end). A `match` rather than indexing
/// the array: the compiler turns it into tables of offsets and values, where an array of
/// `Spec`s would hold absolute pointers to the names, each one a relocation for the loader.
const fn nth(index: usize) -> Spec {
    // A parameter added to ALL needs its arm here.
    const { assert!(ALL.len() == 7) };
    match index {
        0 => ALL[0],
        1 => ALL[1],
        2 => ALL[2],
        3 => ALL[3],
        4 => ALL[4],
        5 => ALL[5],
        _ => ALL[6],
    }
}

impl Settings {
    /// Settings from checked values, in the order of [`ALL`].
    const fn from_values(values: [u32; ALL.len()]) -> Self {
        let [
            list_type,
            break_before_delete,
            stress_iterations,
            api_path,
            stress_threads,
            fail_allocation_at,
            list_mode,
        ] = values;
        Self {
            list_type: if list_type == 1 {
                PoolKind::Paged
            } else {
                PoolKind::NonPaged
            },
            break_before_delete: break_before_delete == 1,
            stress_iterations,
            api_path: match api_path {
                1 => ApiPath::Exported,
                2 => ApiPath::Inline,
                _ => ApiPath::Auto,
            },
            stress_threads,
            fail_allocation_at: NonZeroU32::new(fail_allocation_at),
            list_mode: if list_mode == 1 {
                ListMode::PerProcessor
            } else {
                ListMode::Shared
            },
        }
    }

    /// Reads every parameter with `read`, reporting each unusable one to `complain`.
    // One caller: inlined there, it needs no frame or unwind entry of its own (measured: a
    // smaller driver).
    #[allow(clippy::inline_always, reason = "one caller; measured smaller")]
    #[inline(always)]
    pub fn read(
        read: impl Fn(&CStr) -> RegistryValue,
        mut complain: impl FnMut(Complaint),
    ) -> Self {
        let mut values = [0; ALL.len()];
        let mut index = 0;
        while index < ALL.len() {
            let spec = nth(index);
            let (value, complaint) = check(spec, read(spec.name));
            if let Some(complaint) = complaint {
                complain(complaint);
            }
            values[index] = value;
            index += 1;
        }
        Self::from_values(values)
    }
}

impl Settings {
    /// The settings' log line, every parameter with the value used.
    // One caller: inlined there, it needs no frame or unwind entry of its own (measured: a
    // smaller driver).
    #[allow(clippy::inline_always, reason = "one caller; measured smaller")]
    #[inline(always)]
    pub fn log(&self) {
        let list_type = match self.list_type {
            PoolKind::NonPaged => c"0 (nonpaged)",
            PoolKind::Paged => c"1 (paged)",
        };
        let api_path = match self.api_path {
            ApiPath::Auto => c"0 (auto)",
            ApiPath::Exported => c"1 (exported)",
            ApiPath::Inline => c"2 (inline)",
        };
        let list_mode = match self.list_mode {
            ListMode::Shared => c"0 (shared)",
            ListMode::PerProcessor => c"1 (per-processor)",
        };
        dbg_print_indented!(
            "Parameters: ListType %s, ApiPath %s, StressIterations %u, StressThreads %u, FailAllocationAt %u, BreakBeforeDelete %u, ListMode %s\n",
            list_type,
            api_path,
            self.stress_iterations,
            self.stress_threads,
            self.fail_allocation_at.map_or(0, NonZeroU32::get),
            u32::from(self.break_before_delete),
            list_mode,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wdm_lookaside::sim;

    /// The complaint's log line, as the simulated kernel's `DbgPrint` prints it.
    fn logged(complaint: Complaint) -> String {
        sim::reset(sim::Config::default());
        complaint.log();
        sim::transcript()
    }

    #[test]
    fn every_bound_of_every_parameter() {
        for spec in ALL {
            for value in [spec.min, spec.max, spec.default] {
                assert_eq!(
                    check(spec, RegistryValue::Dword(value)),
                    (value, None),
                    "{spec:?}"
                );
            }
            let mut outside = vec![spec.max.saturating_add(1), u32::MAX];
            if spec.min > 0 {
                outside.push(spec.min - 1);
            }
            for value in outside
                .into_iter()
                .filter(|v| *v > spec.max || *v < spec.min)
            {
                let complaint = Complaint {
                    spec,
                    problem: Problem::OutOfRange(value),
                };
                assert_eq!(
                    check(spec, RegistryValue::Dword(value)),
                    (spec.default, Some(complaint))
                );
            }
            assert_eq!(check(spec, RegistryValue::Missing), (spec.default, None));
        }
    }

    #[test]
    fn the_read_loop_sees_every_parameter_in_order() {
        for (index, spec) in ALL.into_iter().enumerate() {
            assert_eq!(nth(index), spec);
        }
    }

    #[test]
    fn a_value_that_is_not_a_4_byte_dword_is_shown_with_its_type() {
        // A REG_SZ, a REG_QWORD, and a REG_DWORD of the wrong size.
        for reg_type in [1, 11, 4] {
            let (value, complaint) = check(STRESS_THREADS, RegistryValue::NotDword(reg_type));
            assert_eq!(value, 1);
            assert_eq!(
                logged(complaint.expect("a complaint")),
                format!(
                    "LookasideList:   Parameter StressThreads is not a 4-byte REG_DWORD (type {reg_type}); allowed 1..64, using the default 1\n"
                )
            );
        }
    }

    #[test]
    fn unreadable_values_fall_back_with_their_status() {
        let (value, complaint) = check(
            API_PATH,
            RegistryValue::Unreadable(0xC000_0022_u32.cast_signed()),
        );
        assert_eq!(value, 0);
        assert_eq!(
            logged(complaint.expect("a complaint")),
            "LookasideList:   Parameter ApiPath could not be read (status C0000022); allowed 0..2, using the default 0\n"
        );
    }

    #[test]
    fn each_value_lands_in_its_own_setting() {
        let by_name = |name: &CStr| {
            let spec = ALL
                .iter()
                .find(|spec| spec.name == name)
                .expect("a parameter");
            RegistryValue::Dword(spec.max)
        };
        let settings = Settings::read(by_name, |_| panic!("every maximum is allowed"));
        assert_eq!(
            settings,
            Settings {
                list_type: PoolKind::Paged,
                break_before_delete: true,
                stress_iterations: STRESS_ITERATIONS.max,
                api_path: ApiPath::Inline,
                stress_threads: STRESS_THREADS.max,
                fail_allocation_at: NonZeroU32::new(FAIL_ALLOCATION_AT.max),
                list_mode: ListMode::PerProcessor,
            }
        );
    }

    #[test]
    fn settings_from_the_registry() {
        let read = |name: &CStr| match name.to_bytes() {
            b"ListType" | b"ListMode" => RegistryValue::Dword(1),
            b"ApiPath" => RegistryValue::Dword(2),
            b"StressIterations" => RegistryValue::Dword(1000),
            b"StressThreads" => RegistryValue::Dword(65),
            b"FailAllocationAt" => RegistryValue::Dword(3),
            _ => RegistryValue::Missing,
        };
        let mut complaints = Vec::new();
        let settings = Settings::read(read, |complaint| complaints.push(complaint));
        assert_eq!(
            settings,
            Settings {
                list_type: PoolKind::Paged,
                break_before_delete: false,
                stress_iterations: 1000,
                api_path: ApiPath::Inline,
                stress_threads: 1,
                fail_allocation_at: NonZeroU32::new(3),
                list_mode: ListMode::PerProcessor,
            }
        );
        assert_eq!(complaints.len(), 1);
        assert_eq!(complaints[0].spec, STRESS_THREADS);
        assert_eq!(
            Settings::default(),
            Settings::read(|_| RegistryValue::Missing, |_| panic!())
        );
    }
}

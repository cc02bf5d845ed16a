//! The seed's story, step by step and in its words: the KmdKit LookasideList sample's
//! `DriverEntry`, `AddEntry` and `RemoveEntry`, on a `LOOKASIDE_LIST_EX`.
//!
//! Every line the MASM original printed is printed here, in the same order, with its
//! `LookasideList: ` prefix and blank lines, through `DbgPrint` with the seed's format strings
//! adapted to x64: an address is `%p` (the seed's `%08X` was pointer-sized on x86; `%p` prints
//! 16 hex digits on x64) and an entry number, a `DWORD`, is `%u` (the seed's `%d`). Lines the
//! seed did not have (parameters, statistics, the stress run) are indented by two spaces after
//! the prefix, so they stand apart in DebugView.

use core::mem::offset_of;
use core::pin::{Pin, pin};

use crate::parameters::Settings;
use crate::stress;
use wdm_lookaside::dbg_print;
use wdm_lookaside::registry::{ParametersKey, RegistryPath, RegistryValue};
use wdm_lookaside::{
    ApiPath, ControlBlock, FromZeros, LIST_ENTRY, LIST_STRIDE, ListOptions, LookasideList,
    LookasideStats, NTSTATUS, Pool, PoolKind, STATUS_DEVICE_CONFIGURATION_ERROR, pool_tag,
};
use wdm_lookaside::{Chain, Linked};

/// The seed's pool tag, `'msaW'` (shown as `Wasm`).
pub const TAG: u32 = pool_tag(*b"msaW");

/// How many times the add, add, remove step runs (the seed's count, as the contract gives it).
pub const ROUNDS: u32 = lookaside_contract::seed::ROUNDS;

/// The seed's `SOME_STRUCTURE`: the `LIST_ENTRY` sits between other fields, as it usually
/// does in real records, so the record is found from its entry with `CONTAINING_RECORD`.
#[repr(C)]
pub struct SomeStructure {
    /// The entry's number, counted from 1.
    pub some_field1: u32,
    /// Unused, as in the seed.
    pub some_field2: u32,
    /// The link in the chain.
    pub list_entry: LIST_ENTRY,
    /// Unused, as in the seed.
    pub some_field_x: u32,
}

// SAFETY: `list_entry` is a LIST_ENTRY field of the record.
unsafe impl Linked for SomeStructure {
    const ENTRY_OFFSET: usize = offset_of!(Self, list_entry);
}

// SAFETY: integers and a LIST_ENTRY of two raw pointers: all-zero bytes are a valid value.
unsafe impl FromZeros for SomeStructure {}

// SAFETY: plain data; the raw pointers of its LIST_ENTRY are only followed by the chain that
// owns the record.
unsafe impl Send for SomeStructure {}

/// `DriverEntry`'s body. Returns `STATUS_DEVICE_CONFIGURATION_ERROR` on every path, so the
/// driver never stays loaded; everything it took is returned first.
#[must_use]
pub fn driver_entry(registry_path: Option<RegistryPath<'_>>) -> NTSTATUS {
    wdm_lookaside::paged_code();
    dbg_print!("\nLookasideList: Entering DriverEntry\n");
    let settings = read_settings(registry_path);
    if let Some(control) = ControlBlock::allocate(settings.list_mode, TAG) {
        let address = control.address();
        dbg_print!(
            "LookasideList: Nonpaged memory for lookaside list allocated at address %p\n",
            address
        );
        let options = ListOptions {
            pool: settings.list_type,
            tag: TAG,
            path: settings.api_path,
            fail_allocation_at: settings.fail_allocation_at,
        };
        match LookasideList::<SomeStructure>::new(control, options) {
            Ok(list) => {
                dbg_print!("LookasideList: Lookaside list initialized\n");
                describe_list(&list, &settings);
                allocate_and_free(&list);
                after_the_seed(&list, &settings);
                list.delete().free();
                dbg_print!("LookasideList: Lookaside list deleted\n");
            }
            Err(error) => {
                // Not in the seed: ExInitializePagedLookasideList could not fail, the Ex
                // version can.
                dbg_print!(
                    "LookasideList: Couldn't initialize lookaside list, status %08X\n",
                    error.status
                );
                error.control.free();
            }
        }
        dbg_print!(
            "LookasideList: Nonpaged memory for lookaside list at address %p released\n",
            address
        );
    } else {
        // The seed's string has no "\n" here, which glues the next line onto this one.
        dbg_print!(
            "LookasideList: Couldn't allocate nonpaged memory for lookaside list control structure\n"
        );
    }
    dbg_print!("LookasideList: Leaving DriverEntry\n");
    STATUS_DEVICE_CONFIGURATION_ERROR
}

/// The registry parameters, each unusable one reported in a line of its own.
fn read_settings(registry_path: Option<RegistryPath<'_>>) -> Settings {
    let key = registry_path.and_then(ParametersKey::open);
    let settings = Settings::read(
        |name| {
            key.as_ref()
                .map_or(RegistryValue::Missing, |key| key.dword(name))
        },
        |complaint| complaint.log(),
    );
    drop(key);
    settings.log();
    settings
}

/// How the list was set up, for the reader of the log.
fn describe_list(list: &LookasideList<SomeStructure>, settings: &Settings) {
    let stats = list.stats();
    // Whose routines: the names that follow are in the format, once.
    let routines = if list.uses_exports() {
        c"the kernel's exported"
    } else {
        c"the driver's port of the WDK's inline"
    };
    dbg_print_indented!(
        "%u-byte blocks from %s, through %s ExAllocateFromLookasideListEx/ExFreeToLookasideListEx\n",
        stats.size,
        PoolKind::type_name(stats.pool_type),
        routines
    );
    if settings.api_path == ApiPath::Exported && !list.uses_exports() {
        dbg_print_indented!("ApiPath 1 asks for the exported routines, which this kernel lacks\n");
    }
    if let Some(k) = settings.fail_allocation_at {
        dbg_print_indented!(
            "Fault injection: block allocation #%u fails, through the list's allocate callback\n",
            k.get()
        );
    }
    if list.lists() > 1 {
        dbg_print_indented!(
            "Per-processor lists: %u, one per active processor, %u bytes apart\n",
            list.lists(),
            u32::try_from(LIST_STRIDE).unwrap_or(u32::MAX)
        );
    }
}

/// What runs between the drained chain and `ExDeleteLookasideListEx`: the stress run, the
/// statistics, and the optional break into the debugger.
fn after_the_seed(list: &LookasideList<SomeStructure>, settings: &Settings) {
    if settings.stress_iterations > 0 {
        let pool = Pool::new(settings.list_type, TAG);
        stress::run(
            list,
            &pool,
            settings.stress_iterations,
            settings.stress_threads,
        );
    }
    if let Some((k, made)) = list.fault_injection_missed() {
        dbg_print_indented!(
            "Fault injection: block allocation #%u never happened (the run made %u)\n",
            k.get(),
            made
        );
    }
    log_statistics(list);
    if settings.break_before_delete {
        if wdm_lookaside::kernel_debugger_attached() {
            dbg_print_indented!(
                "Breaking into the debugger: type !lookaside %p\n",
                list.address()
            );
            wdm_lookaside::break_into_debugger();
        } else {
            dbg_print_indented!(
                "BreakBeforeDelete is set, but no kernel debugger is attached: not breaking\n"
            );
        }
    }
}

/// The counters as WinDbg's `!lookaside <address>` lays them out: of the list, or of each
/// per-processor list and then of all together.
fn log_statistics(list: &LookasideList<SomeStructure>) {
    // One loop for both modes (a smaller driver): a single list has no heading and no sum.
    let per_processor = list.lists() > 1;
    for index in 0..list.lists() {
        let (address, stats) = list.stats_of(index);
        if per_processor {
            dbg_print_indented!("Processor %u's list:\n", index);
        }
        log_list_statistics(address, &stats);
    }
    if per_processor {
        dbg_print_indented!("All %u per-processor lists together:\n", list.lists());
        log_counters(&list.stats());
    }
}

/// One list's `!lookaside` output.
fn log_list_statistics<T>(address: *mut T, stats: &LookasideStats) {
    let [t0, t1, t2, t3] = printable_tag(stats.tag);
    dbg_print_indented!("Statistics, as !lookaside %p shows them:\n", address);
    dbg_print_indented!(
        "Lookaside \"\" @ %p \"%c%c%c%c\"\n",
        address,
        t0,
        t1,
        t2,
        t3
    );
    log_counters(stats);
}

/// The counter lines of `!lookaside`.
fn log_counters(stats: &LookasideStats) {
    let percent = |total: u32, misses: u32| {
        (u64::from(total - misses.min(total)) * 100)
            .checked_div(u64::from(total))
            .unwrap_or(0)
    };
    dbg_print_indented!(
        "  Type           =     %04X %s\n",
        stats.pool_type,
        PoolKind::type_name(stats.pool_type)
    );
    dbg_print_indented!(
        "  Current Depth  = %8u   Max Depth  = %8u\n",
        stats.current_depth,
        stats.depth
    );
    dbg_print_indented!(
        "  Size           = %8u   Max Alloc  = %8u\n",
        stats.size,
        stats.depth.saturating_mul(stats.size)
    );
    dbg_print_indented!(
        "  AllocateMisses = %8u   FreeMisses = %8u\n",
        stats.allocate_misses,
        stats.free_misses
    );
    dbg_print_indented!(
        "  TotalAllocates = %8u   TotalFrees = %8u\n",
        stats.total_allocates,
        stats.total_frees
    );
    dbg_print_indented!(
        "  Hit Rate       = %7I64u%%   Hit Rate   = %7I64u%%\n",
        percent(stats.total_allocates, stats.allocate_misses),
        percent(stats.total_frees, stats.free_misses)
    );
    dbg_print_indented!("  MaximumDepth   = %8u\n", stats.maximum_depth);
}

/// A pool tag's four characters, in memory order, unprintable ones shown as `?`.
fn printable_tag(tag: u32) -> [u8; 4] {
    tag.to_le_bytes().map(|byte| {
        if (b' '..=b'~').contains(&byte) {
            byte
        } else {
            b'?'
        }
    })
}

/// The body between `InitializeListHead` and `ExDeletePagedLookasideList` in the seed.
fn allocate_and_free(list: &LookasideList<SomeStructure>) {
    let mut entries = pin!(Chain::new(list));
    entries.as_mut().init();
    dbg_print!("LookasideList: Doubly linked list head initialized\n");
    dbg_print_indented!(
        "Chain head at address %p (for !list)\n",
        entries.head_address()
    );

    dbg_print!("\nLookasideList: Start to allocate/free from/to lookaside list\n");
    let mut index = 0;
    for _ in 0..ROUNDS {
        add_entry(entries.as_mut(), &mut index);
        add_entry(entries.as_mut(), &mut index);
        remove_entry(entries.as_mut());
    }

    dbg_print!("\nLookasideList: Free the rest to lookaside list\n");
    loop {
        remove_entry(entries.as_mut());
        if entries.is_empty() {
            dbg_print!("LookasideList: Doubly linked list is empty\n\n");
            break;
        }
    }
}

/// The seed's `AddEntry`: a block from the lookaside list, zeroed, numbered, linked first.
fn add_entry(entries: Pin<&mut Chain<'_, SomeStructure>>, index: &mut u32) {
    let list = entries.source();
    let Some(mut record) = list.allocate() else {
        dbg_print!("LookasideList: Very bad. Couldn't allocate from lookaside list\n");
        return;
    };
    dbg_print!(
        "LookasideList: + Memory block allocated from lookaside list at address %p\n",
        record.address()
    );
    *index += 1;
    record.some_field1 = *index;
    entries.push_front(record);
    dbg_print!("LookasideList: + Entry #%u added\n", *index);
}

/// The seed's `RemoveEntry`: the first record unlinked and returned to the lookaside list.
fn remove_entry(entries: Pin<&mut Chain<'_, SomeStructure>>) {
    let list = entries.source();
    let Some(record) = entries.pop_front() else {
        dbg_print!(
            "LookasideList: An attempt was made to remove entry from empty lookaside list\n"
        );
        return;
    };
    dbg_print!("LookasideList: - Entry #%u removed\n", record.some_field1);
    let address = record.address();
    list.free(record);
    dbg_print!(
        "LookasideList: - Memory block at address %p returned to lookaside list\n",
        address
    );
}

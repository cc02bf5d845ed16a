//! The stress run after the seed scenario (`StressIterations`, `StressThreads`): how much a
//! lookaside list saves over the pool, against the floor of a bare interlocked SList.
//!
//! Timings come from `KeQueryPerformanceCounter` and are printed, never judged: the log is the
//! benchmark's output (`cargo xtask bench` reads it back). Each thread times its own loop, after
//! all threads have started; the floor, the list and the pool take turns for [`RUNS`] runs, and
//! each reports its fastest run among those whose threads ran at the same time (their loops
//! overlapped for at least 90% of the longest one): a time slice lost to another process on a
//! shared machine only makes a run slower, and a run whose threads happened not to overlap,
//! which would hide contention, does not count. What must be exact (blocks allocated, freed, failed) each thread counts for
//! itself: the list's own counters are approximate when threads race, as on Windows.

use core::cell::Cell;
use core::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};

use crate::dbg_print;
use crate::kernel::clock::Instant;
use crate::kernel::slist::{SListEntry, SListFloor};
use crate::kernel::{FromZeros, LookasideList, LookasideStats, Pool, thread};

/// How many times each measurement runs.
pub const RUNS: u32 = 5;

/// Nanoseconds per pair with one decimal, as tenths.
fn tenths_per_pair(elapsed_ns: u64, pairs: u32) -> u64 {
    elapsed_ns.saturating_mul(10) / u64::from(pairs.max(1))
}

/// `a / b` with two decimals, as hundredths.
fn hundredths(a: u64, b: u64) -> u64 {
    a.saturating_mul(100) / b.max(1)
}

/// What one thread did in one phase, counted by the thread itself.
#[derive(Clone, Copy, Default)]
struct Tally {
    allocated: u32,
    freed: u32,
    failed: u32,
}

impl Tally {
    const fn plus(self, other: Self) -> Self {
        Self {
            allocated: self.allocated.wrapping_add(other.allocated),
            freed: self.freed.wrapping_add(other.freed),
            failed: self.failed.wrapping_add(other.failed),
        }
    }
}

/// Where a thread leaves when its loop ran (ns since the phase began) and its tally.
struct Slot {
    start: AtomicU64,
    end: AtomicU64,
    allocated: AtomicU32,
    freed: AtomicU32,
    failed: AtomicU32,
}

impl Slot {
    const fn new() -> Self {
        Self {
            start: AtomicU64::new(0),
            end: AtomicU64::new(0),
            allocated: AtomicU32::new(0),
            freed: AtomicU32::new(0),
            failed: AtomicU32::new(0),
        }
    }
}

/// One phase's result: threads run, the mean of their own times, whether their loops
/// overlapped, their tallies summed.
#[derive(Clone, Copy, Default)]
struct Measured {
    ran: u32,
    mean_ns: u64,
    overlapped: bool,
    tally: Tally,
}

impl Measured {
    /// The fastest run whose threads overlapped (the median run if none did), with every
    /// run's tallies.
    fn pick(mut runs: [Self; RUNS as usize]) -> Self {
        let tally = runs
            .iter()
            .fold(Tally::default(), |sum, run| sum.plus(run.tally));
        runs.sort_unstable_by_key(|run| run.mean_ns);
        let chosen = runs
            .iter()
            .find(|run| run.overlapped)
            .unwrap_or(&runs[runs.len() / 2]);
        Self { tally, ..*chosen }
    }
}

/// Runs `work` on `threads` threads that start together; each times itself. A shortfall of
/// threads is logged once, when `reported` is still false.
// Its slots stay in a frame of their own (see `thread::run_concurrently`): inlined, the frame
// would pass 4 KiB and need the stack probe `__chkstk`, which the driver does not import.
#[inline(never)]
fn phase(threads: u32, work: &(dyn Fn() -> Tally + Sync), reported: &Cell<bool>) -> Measured {
    let slots = [const { Slot::new() }; thread::MAX_THREADS];
    let go = AtomicBool::new(false);
    let epoch = Instant::now();
    let (ran, failure) = thread::run_concurrently(threads, &|index| {
        // The caller (index 0) starts its work after creating every thread: it fires the start.
        if index == 0 {
            go.store(true, Ordering::Release);
        } else {
            while !go.load(Ordering::Acquire) {
                core::hint::spin_loop();
            }
        }
        let start = epoch.elapsed_ns();
        let tally = work();
        let end = epoch.elapsed_ns();
        if let Some(slot) = slots.get(index as usize) {
            slot.start.store(start, Ordering::Relaxed);
            slot.end.store(end, Ordering::Relaxed);
            slot.allocated.store(tally.allocated, Ordering::Relaxed);
            slot.freed.store(tally.freed, Ordering::Relaxed);
            slot.failed.store(tally.failed, Ordering::Relaxed);
        }
    });
    if let Some(status) = failure.filter(|_| !reported.replace(true)) {
        dbg_print!(
            "LookasideList:   Stress: only %u of %u threads could be created (status %08X)\n",
            ran,
            threads,
            status
        );
    }
    let (mut total_ns, mut longest, mut latest_start, mut earliest_end) = (0_u64, 0, 0, u64::MAX);
    let mut tally = Tally::default();
    // The threads are joined: their stores are visible.
    for slot in slots.iter().take(ran as usize) {
        let (start, end) = (
            slot.start.load(Ordering::Relaxed),
            slot.end.load(Ordering::Relaxed),
        );
        let ns = end.saturating_sub(start);
        total_ns = total_ns.saturating_add(ns);
        longest = longest.max(ns);
        latest_start = latest_start.max(start);
        earliest_end = earliest_end.min(end);
        tally.allocated = tally
            .allocated
            .wrapping_add(slot.allocated.load(Ordering::Relaxed));
        tally.freed = tally.freed.wrapping_add(slot.freed.load(Ordering::Relaxed));
        tally.failed = tally
            .failed
            .wrapping_add(slot.failed.load(Ordering::Relaxed));
    }
    let together = earliest_end.saturating_sub(latest_start);
    Measured {
        ran,
        mean_ns: total_ns / u64::from(ran.max(1)),
        overlapped: ran <= 1 || together.saturating_mul(10) >= longest.saturating_mul(9),
        tally,
    }
}

/// Runs `pairs` alloc+free pairs per thread on the SList floor, the lookaside list and the
/// pool, and logs ns per pair per thread, the ratios, the hit rate and the balance.
pub fn run<T: FromZeros + Send>(list: &LookasideList<T>, pool: &Pool, pairs: u32, threads: u32) {
    dbg_print!(
        "LookasideList:   Stress: %u alloc+free pairs per thread, %u thread(s), fastest of %u runs whose threads overlapped\n",
        pairs,
        threads,
        RUNS
    );

    let floor_work = || {
        let mut floor = SListFloor::new();
        let mut entry = SListEntry::new();
        let found = floor.pop_push(&mut entry, pairs);
        Tally {
            allocated: found,
            freed: found,
            failed: pairs - found,
        }
    };
    let lookaside_work = || {
        let mut tally = Tally::default();
        for _ in 0..pairs {
            if let Some(block) = list.allocate() {
                tally.allocated += 1;
                drop(block);
                tally.freed += 1;
            } else {
                tally.failed += 1;
            }
        }
        tally
    };
    let pool_work = || {
        for _ in 0..pairs {
            drop(pool.allocate::<T>());
        }
        Tally::default()
    };
    let before = list.stats();
    let mut floors = [Measured::default(); RUNS as usize];
    let (mut lists, mut pools) = (floors, floors);
    let reported = Cell::new(false);
    for ((floor, lookaside), pool) in floors.iter_mut().zip(&mut lists).zip(&mut pools) {
        *floor = phase(threads, &floor_work, &reported);
        *lookaside = phase(threads, &lookaside_work, &reported);
        *pool = phase(threads, &pool_work, &reported);
    }
    let after = list.stats();
    let [floor, lookaside, pool_run] = [floors, lists, pools].map(Measured::pick);
    let ran = floor.ran;
    let floor = tenths_per_pair(floor.mean_ns, pairs);
    dbg_print!(
        "LookasideList:   Stress slist-floor: %I64u.%I64u ns per pair, %u thread(s)\n",
        floor / 10,
        floor % 10,
        ran
    );

    let (ran, counted) = (lookaside.ran, lookaside.tally);
    let lookaside = tenths_per_pair(lookaside.mean_ns, pairs);
    let path = if list.uses_exports() {
        c"exported"
    } else {
        c"inline"
    };
    let ratio = hundredths(lookaside, floor);
    dbg_print!(
        "LookasideList:   Stress lookaside-%s: %I64u.%I64u ns per pair, %u thread(s), %I64u.%02I64ux the floor\n",
        path,
        lookaside / 10,
        lookaside % 10,
        ran,
        ratio / 100,
        ratio % 100
    );

    let ran = pool_run.ran;
    let pool_tenths = tenths_per_pair(pool_run.mean_ns, pairs);
    let ratio = hundredths(pool_tenths, lookaside);
    dbg_print!(
        "LookasideList:   Stress pool: %I64u.%I64u ns per pair, %u thread(s), %I64u.%02I64ux the lookaside list\n",
        pool_tenths / 10,
        pool_tenths % 10,
        ran,
        ratio / 100,
        ratio % 100
    );

    log_balance(counted, before, after);
}

/// The hit rate and the balance: attempts and blocks from the threads' exact tallies, misses
/// and the counters from the lists.
fn log_balance(counted: Tally, before: LookasideStats, after: LookasideStats) {
    // Attempts are the threads' exact tallies; misses the lists' own count.
    let attempts = counted.allocated.wrapping_add(counted.failed);
    let misses = after.allocate_misses.wrapping_sub(before.allocate_misses);
    let rate = hundredths(
        u64::from(attempts - misses.min(attempts)) * 100,
        u64::from(attempts),
    );
    dbg_print!(
        "LookasideList:   Stress hit rate: %I64u.%02I64u%% (%u misses in %u allocations, %u failed)\n",
        rate / 100,
        rate % 100,
        misses,
        attempts,
        counted.failed
    );
    let verdict = if counted.allocated == counted.freed {
        c"balance"
    } else {
        c"do NOT balance"
    };
    dbg_print!(
        "LookasideList:   Stress tallies %s: %u blocks allocated and %u freed, %u allocations failed\n",
        verdict,
        counted.allocated,
        counted.freed,
        counted.failed
    );
    dbg_print!(
        "LookasideList:   Stress counters (approximate when threads race, as on Windows): TotalAllocates +%u, TotalFrees +%u\n",
        after.total_allocates.wrapping_sub(before.total_allocates),
        after.total_frees.wrapping_sub(before.total_frees)
    );
}

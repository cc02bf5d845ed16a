//! The stress run after the seed scenario (`StressIterations`, `StressThreads`): how much a
//! lookaside list saves over the pool, against the floor of a bare interlocked SList.
//!
//! Timings come from `KeQueryPerformanceCounter` and are printed, never judged: the log is the
//! benchmark's output (`cargo xtask bench` reads it back).

use core::sync::atomic::{AtomicU32, Ordering};

use crate::dbg_print;
use crate::kernel::clock::Instant;
use crate::kernel::slist::{SListEntry, SListFloor};
use crate::kernel::{LookasideList, Pool, thread};
use crate::scenario::SomeStructure;

/// Nanoseconds per pair with one decimal, as tenths.
fn tenths_per_pair(elapsed_ns: u64, pairs: u32) -> u64 {
    elapsed_ns.saturating_mul(10) / u64::from(pairs.max(1))
}

/// `a / b` with two decimals, as hundredths.
fn hundredths(a: u64, b: u64) -> u64 {
    a.saturating_mul(100) / b.max(1)
}

/// Runs `work(thread)` on `threads` threads at once; returns the wall time and the threads run.
fn timed(threads: u32, work: &(dyn Fn(u32) + Sync)) -> (u64, u32) {
    let started = Instant::now();
    let (ran, failure) = thread::run_concurrently(threads, work);
    let elapsed = started.elapsed_ns();
    if let Some(status) = failure {
        dbg_print!(
            "LookasideList:   Stress: only %u of %u threads could be created (status %08X)\n",
            ran,
            threads,
            status
        );
    }
    (elapsed, ran)
}

/// Runs `pairs` alloc+free pairs per thread on the SList floor, the lookaside list and the
/// pool, and logs ns per pair, the ratios, the hit rate and the counter balance.
pub fn run(list: &LookasideList<SomeStructure>, pool: &Pool, pairs: u32, threads: u32) {
    dbg_print!(
        "LookasideList:   Stress: %u alloc+free pairs per thread, %u thread(s)\n",
        pairs,
        threads
    );

    let (floor_ns, ran) = timed(threads, &|_| {
        let mut floor = SListFloor::new();
        let mut entry = SListEntry::new();
        for _ in 0..pairs {
            floor.push_pop(&mut entry);
        }
    });
    let floor = tenths_per_pair(floor_ns, pairs);
    dbg_print!(
        "LookasideList:   Stress slist-floor: %I64u.%I64u ns per pair, %u thread(s)\n",
        floor / 10,
        floor % 10,
        ran
    );

    let before = list.stats();
    let failures = AtomicU32::new(0);
    let (lookaside_ns, ran) = timed(threads, &|_| {
        for _ in 0..pairs {
            match list.allocate() {
                Some(block) => drop(block),
                None => {
                    failures.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
    });
    let after = list.stats();
    let lookaside = tenths_per_pair(lookaside_ns, pairs);
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

    let (pool_ns, ran) = timed(threads, &|_| {
        for _ in 0..pairs {
            drop(pool.allocate::<SomeStructure>());
        }
    });
    let pool_tenths = tenths_per_pair(pool_ns, pairs);
    let ratio = hundredths(pool_tenths, lookaside);
    dbg_print!(
        "LookasideList:   Stress pool: %I64u.%I64u ns per pair, %u thread(s), %I64u.%02I64ux the lookaside list\n",
        pool_tenths / 10,
        pool_tenths % 10,
        ran,
        ratio / 100,
        ratio % 100
    );

    let allocations = after.total_allocates.wrapping_sub(before.total_allocates);
    let misses = after.allocate_misses.wrapping_sub(before.allocate_misses);
    let rate = hundredths(
        u64::from(allocations - misses.min(allocations)) * 100,
        u64::from(allocations),
    );
    dbg_print!(
        "LookasideList:   Stress hit rate: %I64u.%02I64u%% (%u misses in %u allocations, %u failed)\n",
        rate / 100,
        rate % 100,
        misses,
        allocations,
        failures.load(Ordering::Relaxed)
    );
    let outstanding = i64::from(after.total_allocates) - i64::from(after.total_frees);
    let failed = list.failed_allocations();
    let verdict = if outstanding == i64::from(failed) {
        c"balance"
    } else {
        c"do NOT balance"
    };
    dbg_print!(
        "LookasideList:   Stress counters %s: TotalAllocates %u - TotalFrees %u = %I64d, failed allocations %u\n",
        verdict,
        after.total_allocates,
        after.total_frees,
        outstanding,
        failed
    );
}

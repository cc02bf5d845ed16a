//! The stress run after the seed scenario (`StressIterations`, `StressThreads`): how much a
//! lookaside list saves over the pool, against the floor of a bare interlocked SList.
//!
//! Timings come from `KeQueryPerformanceCounter` and are printed, never judged: the log is the
//! benchmark's output (`cargo xtask bench` reads it back). Each thread times its own loop, after
//! all threads have started; the floor, the list and the pool take turns for [`RUNS`] runs, and
//! each reports its fastest run among those whose threads ran at the same time (their loops
//! overlapped for at least 90% of the longest one): a time slice lost to another process on a
//! shared machine only makes a run slower, and a run whose threads happened not to overlap,
//! which would hide contention, does not count. What must be exact (blocks allocated, freed,
//! failed) each thread counts for itself and adds once its loop is over: the list's own
//! counters are approximate when threads race, as on Windows.
//!
//! The code is written for size as well (the driver's image has a budget): one closure runs
//! every phase, the threads combine their times and tallies in atomics as they finish (no
//! per-thread slots), and the pick is a selection over the five runs, not a sort.

use core::sync::atomic::{AtomicU64, Ordering::Relaxed};

use wdm_lookaside::clock;
use wdm_lookaside::slist::{SListEntry, SListFloor};
use wdm_lookaside::{FromZeros, LookasideList, LookasideStats, Pool, thread};

/// How many times each measurement runs (the fastest is kept), as the contract gives it.
pub const RUNS: u32 = lookaside_contract::seed::STRESS_RUNS;

// The library joins at most MAX_THREADS threads: StressThreads may not ask for more.
const _: () =
    assert!(crate::parameters::STRESS_THREADS.max as usize <= wdm_lookaside::thread::MAX_THREADS);

/// The measurements, in the order they take turns and are logged: the floor, the lookaside
/// list, the pool.
const PHASES: usize = 3;
/// The SList floor's phase.
const FLOOR: usize = 0;
/// The lookaside list's phase: the only one that counts blocks.
const LOOKASIDE: usize = 1;

/// `a / b` with two decimals, as hundredths (`b` 0 counts as 1). Its values, tenths of a
/// nanosecond per pair, are far from overflowing.
fn hundredths(a: u64, b: u64) -> u64 {
    a * 100 / b.max(1)
}

/// What one thread's loop did, counted by the thread itself (or, summed, by all).
///
/// 64-bit: the sum over the runs and threads reaches `5 * 64 * 100,000,000`, past 32 bits.
#[derive(Clone, Copy, Default)]
struct Tally {
    allocated: u64,
    freed: u64,
    failed: u64,
}

/// Every thread's [`Tally`] of every run, each added once its loop has ended: exact.
#[derive(Default)]
struct Tallies {
    allocated: AtomicU64,
    freed: AtomicU64,
    failed: AtomicU64,
}

impl Tallies {
    fn add(&self, tally: Tally) {
        self.allocated.fetch_add(tally.allocated, Relaxed);
        self.freed.fetch_add(tally.freed, Relaxed);
        self.failed.fetch_add(tally.failed, Relaxed);
    }

    /// The sum, once every thread is joined.
    fn sum(&self) -> Tally {
        Tally {
            allocated: self.allocated.load(Relaxed),
            freed: self.freed.load(Relaxed),
            failed: self.failed.load(Relaxed),
        }
    }
}

/// One run's threads, combined as each finishes (in counter ticks): the sum and the longest
/// of their loops' times, the latest start and the earliest end.
struct Timing {
    total: AtomicU64,
    longest: AtomicU64,
    latest_start: AtomicU64,
    earliest_end: AtomicU64,
}

impl Timing {
    const fn new() -> Self {
        Self {
            total: AtomicU64::new(0),
            longest: AtomicU64::new(0),
            latest_start: AtomicU64::new(0),
            earliest_end: AtomicU64::new(u64::MAX),
        }
    }

    fn add(&self, start: u64, end: u64) {
        let ticks = end.saturating_sub(start);
        self.total.fetch_add(ticks, Relaxed);
        self.longest.fetch_max(ticks, Relaxed);
        self.latest_start.fetch_max(start, Relaxed);
        self.earliest_end.fetch_min(end, Relaxed);
    }

    /// The run, once its `ran` threads are joined.
    fn run(&self, ran: u32) -> Run {
        let longest = self.longest.load(Relaxed);
        let together = self
            .earliest_end
            .load(Relaxed)
            .saturating_sub(self.latest_start.load(Relaxed));
        Run {
            mean_ticks: self.total.load(Relaxed) / u64::from(ran.max(1)),
            ran,
            // Ticks times ten fit 64 bits for centuries.
            overlapped: ran <= 1 || together * 10 >= longest * 9,
        }
    }
}

/// One run of one phase: threads run, the mean of their own times, whether their loops
/// overlapped.
#[derive(Clone, Copy)]
struct Run {
    mean_ticks: u64,
    ran: u32,
    overlapped: bool,
}

impl Run {
    /// Before the run.
    const NONE: Self = Self {
        mean_ticks: 0,
        ran: 0,
        overlapped: false,
    };
}

/// The fastest run whose threads overlapped (the median run if none did), as tenths of a
/// nanosecond per pair, and its threads.
// One caller: inlined, it needs no frame and no unwind entry of its own (measured smaller).
#[allow(clippy::inline_always, reason = "measured smaller, see above")]
#[inline(always)]
fn fastest(runs: &[Run], pairs: u32) -> (u64, u32) {
    const MEDIAN: usize = RUNS as usize / 2;
    // The run with the lowest key: an overlapped run's key is the number of runs faster than
    // it, below the key of every run that did not overlap, of which the median's (the run
    // with at most MEDIAN runs faster and more than MEDIAN as fast) is the lowest.
    let (mut chosen, mut lowest) = (Run::NONE, usize::MAX);
    for run in runs {
        let (mut faster, mut as_fast) = (0, 0);
        for other in runs {
            faster += usize::from(other.mean_ticks < run.mean_ticks);
            as_fast += usize::from(other.mean_ticks <= run.mean_ticks);
        }
        let key = if run.overlapped {
            faster
        } else if faster <= MEDIAN && MEDIAN < as_fast {
            MEDIAN + RUNS as usize
        } else {
            usize::MAX - 1
        };
        if key < lowest {
            (chosen, lowest) = (*run, key);
        }
    }
    // Nanoseconds fit 64 bits for centuries: times ten as well.
    let tenths = clock::ticks_to_ns(chosen.mean_ticks) * 10 / u64::from(pairs.max(1));
    (tenths, chosen.ran)
}

/// What every thread of the stress run works on, and where it adds its tally.
struct Work<'a, T: FromZeros> {
    list: &'a LookasideList<T>,
    pool: &'a Pool,
    pairs: u32,
    tallies: Tallies,
}

impl<T: FromZeros> Work<'_, T> {
    /// One thread's loop of `phase`, timed into `timing`.
    // Inlined into the one closure that calls it (measured smaller).
    #[inline]
    fn run(&self, phase: usize, timing: &Timing) {
        let start = clock::ticks();
        let tally = match phase {
            FLOOR => {
                SListFloor::new().pop_push(&mut SListEntry::new(), self.pairs);
                Tally::default()
            }
            LOOKASIDE => self.allocate_and_free(),
            _ => {
                for _ in 0..self.pairs {
                    drop(self.pool.allocate::<T>());
                }
                Tally::default()
            }
        };
        timing.add(start, clock::ticks());
        self.tallies.add(tally);
    }

    /// The lookaside list's loop: allocations, each block freed at once.
    fn allocate_and_free(&self) -> Tally {
        let mut tally = Tally::default();
        for _ in 0..self.pairs {
            if let Some(block) = self.list.allocate() {
                tally.allocated += 1;
                drop(block);
                tally.freed += 1;
            } else {
                tally.failed += 1;
            }
        }
        tally
    }
}

/// Runs `pairs` alloc+free pairs per thread on the SList floor, the lookaside list and the
/// pool, and logs ns per pair per thread, the ratios, the hit rate and the balance.
pub fn run<T: FromZeros + Send>(list: &LookasideList<T>, pool: &Pool, pairs: u32, threads: u32) {
    dbg_print_indented!(
        "Stress: %u alloc+free pairs per thread, %u thread(s), fastest of %u runs whose threads overlapped\n",
        pairs,
        threads,
        RUNS
    );

    let work = Work {
        list,
        pool,
        pairs,
        tallies: Tallies::default(),
    };
    // Phase by phase, each phase's runs in order (flat: a nested array starts with copies).
    let mut runs = [Run::NONE; PHASES * RUNS as usize];
    let mut reported = false;
    let before = list.stats();
    for round in 0..RUNS as usize {
        for phase in 0..PHASES {
            let timing = Timing::new();
            let (ran, status) = thread::run_concurrently(threads, &|| work.run(phase, &timing));
            if !wdm_lookaside::nt_success(status) && !reported {
                reported = true;
                dbg_print_indented!(
                    "Stress: only %u of %u threads could be created (status %08X)\n",
                    ran,
                    threads,
                    status
                );
            }
            if let Some(run) = runs.get_mut(phase * RUNS as usize + round) {
                *run = timing.run(ran);
            }
        }
    }
    let after = list.stats();

    let path = if list.uses_exports() {
        c"exported"
    } else {
        c"inline"
    };
    let mut previous = 0;
    for (phase, runs) in runs.chunks_exact(RUNS as usize).enumerate() {
        let (tenths, ran) = fastest(runs, pairs);
        let (ns, ns_tenths) = (tenths / 10, tenths % 10);
        // To the measurement logged before (none for the floor).
        let ratio = hundredths(tenths, previous);
        let (ratio, ratio_hundredths) = (ratio / 100, ratio % 100);
        previous = tenths;
        match phase {
            FLOOR => dbg_print_indented!(
                "Stress slist-floor: %I64u.%I64u ns per pair, %u thread(s)\n",
                ns,
                ns_tenths,
                ran
            ),
            LOOKASIDE => dbg_print_indented!(
                "Stress lookaside-%s: %I64u.%I64u ns per pair, %u thread(s), %I64u.%02I64ux the floor\n",
                path,
                ns,
                ns_tenths,
                ran,
                ratio,
                ratio_hundredths
            ),
            _ => dbg_print_indented!(
                "Stress pool: %I64u.%I64u ns per pair, %u thread(s), %I64u.%02I64ux the lookaside list\n",
                ns,
                ns_tenths,
                ran,
                ratio,
                ratio_hundredths
            ),
        }
    }

    log_balance(work.tallies.sum(), before, after);
}

/// The hit rate and the balance: attempts and blocks from the threads' exact tallies, misses
/// and the counters from the lists.
// One caller: inlined, it needs no frame and no unwind entry of its own (measured smaller).
#[allow(clippy::inline_always, reason = "measured smaller, see above")]
#[inline(always)]
fn log_balance(counted: Tally, before: LookasideStats, after: LookasideStats) {
    // Attempts are the threads' exact tallies; misses the lists' own count (32 bits, and
    // approximate when threads race, as the kernel's counters are).
    let attempts = counted.allocated.wrapping_add(counted.failed);
    let misses = after.allocate_misses.wrapping_sub(before.allocate_misses);
    let rate = hundredths((attempts - u64::from(misses).min(attempts)) * 100, attempts);
    dbg_print_indented!(
        "Stress hit rate: %I64u.%02I64u%% (%u misses in %I64u allocations, %I64u failed)\n",
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
    dbg_print_indented!(
        "Stress tallies %s: %I64u blocks allocated and %I64u freed, %I64u allocations failed\n",
        verdict,
        counted.allocated,
        counted.freed,
        counted.failed
    );
    dbg_print_indented!(
        "Stress counters (approximate when threads race, as on Windows): TotalAllocates +%u, TotalFrees +%u\n",
        after.total_allocates.wrapping_sub(before.total_allocates),
        after.total_frees.wrapping_sub(before.total_frees)
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn runs(runs: [(u64, u32, bool); RUNS as usize]) -> [Run; RUNS as usize] {
        runs.map(|(mean_ticks, ran, overlapped)| Run {
            mean_ticks,
            ran,
            overlapped,
        })
    }

    /// Tenths of a nanosecond per pair for `ticks` over `pairs`.
    fn tenths(ticks: u64, pairs: u32) -> u64 {
        clock::ticks_to_ns(ticks) * 10 / u64::from(pairs)
    }

    #[test]
    fn the_fastest_overlapped_run_is_picked_over_faster_ones_that_did_not_overlap() {
        let picked = fastest(
            &runs([
                (500, 2, true),
                (100, 2, false),
                (300, 1, true),
                (400, 2, true),
                (200, 2, false),
            ]),
            1000,
        );
        assert_eq!(picked, (tenths(300, 1000), 1));
    }

    #[test]
    fn the_median_run_is_picked_when_none_overlapped_ties_included() {
        let picked = fastest(
            &runs([
                (700, 2, false),
                (100, 2, false),
                (900, 2, false),
                (300, 3, false),
                (500, 1, false),
            ]),
            10,
        );
        assert_eq!(picked, (tenths(500, 10), 1));
        let tied = runs([
            (300, 2, false),
            (100, 2, false),
            (300, 2, false),
            (300, 2, false),
            (900, 2, false),
        ]);
        assert_eq!(fastest(&tied, 10), (tenths(300, 10), 2));
    }

    #[test]
    fn tallies_past_32_bits_are_printed_whole() {
        wdm_lookaside::sim::reset(wdm_lookaside::sim::Config::default());
        // The most the parameters allow: 100,000,000 pairs, 64 threads, every run.
        let pairs = 100_000_000 * 64 * u64::from(RUNS);
        let counted = Tally {
            allocated: pairs,
            freed: pairs,
            failed: 0,
        };
        log_balance(
            counted,
            LookasideStats::default(),
            LookasideStats::default(),
        );
        let transcript = wdm_lookaside::sim::transcript();
        assert!(
            transcript.contains(
                "Stress hit rate: 100.00% (0 misses in 32000000000 allocations, 0 failed)"
            ),
            "{transcript}"
        );
        assert!(transcript.contains(
            "Stress tallies balance: 32000000000 blocks allocated and 32000000000 freed, 0 allocations failed"
        ));
    }

    #[test]
    fn a_run_overlaps_when_its_threads_ran_together_for_90_percent_of_the_longest() {
        let timing = |loops: &[(u64, u64)]| {
            let timing = Timing::new();
            for &(start, end) in loops {
                timing.add(start, end);
            }
            timing.run(u32::try_from(loops.len()).unwrap())
        };
        let together = timing(&[(0, 100), (5, 103)]);
        assert!(together.overlapped);
        assert_eq!((together.mean_ticks, together.ran), (99, 2));
        assert!(!timing(&[(0, 100), (11, 111)]).overlapped);
        assert!(timing(&[(0, 100), (10, 110)]).overlapped);
        assert!(timing(&[(40, 50)]).overlapped);
    }
}

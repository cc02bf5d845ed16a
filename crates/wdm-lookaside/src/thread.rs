//! System threads for the stress run, always joined before their work goes out of scope.

use core::ffi::c_void;
use core::mem::MaybeUninit;
use core::ptr;
use core::sync::atomic::{AtomicBool, Ordering};

use super::ffi::{self, HANDLE, NTSTATUS};

/// The most threads [`run_concurrently`] starts (the `StressThreads` maximum).
pub const MAX_THREADS: usize = 64;

/// What every system thread of one [`run_concurrently`] call shares: the work, and the start
/// signal.
///
/// The work's type is a parameter, not a `dyn Fn`: a vtable in the image holds absolute
/// addresses, which the loader must relocate, and without it the driver needs no relocations.
struct Job<'a, W> {
    work: &'a W,
    go: AtomicBool,
}

/// Runs `work` on `threads` threads at once, the caller's and system threads.
///
/// The threads start together once every thread exists, and all are joined, as
/// `std::thread::scope` does: on every path, an unwinding caller's included, no thread outlives
/// the call (they borrow `work`).
///
/// Returns how many ran and a status: `STATUS_SUCCESS`, the status of the first failed thread
/// creation (fewer threads ran), or `STATUS_INVALID_PARAMETER` when `threads` is over
/// [`MAX_THREADS`] (that many ran). Call at `PASSIVE_LEVEL`. A wait that does not succeed
/// stops the system ([`super::fail_fast`]): returning would free what a running thread uses.
pub fn run_concurrently<W: Fn() + Sync>(threads: u32, work: &W) -> (u32, NTSTATUS) {
    super::paged_code();
    let job = Job {
        work,
        go: AtomicBool::new(false),
    };
    let mut attributes = ffi::OBJECT_ATTRIBUTES {
        Length: super::registry::OBJECT_ATTRIBUTES_SIZE,
        RootDirectory: ptr::null_mut(),
        ObjectName: ptr::null_mut(),
        // A kernel handle: no user process can reach the thread.
        Attributes: ffi::OBJ_KERNEL_HANDLE as _,
        SecurityDescriptor: ptr::null_mut(),
        SecurityQualityOfService: ptr::null_mut(),
    };
    // Declared after `job`, so dropped (joining every thread) before it.
    let mut started = Started {
        handles: [const { MaybeUninit::<HANDLE>::uninit() }; MAX_THREADS - 1],
        count: 0,
        go: &job.go,
    };
    let wanted = threads.saturating_sub(1) as usize;
    let mut status = if wanted > started.handles.len() {
        ffi::STATUS_INVALID_PARAMETER
    } else {
        0 // STATUS_SUCCESS
    };
    // No indexing: a bounds check would link a panic site (and core::fmt) into the driver.
    while started.count < wanted {
        let Some(handle) = started.handles.get_mut(started.count) else {
            break;
        };
        let handle = handle.as_mut_ptr();
        // SAFETY: `job` outlives the thread: `started` waits for every started thread when it
        // is dropped, on every path, before `job` goes out of scope. PASSIVE_LEVEL.
        let created = unsafe {
            ffi::PsCreateSystemThread(
                handle,
                ffi::SYNCHRONIZE,
                &raw mut attributes,
                ptr::null_mut(),
                ptr::null_mut(),
                Some(thread_main::<W>),
                ptr::from_ref(&job).cast_mut().cast(),
            )
        };
        if !super::nt_success(created) {
            status = created;
            break;
        }
        started.count += 1;
    }
    // Every thread exists: start them, and the caller's work.
    job.go.store(true, Ordering::Release);
    (work)();
    #[allow(
        clippy::cast_possible_truncation,
        reason = "at most MAX_THREADS - 1 = 63"
    )]
    let ran = started.count as u32 + 1;
    drop(started);
    (ran, status)
}

/// The system threads started so far; dropping it releases and joins them all.
struct Started<'a> {
    /// One handle per system thread, the first `count` written by their creation.
    handles: [MaybeUninit<HANDLE>; MAX_THREADS - 1],
    count: usize,
    /// The start signal: set when dropped, so that threads started before an unwind do not
    /// wait for it for ever.
    go: &'a AtomicBool,
}

impl Drop for Started<'_> {
    fn drop(&mut self) {
        self.go.store(true, Ordering::Release);
        for handle in self.handles.iter().take(self.count) {
            // SAFETY: one of the first `count` handles, each written by its successful creation.
            let handle = unsafe { handle.assume_init() };
            // SAFETY: a thread handle PsCreateSystemThread returned; waiting at PASSIVE_LEVEL
            // without a timeout until the thread has exited.
            let waited = unsafe { ffi::ZwWaitForSingleObject(handle, 0, ptr::null_mut()) };
            if waited != 0 {
                // Not STATUS_WAIT_0: the thread may still run on what this frame owns.
                super::invalid_argument();
            }
            // SAFETY: the same handle, closed once.
            let _ = unsafe { ffi::ZwClose(handle) };
        }
    }
}

unsafe extern "C" fn thread_main<W: Fn() + Sync>(context: *mut c_void) {
    // SAFETY: `context` is the `Job` run_concurrently passed, of the same work type `W`, alive
    // until it joins this thread.
    let job = unsafe { &*context.cast::<Job<'_, W>>() };
    while !job.go.load(Ordering::Acquire) {
        core::hint::spin_loop();
    }
    (job.work)();
    // SAFETY: a system thread ends itself this way; nothing of this thread is used after it.
    let _ = unsafe { ffi::PsTerminateSystemThread(0) };
}

#[cfg(test)]
mod tests {
    use core::sync::atomic::AtomicU32;

    use super::*;
    use crate::sim;

    #[test]
    fn every_thread_starts_once_all_exist_runs_the_work_once_and_is_joined() {
        sim::reset(sim::Config::default());
        let (arrived, started_early) = (AtomicU32::new(0), AtomicU32::new(0));
        let (ran, status) = run_concurrently(4, &|| {
            // Each system thread's handle is open from its creation until it is joined, which
            // the wait below holds off until every thread has looked.
            if sim::open_handles() != 3 {
                started_early.fetch_add(1, Ordering::SeqCst);
            }
            arrived.fetch_add(1, Ordering::SeqCst);
            let waiting = std::time::Instant::now();
            while arrived.load(Ordering::SeqCst) < 4 && waiting.elapsed().as_secs() < 10 {
                std::thread::yield_now();
            }
        });
        assert_eq!((ran, status), (4, 0));
        assert_eq!(
            arrived.load(Ordering::SeqCst),
            4,
            "all ran at the same time"
        );
        assert_eq!(started_early.load(Ordering::SeqCst), 0);
        assert_eq!(sim::open_handles(), 0, "every thread handle is closed");
        assert_eq!(run_concurrently(1, &|| ()), (1, 0));
        assert_eq!(run_concurrently(0, &|| ()), (1, 0));
    }

    #[test]
    fn more_threads_than_the_maximum_is_reported_not_hidden() {
        sim::reset(sim::Config::default());
        let count = AtomicU32::new(0);
        let (ran, status) = run_concurrently(65, &|| {
            count.fetch_add(1, Ordering::SeqCst);
        });
        assert_eq!((ran, status), (64, sim::STATUS_INVALID_PARAMETER));
        assert_eq!(count.load(Ordering::SeqCst), 64);
        assert_eq!(sim::open_handles(), 0);
    }

    #[test]
    fn an_unwinding_caller_still_joins_every_thread_before_its_frame_goes() {
        sim::reset(sim::Config::default());
        let finished = AtomicU32::new(0);
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let caller = std::thread::current().id();
            // Owned by this closure's frame, which the caller's panic unwinds: freed then.
            #[allow(clippy::useless_vec, reason = "heap memory that the unwind frees")]
            let data = vec![1_u32, 2, 3];
            run_concurrently(3, &|| {
                assert_ne!(
                    std::thread::current().id(),
                    caller,
                    "the caller's share of the work fails"
                );
                std::thread::sleep(std::time::Duration::from_millis(300));
                assert_eq!(data.iter().sum::<u32>(), 6, "the frame is still there");
                finished.fetch_add(1, Ordering::SeqCst);
            })
        }));
        assert!(outcome.is_err(), "the caller's panic comes through");
        // Both system threads finished their work before run_concurrently's frame unwound.
        assert_eq!(finished.load(Ordering::SeqCst), 2);
        assert_eq!(sim::open_handles(), 0, "every handle is closed");
    }

    #[test]
    fn a_failed_creation_is_reported_and_the_threads_created_still_run() {
        sim::reset(sim::Config {
            fail_thread_creation: Some(3),
            ..sim::Config::default()
        });
        let count = AtomicU32::new(0);
        let (ran, status) = run_concurrently(8, &|| {
            count.fetch_add(1, Ordering::SeqCst);
        });
        assert_eq!((ran, status), (3, sim::STATUS_INSUFFICIENT_RESOURCES));
        assert_eq!(count.load(Ordering::SeqCst), 3);
    }
}

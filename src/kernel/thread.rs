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

/// Runs `work` on `threads` threads, the caller's and system threads, all started together
/// once every thread exists, and joins them all.
///
/// Returns how many ran (fewer if the kernel could not create a thread) and the status of the
/// first failed creation (`STATUS_SUCCESS` if none failed).
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
    // One handle per system thread: every thread but the caller's, written by each creation.
    let mut handles = [const { MaybeUninit::<HANDLE>::uninit() }; MAX_THREADS - 1];
    let mut started = 0;
    let mut failure = 0; // STATUS_SUCCESS
    for handle in handles.iter_mut().take(threads.saturating_sub(1) as usize) {
        // SAFETY: `job` outlives the thread: every started thread is waited for below before
        // `job` goes out of scope. PASSIVE_LEVEL.
        let status = unsafe {
            ffi::PsCreateSystemThread(
                handle.as_mut_ptr(),
                ffi::SYNCHRONIZE,
                &raw mut attributes,
                ptr::null_mut(),
                ptr::null_mut(),
                Some(thread_main::<W>),
                ptr::from_ref(&job).cast_mut().cast(),
            )
        };
        if !super::nt_success(status) {
            failure = status;
            break;
        }
        started += 1;
    }
    // Every thread exists: start them, and the caller's work.
    job.go.store(true, Ordering::Release);
    (work)();
    for handle in handles.iter().take(started as usize) {
        // SAFETY: one of the first `started` handles, each written by its successful creation.
        let handle = unsafe { handle.assume_init() };
        // SAFETY: a thread handle PsCreateSystemThread returned; waiting at PASSIVE_LEVEL
        // without a timeout until the thread has exited.
        let _ = unsafe { ffi::ZwWaitForSingleObject(handle, 0, ptr::null_mut()) };
        // SAFETY: the same handle, closed once.
        let _ = unsafe { ffi::ZwClose(handle) };
    }
    (started + 1, failure)
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
    use crate::kernel::ffi as sim;

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

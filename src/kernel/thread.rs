//! System threads for the stress run, always joined before their work goes out of scope.

use core::ffi::c_void;
use core::ptr;
use core::sync::atomic::{AtomicU32, Ordering};

use super::ffi::{self, HANDLE, NTSTATUS};

/// The most threads [`run_concurrently`] starts (the `StressThreads` maximum).
pub const MAX_THREADS: usize = 64;

/// What every system thread of one [`run_concurrently`] call shares: the work, and the next
/// index to take (each thread takes its own, 1 and up).
struct Job<'a> {
    work: &'a (dyn Fn(u32) + Sync),
    next_index: AtomicU32,
}

/// Runs `work(0)` here and `work(1..threads)` on system threads, and joins them all.
///
/// Returns how many ran (fewer if the kernel could not create a thread) and the status of the
/// first failed creation.
// Its arrays stay in a frame of their own: inlined into a caller with arrays of its own, the
// frame would pass 4 KiB and need the stack probe `__chkstk`, which the driver does not import.
#[inline(never)]
pub fn run_concurrently(threads: u32, work: &(dyn Fn(u32) + Sync)) -> (u32, Option<NTSTATUS>) {
    let wanted = usize::try_from(threads)
        .unwrap_or(MAX_THREADS)
        .clamp(1, MAX_THREADS);
    let job = Job {
        work,
        next_index: AtomicU32::new(1),
    };
    // One handle per system thread: every thread but the caller's.
    let mut handles: [HANDLE; MAX_THREADS - 1] = [ptr::null_mut(); MAX_THREADS - 1];
    let mut started = 0;
    let mut failure = None;
    for handle in handles.iter_mut().take(wanted - 1) {
        let mut attributes = ffi::OBJECT_ATTRIBUTES {
            Length: super::registry::OBJECT_ATTRIBUTES_SIZE,
            RootDirectory: ptr::null_mut(),
            ObjectName: ptr::null_mut(),
            // A kernel handle: no user process can reach the thread.
            Attributes: ffi::OBJ_KERNEL_HANDLE as _,
            SecurityDescriptor: ptr::null_mut(),
            SecurityQualityOfService: ptr::null_mut(),
        };
        // SAFETY: `job` outlives the thread: every started thread is waited for below before
        // `job` goes out of scope. PASSIVE_LEVEL.
        let status = unsafe {
            ffi::PsCreateSystemThread(
                handle,
                ffi::SYNCHRONIZE,
                &raw mut attributes,
                ptr::null_mut(),
                ptr::null_mut(),
                Some(thread_main),
                ptr::from_ref(&job).cast_mut().cast(),
            )
        };
        if status < 0 {
            failure = Some(status);
            break;
        }
        started += 1;
    }
    (work)(0);
    for &handle in handles.iter().take(started) {
        // SAFETY: a thread handle PsCreateSystemThread returned; waiting at PASSIVE_LEVEL
        // without a timeout until the thread has exited.
        let _ = unsafe { ffi::ZwWaitForSingleObject(handle, 0, ptr::null_mut()) };
        // SAFETY: the same handle, closed once.
        let _ = unsafe { ffi::ZwClose(handle) };
    }
    // At most MAX_THREADS - 1 system threads were started.
    (u32::try_from(started).unwrap_or(u32::MAX) + 1, failure)
}

unsafe extern "C" fn thread_main(context: *mut c_void) {
    // SAFETY: `context` is the `Job` run_concurrently passed, alive until it joins this thread.
    let job = unsafe { &*context.cast::<Job<'_>>() };
    (job.work)(job.next_index.fetch_add(1, Ordering::Relaxed));
    // SAFETY: a system thread ends itself this way; nothing of this thread is used after it.
    let _ = unsafe { ffi::PsTerminateSystemThread(0) };
}

//! System threads for the stress run, always joined before their work goes out of scope.

use core::ffi::c_void;
use core::ptr;

use super::ffi::{self, HANDLE, NTSTATUS};

/// The most threads [`run_concurrently`] starts (the `StressThreads` maximum).
pub const MAX_THREADS: usize = 64;

struct Job<'a> {
    work: &'a (dyn Fn(u32) + Sync),
    index: u32,
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
    let mut jobs: [Job<'_>; MAX_THREADS] = core::array::from_fn(|_| Job { work, index: 0 });
    for (index, job) in (0..).zip(jobs.iter_mut()) {
        job.index = index;
    }
    let mut handles: [HANDLE; MAX_THREADS] = [ptr::null_mut(); MAX_THREADS];
    let mut started: u32 = 1;
    let mut failure = None;
    for index in 1..wanted {
        let mut attributes = ffi::OBJECT_ATTRIBUTES {
            Length: super::registry::OBJECT_ATTRIBUTES_SIZE,
            RootDirectory: ptr::null_mut(),
            ObjectName: ptr::null_mut(),
            // A kernel handle: no user process can reach the thread.
            Attributes: ffi::OBJ_KERNEL_HANDLE as _,
            SecurityDescriptor: ptr::null_mut(),
            SecurityQualityOfService: ptr::null_mut(),
        };
        // SAFETY: `jobs[index]` outlives the thread: every started thread is waited for below
        // before `jobs` goes out of scope. PASSIVE_LEVEL.
        let status = unsafe {
            ffi::PsCreateSystemThread(
                &raw mut handles[index],
                ffi::SYNCHRONIZE,
                &raw mut attributes,
                ptr::null_mut(),
                ptr::null_mut(),
                Some(thread_main),
                ptr::from_ref(&jobs[index]).cast_mut().cast(),
            )
        };
        if status < 0 {
            failure = Some(status);
            break;
        }
        started += 1;
    }
    (work)(0);
    for handle in handles.iter().take(started as usize).skip(1) {
        // SAFETY: a thread handle PsCreateSystemThread returned; waiting at PASSIVE_LEVEL
        // without a timeout until the thread has exited.
        let _ = unsafe { ffi::ZwWaitForSingleObject(*handle, 0, ptr::null_mut()) };
        // SAFETY: the same handle, closed once.
        let _ = unsafe { ffi::ZwClose(*handle) };
    }
    (started, failure)
}

unsafe extern "C" fn thread_main(context: *mut c_void) {
    // SAFETY: `context` is the `Job` run_concurrently passed, alive until it joins this thread.
    let job = unsafe { &*context.cast::<Job<'_>>() };
    (job.work)(job.index);
    // SAFETY: a system thread ends itself this way; nothing of this thread is used after it.
    let _ = unsafe { ffi::PsTerminateSystemThread(0) };
}

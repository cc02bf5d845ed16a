//! System threads: `PsCreateSystemThread` runs the routine on a host thread that shares the
//! test's simulated kernel; `ZwWaitForSingleObject` joins it.

use core::ffi::c_void;
use core::ptr;
use std::sync::Arc;

use super::types::{
    HANDLE, LARGE_INTEGER, NTSTATUS, OBJ_KERNEL_HANDLE, OBJECT_ATTRIBUTES, PKSTART_ROUTINE,
    STATUS_INSUFFICIENT_RESOURCES, STATUS_SUCCESS, SYNCHRONIZE,
};
use super::{CURRENT, PROCESSOR, current, lock, with_state};

struct SendPtr(*mut c_void);
// SAFETY: the driver's thread context, used by the one thread it is for.
unsafe impl Send for SendPtr {}

pub unsafe extern "C-unwind" fn PsCreateSystemThread(
    ThreadHandle: *mut HANDLE,
    DesiredAccess: u32,
    ObjectAttributes: *mut OBJECT_ATTRIBUTES,
    ProcessHandle: HANDLE,
    ClientId: *mut c_void,
    StartRoutine: PKSTART_ROUTINE,
    StartContext: *mut c_void,
) -> NTSTATUS {
    assert_eq!(DesiredAccess, SYNCHRONIZE);
    assert!(ProcessHandle.is_null() && ClientId.is_null());
    // SAFETY: the caller passes valid attributes.
    let attributes = unsafe { (*ObjectAttributes).Attributes };
    assert_ne!(attributes & OBJ_KERNEL_HANDLE, 0, "kernel handles only");
    let shared = current();
    let fail = {
        let mut state = lock(&shared);
        state.thread_creations += 1;
        state
            .config
            .fail_thread_creation
            .is_some_and(|n| state.thread_creations >= n)
    };
    if fail {
        return STATUS_INSUFFICIENT_RESOURCES;
    }
    let routine = StartRoutine.expect("StartRoutine");
    let context = SendPtr(StartContext);
    let for_thread = Arc::clone(&shared);
    let processor = {
        let state = lock(&shared);
        state.thread_creations % state.config.processors.max(1)
    };
    let thread = std::thread::spawn(move || {
        let context = context;
        CURRENT.with(|current| *current.borrow_mut() = Some(for_thread));
        PROCESSOR.set(processor);
        // SAFETY: the driver's routine with the driver's context.
        unsafe { routine(context.0) };
    });
    let mut state = lock(&shared);
    let handle = state.next_handle;
    state.next_handle += 1;
    state.handles.insert(handle, Some(thread));
    drop(state);
    // SAFETY: a valid out pointer.
    unsafe { ThreadHandle.write(ptr::without_provenance_mut(handle)) };
    STATUS_SUCCESS
}

pub const unsafe extern "C-unwind" fn PsTerminateSystemThread(_ExitStatus: NTSTATUS) -> NTSTATUS {
    // A real system thread ends here; the simulated one returns from its routine next.
    STATUS_SUCCESS
}

pub unsafe extern "C-unwind" fn ZwWaitForSingleObject(
    Handle: HANDLE,
    Alertable: u8,
    Timeout: *mut LARGE_INTEGER,
) -> NTSTATUS {
    assert_eq!(Alertable, 0);
    assert!(Timeout.is_null());
    let thread = with_state(|state| state.handles.get_mut(&Handle.addr()).and_then(Option::take));
    let thread = thread.expect("waiting on a thread handle that is not open or already waited for");
    thread.join().expect("a driver thread panicked");
    // The handle stays open until ZwClose, as in the kernel.
    with_state(|state| state.handles.insert(Handle.addr(), None));
    STATUS_SUCCESS
}

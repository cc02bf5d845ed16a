//! The kernel debugger: whether one is attached ([`Config::debugger`](super::Config::debugger)),
//! and the breakpoints a driver takes.

use super::with_state;

/// `KdRefreshDebuggerNotPresent`: 0 when a debugger is attached.
pub unsafe extern "C-unwind" fn KdRefreshDebuggerNotPresent() -> u8 {
    u8::from(!with_state(|state| state.config.debugger))
}

/// The `wdk` crate's `dbg_break` (`__debugbreak`): counted, and without a debugger a failure.
pub fn dbg_break() {
    let attached = with_state(|state| {
        state.breakpoints += 1;
        state.config.debugger
    });
    assert!(
        attached,
        "DbgBreakPoint without a kernel debugger: KMODE_EXCEPTION_NOT_HANDLED"
    );
}

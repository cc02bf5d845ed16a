//! `KeGetCurrentProcessorNumberEx` without the system call Wine's makes: the `RDPID`
//! instruction where the processor has it and it agrees with Wine's answer at start.

use core::sync::atomic::{AtomicBool, Ordering};

use super::{KeGetCurrentProcessorNumberEx, ProcessorNumber};

/// Whether [`get_current_processor_number_ex`] reads the processor's number with `RDPID`.
static RDPID_IS_THE_PROCESSOR: AtomicBool = AtomicBool::new(false);

/// `RDPID`: the processor's `IA32_TSC_AUX`, where Linux keeps `(node << 12) | cpu`; `None` when
/// the processor lacks the instruction (CPUID leaf 7, ECX bit 22).
fn rdpid_processor() -> Option<u32> {
    if core::arch::x86_64::__cpuid(0).eax < 7
        || core::arch::x86_64::__cpuid_count(7, 0).ecx & (1 << 22) == 0
    {
        return None;
    }
    Some(read_rdpid())
}

fn read_rdpid() -> u32 {
    let aux: u64;
    // SAFETY: RDPID only reads IA32_TSC_AUX into a register; callers checked CPUID for it.
    unsafe {
        core::arch::asm!("rdpid {}", out(reg) aux, options(nomem, nostack, preserves_flags));
    };
    (aux & 0xFFF) as u32
}

/// Uses `RDPID` from now on if it names the same processor as Wine's routine (which asks Linux
/// with a system call): tried a few times, since the thread may move between the two reads.
pub(super) fn choose_processor_number_source() {
    for _ in 0..3 {
        // SAFETY: NULL is allowed for the optional PROCESSOR_NUMBER.
        let wine = unsafe { KeGetCurrentProcessorNumberEx(core::ptr::null_mut()) };
        if rdpid_processor() == Some(wine) {
            RDPID_IS_THE_PROCESSOR.store(true, Ordering::Relaxed);
            return;
        }
    }
}

/// `KeGetCurrentProcessorNumberEx`. Windows reads it from the processor's control block in a
/// few instructions; Wine 8's (a "semi-stub") makes a system call each time, which costs more
/// than a whole lookaside allocation and would hide what per-processor lists save. Where the
/// processor has `RDPID` and it agreed with Wine's at start, this reads the same number that
/// way; elsewhere it is Wine's routine.
///
/// # Safety
/// `number` is NULL or points to a writable `PROCESSOR_NUMBER`.
#[unsafe(export_name = "fixture_KeGetCurrentProcessorNumberEx")]
pub unsafe extern "system" fn get_current_processor_number_ex(number: *mut ProcessorNumber) -> u32 {
    if !RDPID_IS_THE_PROCESSOR.load(Ordering::Relaxed) {
        // SAFETY: the caller's argument, passed on unchanged.
        return unsafe { KeGetCurrentProcessorNumberEx(number) };
    }
    let index = read_rdpid();
    if !number.is_null() {
        // Windows' groups hold 64 processors each; RDPID's processor number is Linux's, far
        // below 64 * 65,536.
        #[allow(
            clippy::cast_possible_truncation,
            reason = "a processor number, see above; the remainder is below 64"
        )]
        let processor = ProcessorNumber {
            group: (index / 64) as u16,
            number: (index % 64) as u8,
            reserved: 0,
        };
        // SAFETY: the caller passes a writable PROCESSOR_NUMBER when it passes one.
        unsafe { number.write(processor) };
    }
    index
}

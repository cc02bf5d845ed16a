//! The seed's story, step by step and in its words: the KmdKit LookasideList sample's
//! `DriverEntry`, `AddEntry` and `RemoveEntry`, on a `LOOKASIDE_LIST_EX`.
//!
//! Every line the MASM original printed is printed here, in the same order, with its
//! `LookasideList: ` prefix and blank lines; addresses are printed at full x64 width
//! (`%08X` became 16 hex digits).

use core::mem::offset_of;
use core::pin::{Pin, pin};

use crate::dbg_print;
use crate::kernel::{
    ApiPath, FromZeros, LIST_ENTRY, LookasideList, LookasideListEx, NTSTATUS, PoolBox,
    STATUS_DEVICE_CONFIGURATION_ERROR, pool_tag,
};
use crate::list::{Chain, Linked};

/// The seed's pool tag, `'msaW'` (shown as `Wasm`).
pub const TAG: u32 = pool_tag(*b"msaW");

/// How many times the add, add, remove step runs.
pub const ROUNDS: u32 = 5;

/// The seed's `SOME_STRUCTURE`: the `LIST_ENTRY` sits between other fields, as it usually
/// does in real records, so the record is found from its entry with `CONTAINING_RECORD`.
#[repr(C)]
pub struct SomeStructure {
    /// The entry's number, counted from 1.
    pub some_field1: u32,
    /// Unused, as in the seed.
    pub some_field2: u32,
    /// The link in the chain.
    pub list_entry: LIST_ENTRY,
    /// Unused, as in the seed.
    pub some_field_x: u32,
}

// SAFETY: `list_entry` is a LIST_ENTRY field of the record.
unsafe impl Linked for SomeStructure {
    const ENTRY_OFFSET: usize = offset_of!(Self, list_entry);
}

// SAFETY: integers and a LIST_ENTRY of two raw pointers: all-zero bytes are a valid value.
unsafe impl FromZeros for SomeStructure {}

/// `DriverEntry`'s body. Returns `STATUS_DEVICE_CONFIGURATION_ERROR` on every path, so the
/// driver never stays loaded; everything it took is returned first.
#[must_use]
pub fn driver_entry(path: ApiPath) -> NTSTATUS {
    dbg_print!("\nLookasideList: Entering DriverEntry\n");
    if let Some(control) = PoolBox::<LookasideListEx>::allocate_nonpaged(TAG) {
        let address = control.as_ptr().addr();
        dbg_print!(
            "LookasideList: Nonpaged memory for lookaside list allocated at address {address:016X}\n"
        );
        match LookasideList::<SomeStructure>::new(control, TAG, path) {
            Ok(list) => {
                dbg_print!("LookasideList: Lookaside list initialized\n");
                allocate_and_free(&list);
                list.delete().free();
                dbg_print!("LookasideList: Lookaside list deleted\n");
            }
            Err(error) => {
                // Not in the seed: ExInitializePagedLookasideList could not fail, the Ex
                // version can.
                dbg_print!(
                    "LookasideList: Couldn't initialize lookaside list, status {:08X}\n",
                    error.status
                );
                error.control.free();
            }
        }
        dbg_print!(
            "LookasideList: Nonpaged memory for lookaside list at address {address:016X} released\n"
        );
    } else {
        // The seed's string has no "\n" here, which glues the next line onto this one.
        dbg_print!(
            "LookasideList: Couldn't allocate nonpaged memory for lookaside list control structure\n"
        );
    }
    dbg_print!("LookasideList: Leaving DriverEntry\n");
    STATUS_DEVICE_CONFIGURATION_ERROR
}

/// The body between `InitializeListHead` and `ExDeletePagedLookasideList` in the seed.
fn allocate_and_free(list: &LookasideList<SomeStructure>) {
    let mut entries = pin!(Chain::new(list));
    entries.as_mut().init();
    dbg_print!("LookasideList: Doubly linked list head initialized\n");

    dbg_print!("\nLookasideList: Start to allocate/free from/to lookaside list\n");
    let mut index = 0;
    for _ in 0..ROUNDS {
        add_entry(entries.as_mut(), &mut index);
        add_entry(entries.as_mut(), &mut index);
        remove_entry(entries.as_mut());
    }

    dbg_print!("\nLookasideList: Free the rest to lookaside list\n");
    loop {
        remove_entry(entries.as_mut());
        if entries.is_empty() {
            dbg_print!("LookasideList: Doubly linked list is empty\n\n");
            break;
        }
    }
}

/// The seed's `AddEntry`: a block from the lookaside list, zeroed, numbered, linked first.
fn add_entry(entries: Pin<&mut Chain<'_, SomeStructure>>, index: &mut u32) {
    let list = entries.source();
    let Some(mut record) = list.allocate() else {
        dbg_print!("LookasideList: Very bad. Couldn't allocate from lookaside list\n");
        return;
    };
    dbg_print!(
        "LookasideList: + Memory block allocated from lookaside list at address {:016X}\n",
        record.address().addr()
    );
    *index += 1;
    record.some_field1 = *index;
    entries.push_front(record);
    dbg_print!("LookasideList: + Entry #{index} added\n");
}

/// The seed's `RemoveEntry`: the first record unlinked and returned to the lookaside list.
fn remove_entry(entries: Pin<&mut Chain<'_, SomeStructure>>) {
    let list = entries.source();
    let Some(record) = entries.pop_front() else {
        dbg_print!(
            "LookasideList: An attempt was made to remove entry from empty lookaside list\n"
        );
        return;
    };
    dbg_print!("LookasideList: - Entry #{} removed\n", record.some_field1);
    let address = record.address().addr();
    list.free(record);
    dbg_print!(
        "LookasideList: - Memory block at address {address:016X} returned to lookaside list\n"
    );
}

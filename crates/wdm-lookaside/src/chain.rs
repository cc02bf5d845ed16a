//! An intrusive doubly linked chain of lookaside blocks, in the kernel's `LIST_ENTRY` layout.
//!
//! Written here rather than taken from `nt-list`: nt-list 0.3 needs `alloc` (through `moveit`,
//! which does not build without it), and this driver allocates nothing but its lookaside blocks
//! and one pool block. What it needs is small: `InitializeListHead`, `InsertHeadList`,
//! `RemoveHeadList`, `IsListEmpty` and `CONTAINING_RECORD`, all inline functions or macros in
//! wdm.h that no binding crate provides.
//!
//! The head and the entries are real `LIST_ENTRY`s, so WinDbg's `dt` and `!list` walk the chain.
//! As in the WDK's current headers, a neighbour that does not point back fails fast.

use core::cell::UnsafeCell;
use core::marker::PhantomPinned;
use core::pin::Pin;
use core::ptr::{self, NonNull};

use crate::{Block, LIST_ENTRY, LookasideList};

/// A record with a `LIST_ENTRY` field, so it can be linked into a [`Chain`].
///
/// # Safety
/// `ENTRY_OFFSET` must be the offset of a `LIST_ENTRY` field of `Self` (use `offset_of!`).
pub unsafe trait Linked: Sized {
    /// Where the `LIST_ENTRY` sits in the record.
    const ENTRY_OFFSET: usize;
}

/// A `LIST_ENTRY` chain head owning the lookaside blocks linked to it.
///
/// Entries point at the head, so it must not move once linked: it is used pinned
/// (`core::pin::pin!`). Blocks still linked when it is dropped go back to their list.
pub struct Chain<'list, T: Linked> {
    head: UnsafeCell<LIST_ENTRY>,
    source: &'list LookasideList<T>,
    _pinned: PhantomPinned,
}

impl<'list, T: Linked> Chain<'list, T> {
    /// An unlinked head for blocks of `source`; [`Chain::init`] it once pinned.
    #[must_use]
    pub const fn new(source: &'list LookasideList<T>) -> Self {
        Self {
            head: UnsafeCell::new(LIST_ENTRY {
                Flink: ptr::null_mut(),
                Blink: ptr::null_mut(),
            }),
            source,
            _pinned: PhantomPinned,
        }
    }

    /// `InitializeListHead`: both links point at the head itself, which means empty.
    ///
    /// Once only: a head already initialised is left as it is, since making it empty again
    /// would orphan every block linked to it (never returned to its list: a pool leak at
    /// unload). [`Chain::push_front`] initialises the head itself when it has not been.
    pub fn init(self: Pin<&mut Self>) {
        if !self.head_links().0.is_null() {
            return;
        }
        let head = self.head.get();
        // SAFETY: `head` is this pinned chain's own entry; `&mut self` rules out other access.
        unsafe {
            head.write(LIST_ENTRY {
                Flink: head,
                Blink: head,
            });
        }
    }

    /// `IsListEmpty` (a head never initialised is empty too).
    #[must_use]
    pub fn is_empty(&self) -> bool {
        let head = self.head.get();
        // SAFETY: reading the head's own link; no `&mut` to it exists while `&self` does.
        let first = unsafe { (*head).Flink };
        first.is_null() || first == head
    }

    /// The lookaside list the chain's blocks come from.
    #[must_use]
    pub const fn source(&self) -> &'list LookasideList<T> {
        self.source
    }

    /// The head's address, for `!list` and `dt`.
    #[must_use]
    pub const fn head_address(&self) -> *const LIST_ENTRY {
        self.head.get()
    }

    /// `InsertHeadList`: links `block` first and keeps it until it is popped.
    ///
    /// A block of another lookaside list than the chain's stops the system
    /// ([`crate::invalid_argument`]): the chain would later return it to the wrong list.
    // One caller: inlined there, it needs no frame or unwind entry of its own (measured: a
    // smaller driver).
    #[allow(clippy::inline_always, reason = "one caller; measured smaller")]
    #[inline(always)]
    pub fn push_front(mut self: Pin<&mut Self>, block: Block<'list, T>) {
        if !ptr::eq(block.list(), self.source) {
            crate::invalid_argument();
        }
        if self.head_links().0.is_null() {
            self.as_mut().init();
        }
        let head = self.head.get();
        let entry = entry_of(block.into_raw());
        let (first, _) = self.head_links();
        // SAFETY: `first` is a linked entry (or the head) of this chain, a live LIST_ENTRY.
        if unsafe { (*first).Blink } != head {
            crate::corrupt_list_entry();
        }
        // SAFETY: `entry` is the LIST_ENTRY of a block this chain now owns alone.
        unsafe {
            entry.write(LIST_ENTRY {
                Flink: first,
                Blink: head,
            });
        }
        // SAFETY: `first` is live and linked (checked above); the chain is pinned and borrowed
        // mutably, so no one else touches its links.
        unsafe { (*first).Blink = entry };
        // SAFETY: `head` is this pinned chain's own head, borrowed mutably with it: it does not
        // move and no one else touches its links.
        unsafe { (*head).Flink = entry };
    }

    /// `RemoveHeadList` + `CONTAINING_RECORD`: unlinks the first block and hands it back.
    #[must_use]
    pub fn pop_front(self: Pin<&mut Self>) -> Option<Block<'list, T>> {
        if self.is_empty() {
            return None;
        }
        let head = self.head.get();
        let (entry, _) = self.head_links();
        // SAFETY: the chain is not empty, so `entry` is a linked, live LIST_ENTRY of a block.
        let LIST_ENTRY {
            Flink: next,
            Blink: back,
        } = unsafe { entry.read() };
        // SAFETY: `next` is the entry after `entry` (or the head), live while linked.
        if back != head || unsafe { (*next).Blink } != entry {
            crate::corrupt_list_entry();
        }
        // SAFETY: `next` is live (checked above) and the pinned chain is borrowed mutably.
        unsafe { (*next).Blink = head };
        // SAFETY: `head` is this pinned chain's own head, borrowed mutably with it: it does not
        // move and no one else touches its links.
        unsafe { (*head).Flink = next };
        let record = entry.wrapping_byte_sub(T::ENTRY_OFFSET).cast::<T>();
        let record = NonNull::new(record)?;
        // SAFETY: every linked entry is that of a block pushed by `push_front`, which took it
        // from `into_raw` of a block of `self.source`; it is unlinked now, so taken back once.
        Some(unsafe { Block::from_raw(record, self.source) })
    }

    const fn head_links(&self) -> (*mut LIST_ENTRY, *mut LIST_ENTRY) {
        // SAFETY: reading the head's own links, which only this chain writes.
        let LIST_ENTRY { Flink, Blink } = unsafe { self.head.get().read() };
        (Flink, Blink)
    }
}

impl<T: Linked> Drop for Chain<'_, T> {
    // One caller: inlined there, it needs no frame or unwind entry of its own (measured: a
    // smaller driver).
    #[allow(clippy::inline_always, reason = "one caller; measured smaller")]
    #[inline(always)]
    fn drop(&mut self) {
        // SAFETY: `drop` never moves `self`; pinning it again for the pops is sound.
        let mut this = unsafe { Pin::new_unchecked(self) };
        let source = this.source;
        while let Some(block) = this.as_mut().pop_front() {
            // Through the list's out-of-line `free`, not an inlined drop (a smaller driver).
            source.free(block);
        }
    }
}

/// The `LIST_ENTRY` inside a record.
const fn entry_of<T: Linked>(record: NonNull<T>) -> *mut LIST_ENTRY {
    record.as_ptr().wrapping_byte_add(T::ENTRY_OFFSET).cast()
}

#[cfg(test)]
mod tests {
    use core::pin::pin;

    use core::mem::offset_of;

    use super::{Chain, Linked};
    use crate::{
        ControlBlock, FromZeros, LIST_ENTRY, ListMode, ListOptions, LookasideList, PoolKind, sim,
    };

    const TAG: u32 = crate::pool_tag(*b"tsTC");

    /// A record with its entry between other fields, as real records have it.
    #[repr(C)]
    struct Record {
        before: u32,
        entry: LIST_ENTRY,
        after: u32,
    }

    // SAFETY: `entry` is a LIST_ENTRY field of `Record`, and `ENTRY_OFFSET` is its offset.
    unsafe impl Linked for Record {
        const ENTRY_OFFSET: usize = offset_of!(Self, entry);
    }

    // SAFETY: integers and two raw pointers: all-zero bytes are a valid `Record`.
    unsafe impl FromZeros for Record {}

    fn list() -> LookasideList<Record> {
        let control = ControlBlock::allocate(ListMode::Shared, TAG).expect("a control block");
        let options = ListOptions {
            pool: PoolKind::NonPaged,
            tag: TAG,
            path: crate::ApiPath::Inline,
            fail_allocation_at: None,
        };
        LookasideList::new(control, options).unwrap_or_else(|_| panic!("an initialised list"))
    }

    #[test]
    fn blocks_come_back_last_in_first_out() {
        sim::reset(sim::Config::default());
        let source = list();
        let mut chain = pin!(Chain::new(&source));
        chain.as_mut().init();
        let first = source.allocate().expect("a block");
        let second = source.allocate().expect("a block");
        let (a, b) = (first.address(), second.address());
        chain.as_mut().push_front(first);
        chain.as_mut().push_front(second);
        assert_eq!(
            chain.as_mut().pop_front().map(|block| block.address()),
            Some(b)
        );
        assert_eq!(
            chain.as_mut().pop_front().map(|block| block.address()),
            Some(a)
        );
        assert!(chain.is_empty());
    }

    #[test]
    fn initialising_a_chain_again_does_not_orphan_its_blocks() {
        sim::reset(sim::Config::default());
        let source = list();
        {
            let mut chain = pin!(Chain::new(&source));
            chain.as_mut().init();
            chain
                .as_mut()
                .push_front(source.allocate().expect("a block"));
            chain
                .as_mut()
                .push_front(source.allocate().expect("a block"));
            chain.as_mut().init();
            assert!(!chain.is_empty(), "the blocks are still linked");
        }
        source.delete().free();
        assert_eq!(sim::outstanding_pool_blocks(), [], "every block came back");
    }

    #[test]
    #[should_panic(expected = "__fastfail(5)")]
    fn a_block_freed_to_another_list_stops_the_system() {
        sim::reset(sim::Config::default());
        let (mine, other) = (list(), list());
        let foreign = other.allocate().expect("a block");
        mine.free(foreign);
    }

    #[test]
    #[should_panic(expected = "__fastfail(5)")]
    fn a_block_of_another_list_stops_the_system() {
        sim::reset(sim::Config::default());
        let (mine, other) = (list(), list());
        let chain = pin!(Chain::new(&mine));
        let foreign = other.allocate().expect("a block");
        chain.push_front(foreign);
    }
}

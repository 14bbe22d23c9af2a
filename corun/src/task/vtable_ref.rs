//! How a task header names its vtable in four bytes: a signed offset from
//! one anchor in this library's static memory (`docs/design/memory.md`,
//! "A 40-byte header").
//!
//! What lives here: [`VtableRef`] (encode at allocation, decode on every
//! call through the vtable) and the table of near copies that keeps the
//! encoding total. What must not: the vtable's contents and the cell layout
//! (`task::raw`), and anything about scheduling.
//!
//! # Rules
//!
//! * A vtable is a constant of the program, so in a statically linked
//!   program it sits in the same image as the anchor, well within 2 GiB of
//!   it: the offset fits an `i32`. That is the fast path: encoding is a
//!   subtraction and a range check, decoding an addition.
//! * A vtable farther away (this library in one shared object, the task's
//!   type instantiated in another) is copied once into [`NEAR`], a static
//!   table of this library, and the copy's offset is used. Copies are
//!   never freed or changed, so every decoded reference is `'static`.
//! * Decoding goes through exposed provenance: every vtable address an
//!   offset can name was exposed when it was encoded.

use std::cell::UnsafeCell;
use std::mem::MaybeUninit;
use std::ptr;
use std::sync::Mutex;

use super::raw::Vtable;

/// Most distinct far vtables a process can use (only programs that link
/// this library dynamically have any): 256 KiB of address space, touched
/// only as copies are made.
const NEAR_SLOTS: usize = 4096;

/// Copies of far vtables, next to the anchor; the anchor is this table.
struct NearTable {
    slots: [UnsafeCell<MaybeUninit<Vtable>>; NEAR_SLOTS],
    /// `(far address, slot)` of every copy made; the lock also serialises
    /// the writes into `slots`.
    made: Mutex<Vec<(usize, usize)>>,
}

// SAFETY: a slot is written once, under `made`'s lock, before its offset is
// handed out (the lock's release and the encoded offset's publication with
// the task order the write before any read); it is never written again.
unsafe impl Sync for NearTable {}

static NEAR: NearTable = NearTable {
    slots: [const { UnsafeCell::new(MaybeUninit::uninit()) }; NEAR_SLOTS],
    made: Mutex::new(Vec::new()),
};

/// The address offsets are counted from.
#[inline(always)]
fn anchor() -> usize {
    ptr::addr_of!(NEAR).addr()
}

/// A `&'static Vtable` as a 4-byte offset from the anchor.
#[derive(Clone, Copy)]
pub(crate) struct VtableRef(i32);

impl VtableRef {
    /// Encodes `v`, copying it next to the anchor if it lies too far away.
    #[inline]
    pub(crate) fn new(v: &'static Vtable) -> VtableRef {
        let addr = ptr::from_ref(v).expose_provenance();
        let dist = addr.wrapping_sub(anchor()) as isize;
        let off = dist as i32;
        if off as isize == dist {
            VtableRef(off)
        } else {
            VtableRef::near_copy(v, addr)
        }
    }

    /// The vtable this names.
    #[inline(always)]
    pub(crate) fn get(self) -> &'static Vtable {
        let addr = anchor().wrapping_add_signed(self.0 as isize);
        // SAFETY: the offset was made by `new` from a `&'static Vtable`
        // whose provenance it exposed (a program constant, or a copy in
        // `NEAR` that is never written again), so this is that reference.
        unsafe { &*ptr::with_exposed_provenance::<Vtable>(addr) }
    }

    /// The offset of `v`'s copy in [`NEAR`], made on first use.
    #[cold]
    #[inline(never)]
    fn near_copy(v: &'static Vtable, far: usize) -> VtableRef {
        let mut made = NEAR.made.lock().unwrap_or_else(|e| e.into_inner());
        let slot = match made.iter().find(|(addr, _)| *addr == far) {
            Some(&(_, slot)) => slot,
            None => {
                let slot = made.len();
                if slot == NEAR_SLOTS {
                    // Every task type needs a vtable the header can name;
                    // there is no safe way to go on.
                    eprintln!(
                        "corun: more than {NEAR_SLOTS} task types whose code lies \
                         outside corun's shared object"
                    );
                    std::process::abort();
                }
                let copy = Vtable { ..*v };
                // SAFETY: slot `slot` has never been handed out, and the
                // lock is held: nobody else reads or writes it.
                unsafe { (*NEAR.slots[slot].get()).write(copy) };
                made.push((far, slot));
                slot
            }
        };
        let copy = NEAR.slots[slot].get().cast::<Vtable>();
        let off = copy.expose_provenance().wrapping_sub(anchor()) as isize;
        // Within `NEAR` itself, a few hundred KiB past the anchor.
        VtableRef(off as i32)
    }
}

#[cfg(test)]
mod tests {
    use std::ptr::NonNull;
    use std::task::Context;

    use super::*;
    use crate::scheduler::shared::CoreShared;
    use crate::task::header::Header;
    use crate::task::raw::PollOutcome;

    unsafe fn poll(_: NonNull<Header>, _: &mut Context<'_>) -> PollOutcome {
        PollOutcome::Pending
    }
    unsafe fn kill(_: NonNull<Header>) -> Option<String> {
        None
    }
    unsafe fn dealloc(_: NonNull<Header>) {}
    unsafe fn name(_: &Header) -> Option<&str> {
        None
    }
    unsafe fn boxed_owner(_: &Header) -> *const CoreShared {
        ptr::null()
    }

    static FAKE: Vtable = Vtable {
        poll,
        kill,
        stage_offset: 40,
        drop_stage: kill,
        dealloc,
        name,
        slab: true,
        boxed_owner,
    };

    #[test]
    fn a_vtable_of_this_image_is_named_directly() {
        assert!(ptr::eq(VtableRef::new(&FAKE).get(), &FAKE));
    }

    #[test]
    fn a_far_vtable_is_named_through_one_near_copy() {
        let far = ptr::from_ref(&FAKE).expose_provenance();
        let a = VtableRef::near_copy(&FAKE, far);
        let b = VtableRef::near_copy(&FAKE, far);
        assert_eq!(a.0, b.0, "one copy per vtable");
        let copy = a.get();
        assert!(!ptr::eq(copy, &FAKE));
        assert_eq!(copy.stage_offset, 40);
        assert!(copy.slab);
        assert_eq!(copy.poll as usize, FAKE.poll as usize);
    }
}

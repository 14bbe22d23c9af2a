//! One io_uring per scheduler thread and the writes in flight on it.
//!
//! Rules:
//! * Every write in flight owns its bytes (a [`Ticket`]) and a clone of
//!   the file's `Arc` here, in `ops`, from the SQE's push until its CQE is
//!   reaped: the kernel reads the buffer and uses the fd until then,
//!   whatever happens to the future that started it (dropped, forgotten).
//! * A short write is pushed again for the rest; the job (the task's
//!   `Pending`) completes only once every byte is written or on the first
//!   error, so the semantics are `write_all`'s.
//! * Dropping the ring waits for every write in flight; if it cannot (the
//!   kernel refuses to wait), it leaks their buffers rather than free
//!   memory the kernel may still read.
//!
//! This file owns the ring and its operations only: it must not decide
//! which writes come here (`placement`), nor touch a `File`'s state, the
//! scheduler or the reactor (its caller registers the ring's fd).

use std::io::{self, Write};
use std::os::fd::{AsRawFd, RawFd};
use std::sync::Arc;

use io_uring::{IoUring, opcode, types};

use crate::fs::spread::Ticket;
use crate::unblock::JobWith;

/// What completes a write: the task's job, run with the outcome.
pub(in crate::fs) type Finish = JobWith<io::Result<()>>;

/// A write in flight.
struct InFlight {
    /// Keeps the fd open until the CQE is reaped.
    file: Arc<std::fs::File>,
    /// Owns the bytes the kernel reads (and the lane place it counts).
    ticket: Ticket,
    /// Bytes of `ticket` already written.
    written: usize,
    finish: Finish,
}

/// The ring of one thread and its writes in flight.
pub(super) struct Ring {
    ring: IoUring,
    /// Writes in flight by slot; the SQE's user data is the slot index.
    ops: Vec<Option<InFlight>>,
    free: Vec<usize>,
    in_flight: usize,
    /// CQEs taken from the ring in one reap, reused.
    cqes: Vec<(u64, i32)>,
}

impl Ring {
    /// Sets up a ring with room for `entries` writes in flight and at most
    /// `workers` kernel worker threads for them (io-wq's bounded workers;
    /// 0 keeps the kernel's default). Fails where io_uring is unavailable
    /// (old kernel, `kernel.io_uring_disabled`, seccomp) or cannot write
    /// at the file position (`IORING_FEAT_RW_CUR_POS`, Linux 5.6).
    pub(super) fn new(entries: u32, workers: u32) -> io::Result<Ring> {
        let ring = IoUring::new(entries.next_power_of_two().max(8))?;
        if !ring.params().is_feature_rw_cur_pos() {
            return Err(io::Error::from_raw_os_error(libc::EOPNOTSUPP));
        }
        if workers > 0 {
            // Best effort: a kernel without the limit keeps its default.
            let _ = ring
                .submitter()
                .register_iowq_max_workers(&mut [workers, 0]);
        }
        Ok(Ring {
            ring,
            ops: Vec::new(),
            free: Vec::new(),
            in_flight: 0,
            cqes: Vec::new(),
        })
    }

    /// The ring's fd: readable while completions wait.
    pub(super) fn fd(&self) -> RawFd {
        self.ring.as_raw_fd()
    }

    /// Waits for at least one completion (tests reap without a scheduler).
    #[cfg(test)]
    pub(super) fn wait(&self) -> io::Result<()> {
        self.ring.submit_and_wait(1).map(drop)
    }

    /// Writes in flight.
    #[cfg(test)]
    pub(super) fn in_flight(&self) -> usize {
        self.in_flight
    }

    /// Starts writing all of `ticket`'s bytes at `file`'s position;
    /// `finish` runs with the outcome when the last byte is written (or
    /// at the first error), from [`Ring::reap`]. If the submission queue
    /// stays full, writes here, now, and finishes at once.
    pub(super) fn write(&mut self, file: Arc<std::fs::File>, ticket: Ticket, finish: Finish) {
        let op = InFlight {
            file,
            ticket,
            written: 0,
            finish,
        };
        let slot = match self.free.pop() {
            Some(i) => {
                self.ops[i] = Some(op);
                i
            }
            None => {
                self.ops.push(Some(op));
                self.ops.len() - 1
            }
        };
        self.in_flight += 1;
        if !self.push(slot) {
            let op = self.take(slot);
            let r = (&*op.file).write_all(op.ticket.bytes());
            drop(op.ticket);
            (op.finish)(r);
            return;
        }
        // One `io_uring_enter` per write; an error leaves the SQE queued
        // for the next submit (each reap submits too).
        let _ = self.ring.submit();
    }

    /// Pushes the SQE writing the rest of slot `slot`; false if the queue
    /// stays full even after a submit.
    fn push(&mut self, slot: usize) -> bool {
        let Some(op) = &self.ops[slot] else {
            return false;
        };
        let rest = &op.ticket.bytes()[op.written..];
        // A write's length is 32 bits; a shorter write continues it.
        let len = rest.len().min(u32::MAX as usize) as u32;
        // Offset -1: at the file position, advancing it, like write(2).
        let sqe = opcode::Write::new(types::Fd(op.file.as_raw_fd()), rest.as_ptr(), len)
            .offset(u64::MAX)
            .build()
            .user_data(slot as u64);
        for _ in 0..2 {
            // SAFETY: the SQE points at `rest` (owned by the ticket in
            // `self.ops[slot]`, a heap buffer that does not move) and at
            // the fd kept open by `op.file`; both stay in `ops` until this
            // SQE's CQE is reaped (`reap`), or forever if `Drop` cannot
            // wait for it.
            if unsafe { self.ring.submission().push(&sqe) }.is_ok() {
                return true;
            }
            let _ = self.ring.submit();
        }
        false
    }

    fn take(&mut self, slot: usize) -> InFlight {
        let op = self.ops[slot].take().expect("io_uring op slot in use");
        self.free.push(slot);
        self.in_flight -= 1;
        op
    }

    /// Takes the completions waiting: pushes the rest of short writes
    /// again and finishes the others (waking their tasks). Returns how
    /// many writes finished.
    pub(super) fn reap(&mut self) -> usize {
        if self.in_flight == 0 {
            return 0;
        }
        let mut cqes = std::mem::take(&mut self.cqes);
        cqes.extend(self.ring.completion().map(|c| (c.user_data(), c.result())));
        let mut done = 0;
        for &(data, res) in &cqes {
            let slot = data as usize;
            if let Some(outcome) = self.advance(slot, res) {
                let op = self.take(slot);
                // Frees the lane place and recycles the buffer before
                // the task is woken.
                drop(op.ticket);
                (op.finish)(outcome);
                done += 1;
            }
        }
        cqes.clear();
        self.cqes = cqes;
        if !self.ring.submission().is_empty() {
            let _ = self.ring.submit();
        }
        done
    }

    /// Counts a CQE result into slot `slot`'s write: `None` while more is
    /// to write (pushed again), or the write's outcome.
    fn advance(&mut self, slot: usize, res: i32) -> Option<io::Result<()>> {
        let op = self.ops.get_mut(slot)?.as_mut()?;
        let outcome = match outcome_of(res, op.ticket.bytes().len() - op.written) {
            Step::Wrote(n) => {
                op.written += n;
                if op.written == op.ticket.bytes().len() {
                    return Some(Ok(()));
                }
                None
            }
            Step::Again => None,
            Step::Done(r) => return Some(r),
        };
        if !self.push(slot) {
            // No room to go on: finish the rest here.
            let op = self.ops[slot].as_ref()?;
            return Some((&*op.file).write_all(&op.ticket.bytes()[op.written..]));
        }
        outcome
    }
}

/// What one CQE result means for a write with `left` bytes to go.
#[derive(Debug)]
pub(super) enum Step {
    /// `n` bytes written (at most `left`).
    Wrote(usize),
    /// Interrupted or refused for now: push the same write again.
    Again,
    /// The write ends here, with this outcome.
    Done(io::Result<()>),
}

/// Classifies a CQE result `res` (bytes, or minus an errno).
pub(super) fn outcome_of(res: i32, left: usize) -> Step {
    if res > 0 {
        return Step::Wrote((res as usize).min(left));
    }
    if res == 0 {
        return Step::Done(Err(io::ErrorKind::WriteZero.into()));
    }
    match -res {
        libc::EINTR | libc::EAGAIN => Step::Again,
        e => Step::Done(Err(io::Error::from_raw_os_error(e))),
    }
}

impl Drop for Ring {
    fn drop(&mut self) {
        while self.in_flight > 0 {
            match self.ring.submit_and_wait(1) {
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => {
                    // Cannot wait: leak what the kernel may still read.
                    for op in self.ops.drain(..).flatten() {
                        std::mem::forget(op);
                    }
                    return;
                }
            }
            self.reap();
        }
    }
}

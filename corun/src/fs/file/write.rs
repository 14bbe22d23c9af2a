//! Starting a borrowed write of a [`File`] where `fs::placement` says it
//! runs: inline on the scheduler thread, on the write lane, or on the
//! blocking pool (or, with `CORUN_FS_URING=1`, a lane write on this
//! thread's io_uring, `fs::uring`). The parent keeps the state machine; this file must not
//! keep state of its own, nor decide where a write runs.

use std::io::{self, Seek, SeekFrom, Write};
use std::task::{Context, Poll, ready};

use super::{File, MAX_CHUNK, Op, State};
use crate::fs::placement::{self, Route};
use crate::fs::spread::Ticket;
use crate::fs::{lane, uring};
use crate::unblock as pool;

impl File {
    /// Starts writing (a prefix of) `src`; returns how many bytes were
    /// taken. The write is in flight when this returns.
    pub(super) fn poll_write_inner(
        &mut self,
        cx: &mut Context<'_>,
        src: &[u8],
    ) -> Poll<io::Result<usize>> {
        ready!(self.poll_idle(cx))?;
        if src.is_empty() {
            return Poll::Ready(Ok(0));
        }
        let ahead = self.ahead();
        if uring::enabled() {
            // Finished ring writes free their lane places before the table
            // asks for one (the scheduler reaps only between batches).
            uring::reap();
        }
        let mut ticket = match self.route(src.len(), ahead) {
            Route::Inline => return Poll::Ready(self.inline.write_now(&self.std, src)),
            Route::Lane(ticket) => ticket,
            Route::Pool => return Poll::Ready(Ok(self.start_pool_write(src, ahead))),
        };
        // The caller's slice cannot leave this thread: copy it into the
        // ticket's buffer, which the job owns (and recycles).
        ticket.fill(src);
        if uring::enabled() {
            match self.start_ring(ticket) {
                Ok(()) => return Poll::Ready(Ok(src.len())),
                Err(back) => ticket = back,
            }
        }
        self.start_via(lane::submit, move |f, _| {
            let r = (&*f).write_all(ticket.bytes());
            // Frees the place before the task is woken.
            drop(ticket);
            Op::Write(r)
        });
        Poll::Ready(Ok(src.len()))
    }

    /// Starts the ticket's write on this thread's io_uring (`fs::uring`)
    /// as the one operation in flight; gives the ticket back where no ring
    /// can take it (the lane then does). Only call when idle.
    fn start_ring(&mut self, ticket: Ticket) -> Result<(), Ticket> {
        let State::Idle(buf) = &mut self.state else {
            unreachable!("File::start_ring while busy");
        };
        let mut pending = None;
        uring::write(&self.std, ticket, || {
            let buf = std::mem::take(buf);
            let (finish, p) = pool::job_with(move |r: io::Result<()>| (Op::Write(r), buf));
            pending = Some(p);
            finish
        })?;
        if let Some(p) = pending {
            self.state = State::Busy(p);
        }
        Ok(())
    }

    /// Unread read-ahead in the idle buffer (only call when idle).
    pub(super) fn ahead(&self) -> usize {
        match &self.state {
            State::Idle(buf) => buf.ahead(),
            State::Busy(_) => unreachable!("File::ahead while busy"),
        }
    }

    /// Where a write of `len` bytes runs (the table in `fs::placement`);
    /// the one decision that both `write` and `write_all_owned` make.
    pub(super) fn route(&mut self, len: usize, ahead: usize) -> Route {
        placement::route(&mut self.inline, len, ahead)
    }

    /// Starts a pool write of (a prefix of) `src`, first seeking back over
    /// `ahead` bytes of read-ahead; returns how many bytes it took.
    fn start_pool_write(&mut self, src: &[u8], ahead: usize) -> usize {
        let State::Idle(buf) = &mut self.state else {
            unreachable!("File::start_pool_write while busy");
        };
        let n = src.len().min(MAX_CHUNK);
        buf.data.clear();
        buf.data.extend_from_slice(&src[..n]);
        buf.pos = buf.data.len(); // nothing ahead: the data is outgoing
        self.start(move |f, buf| {
            if ahead > 0 {
                if let Err(e) = (&*f).seek(SeekFrom::Current(-(ahead as i64))) {
                    buf.clear();
                    return Op::Write(Err(e));
                }
            }
            let r = (&*f).write_all(&buf.data);
            buf.clear();
            Op::Write(r)
        });
        n
    }
}

//! Where a write of a [`File`] runs, and starting a borrowed write there:
//! inline on the scheduler thread, on the write lane, or on the blocking
//! pool (`File::route`, shared with `write_all_owned`). The parent keeps
//! the state machine; this file must not keep state of its own, nor decide
//! policy (`inline::Policy` and `spread` do).

use std::io::{self, Seek, SeekFrom, Write};
use std::task::{Context, Poll, ready};

use super::{File, MAX_CHUNK, Op, State};
use crate::fs::{lane, spread};

/// Where one write runs (see `File::route`).
pub(super) enum Route {
    /// Here, on the scheduler thread.
    Inline,
    /// On the write lane, holding one of its places.
    Lane(spread::Ticket),
    /// On the blocking pool.
    Pool,
}

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
        let mut ticket = match self.route(src.len(), ahead) {
            Route::Inline => return Poll::Ready(self.inline.write_now(&self.std, src)),
            Route::Lane(ticket) => ticket,
            Route::Pool => return Poll::Ready(Ok(self.start_pool_write(src, ahead))),
        };
        // The caller's slice cannot leave this thread: copy it into the
        // ticket's buffer, which the job owns (and recycles).
        ticket.fill(src);
        self.start_via(lane::submit, move |f, _| {
            let r = (&*f).write_all(ticket.bytes());
            // Frees the place before the task is woken.
            drop(ticket);
            Op::Write(r)
        });
        Poll::Ready(Ok(src.len()))
    }

    /// Unread read-ahead in the idle buffer (only call when idle).
    pub(super) fn ahead(&self) -> usize {
        match &self.state {
            State::Idle(buf) => buf.ahead(),
            State::Busy(_) => unreachable!("File::ahead while busy"),
        }
    }

    /// Where a write of `len` bytes runs; the one decision that both
    /// `write` and `write_all_owned` make. An inline-able write (nothing
    /// read ahead to seek back over) runs on this thread unless `spread`
    /// moves it to the write lane, so another core does the copying into
    /// the page cache; anything else goes to the pool.
    pub(super) fn route(&mut self, len: usize, ahead: usize) -> Route {
        if ahead == 0 && self.inline.may_write(len) {
            spread::offload().map_or(Route::Inline, Route::Lane)
        } else {
            Route::Pool
        }
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

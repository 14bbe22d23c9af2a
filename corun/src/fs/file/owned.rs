//! [`File::write_all_owned`]: a write that takes its buffer by value, so
//! that it can run on another thread without copying the bytes first.
//!
//! [`File::write_all`] borrows the caller's slice. A borrowed slice cannot
//! leave the scheduler thread (the future may be dropped, or forgotten,
//! while another thread still reads it), so a write moved to the write
//! lane or the pool is copied into a buffer the job owns. An owned `Vec`
//! goes to that thread itself and comes back when the write is done. Where
//! each write runs (inline, lane or pool) is the parent's decision
//! (`File::route`); this file only carries the vector through the parent's
//! state machine (`Op::WriteVec`), and must not keep any state of its own.

use std::future::poll_fn;
use std::io::{self, Write};

use super::{File, Op, Route};
use crate::fs::lane;
use crate::unblock as pool;

impl File {
    /// Writes all of `buf` and gives the buffer back, like
    /// [`write_all`](File::write_all) but taking the buffer by value.
    ///
    /// Use it for bulk writes from many tasks: when the write moves off
    /// the scheduler thread (to spread writing over the cores, see "What
    /// blocks and what does not" in [`crate::fs`]), the vector goes with it
    /// instead of being copied. Same ordering, errors and completion as
    /// `write_all`: it completes when the OS has taken every byte. If the
    /// future is dropped while the write runs on another thread, the write
    /// finishes there, the vector is dropped, and the next operation on the
    /// file returns the write's error, if any.
    ///
    /// ```
    /// corun::run(async {
    ///     let path = std::env::temp_dir().join(format!("corun-doc-owned-{}", std::process::id()));
    ///     let mut f = corun::fs::File::create(&path).await.unwrap();
    ///     let mut buf = vec![b'x'; 4096];
    ///     for _ in 0..3 {
    ///         let (r, back) = f.write_all_owned(buf).await;
    ///         r.unwrap();
    ///         buf = back; // the same allocation, for the next write
    ///     }
    ///     assert_eq!(buf.len(), 4096);
    ///     assert_eq!(corun::fs::metadata(&path).await.unwrap().len(), 3 * 4096);
    ///     corun::fs::remove_file(&path).await.unwrap();
    /// });
    /// ```
    pub async fn write_all_owned(&mut self, buf: Vec<u8>) -> (io::Result<()>, Vec<u8>) {
        if let Err(e) = poll_fn(|cx| self.poll_idle(cx)).await {
            return (Err(e), buf);
        }
        if self.ahead() > 0 {
            // Read-ahead to seek back over first: the borrowed path does
            // that (with one copy); it is rare enough.
            let r = self.write_all(&buf).await;
            return (r, buf);
        }
        let mut done = 0;
        while done < buf.len() {
            // The same decision as a borrowed write (`File::route`); only
            // what travels to another thread differs.
            let (submit, ticket): (fn(pool::Job), _) = match self.route(buf.len() - done, 0) {
                Route::Inline => match self.inline.write_now(&self.std, &buf[done..]) {
                    Ok(n) => {
                        done += n;
                        continue;
                    }
                    Err(e) => return (Err(e), buf),
                },
                Route::Lane(ticket) => (lane::submit, Some(ticket)),
                Route::Pool => (pool::submit, None),
            };
            self.start_via(submit, move |f, _| {
                let r = (&*f).write_all(&buf[done..]);
                // Frees a lane place before the task is woken.
                drop(ticket);
                Op::WriteVec(r, buf)
            });
            return self.finish_owned().await;
        }
        (Ok(()), buf)
    }

    /// Waits for the owned write just started and takes its vector back.
    async fn finish_owned(&mut self) -> (io::Result<()>, Vec<u8>) {
        match poll_fn(|cx| self.poll_finish(cx)).await {
            Some(Op::WriteVec(r, buf)) => (r, buf),
            // The job started by the caller is the only one in flight, so
            // it is the one that finished; these arms cannot run.
            Some(other) => (self.settle(other).and(Err(super::busy_error())), Vec::new()),
            None => (Err(super::busy_error()), Vec::new()),
        }
    }
}

//! The `futures-io` traits for [`File`] (`AsyncRead`, `AsyncWrite`,
//! `AsyncSeek`), so files compose with ecosystem code. Thin adapters over
//! `File`'s own poll methods in the parent module; they must not keep any
//! state of their own nor bypass the parent's state machine.

use std::io::{self, Seek, SeekFrom};
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use super::{File, Op};

impl futures_io::AsyncRead for File {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        self.get_mut().poll_read_inner(cx, buf)
    }
}

impl futures_io::AsyncWrite for File {
    /// Writes `buf` inline when the policy allows (see [`crate::fs`]);
    /// otherwise copies (up to 2 MiB of) it and starts writing it on the
    /// pool, returning at once if no earlier write is in flight; errors of
    /// a pool write show at the next call.
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.get_mut().poll_write_inner(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().poll_idle(cx)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().poll_idle(cx)
    }
}

impl futures_io::AsyncSeek for File {
    /// Seeks. If the returned `Pending` is followed by a poll with a
    /// different `pos`, the seek already started wins (its result is
    /// returned).
    fn poll_seek(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        pos: SeekFrom,
    ) -> Poll<io::Result<u64>> {
        let this = self.get_mut();
        loop {
            match ready!(this.poll_finish(cx)) {
                Some(Op::Seek(r)) => return Poll::Ready(r),
                Some(op) => this.settle(op)?,
                None => {}
            }
            this.start(move |f, buf| {
                // The user's position is the OS position minus read-ahead.
                let ahead = buf.ahead() as i64;
                buf.clear();
                let pos = match pos {
                    SeekFrom::Current(n) => match n.checked_sub(ahead) {
                        Some(n) => SeekFrom::Current(n),
                        None => {
                            return Op::Seek(Err(io::Error::new(
                                io::ErrorKind::InvalidInput,
                                "seek offset overflows",
                            )));
                        }
                    },
                    other => other,
                };
                Op::Seek((&*f).seek(pos))
            });
        }
    }
}

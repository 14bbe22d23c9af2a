//! The read path of a [`File`]: `read`, `read_to_end`, `read_to_string`
//! and the poll they share, which serves read-ahead first and then reads
//! inline or on the pool. The parent keeps the state machine and the
//! buffer; this file must not keep state of its own, nor decide where an
//! operation runs (`inline::Policy` does).

use std::future::poll_fn;
use std::io::{self, Read};
use std::task::{Context, Poll, ready};

use super::{File, MAX_CHUNK, Op, State, busy_error};

impl File {
    pub(super) fn poll_read_inner(
        &mut self,
        cx: &mut Context<'_>,
        out: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        loop {
            match ready!(self.poll_finish(cx)) {
                Some(Op::Read(Ok(0))) => return Poll::Ready(Ok(0)),
                Some(op) => self.settle(op)?,
                None => {}
            }
            let State::Idle(buf) = &mut self.state else {
                continue;
            };
            if buf.ahead() > 0 {
                let n = buf.ahead().min(out.len());
                out[..n].copy_from_slice(&buf.data[buf.pos..buf.pos + n]);
                buf.pos += n;
                return Poll::Ready(Ok(n));
            }
            if out.is_empty() {
                return Poll::Ready(Ok(0));
            }
            if let Some(r) = self.inline.read(&self.std, out) {
                return Poll::Ready(r);
            }
            let want = out.len().min(MAX_CHUNK);
            self.start(move |f, buf| {
                buf.data.clear();
                buf.data.resize(want, 0);
                let r = (&*f).read(&mut buf.data);
                buf.data.truncate(*r.as_ref().unwrap_or(&0));
                Op::Read(r)
            });
        }
    }

    /// Reads some bytes into `buf`; returns how many (0 at end of file).
    ///
    /// ```
    /// corun::run(async {
    ///     let path = std::env::temp_dir().join(format!("corun-doc-read-{}", std::process::id()));
    ///     corun::fs::write(&path, b"xyz").await.unwrap();
    ///     let mut f = corun::fs::File::open(&path).await.unwrap();
    ///     let mut buf = [0u8; 8];
    ///     let n = f.read(&mut buf).await.unwrap();
    ///     assert_eq!(&buf[..n], b"xyz");
    ///     assert_eq!(f.read(&mut buf).await.unwrap(), 0);
    ///     corun::fs::remove_file(&path).await.unwrap();
    /// });
    /// ```
    pub async fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        poll_fn(|cx| self.poll_read_inner(cx, buf)).await
    }

    /// Reads everything up to end of file, appending to `out`; returns how
    /// many bytes were appended.
    ///
    /// ```
    /// corun::run(async {
    ///     let path = std::env::temp_dir().join(format!("corun-doc-rte-{}", std::process::id()));
    ///     corun::fs::write(&path, vec![7u8; 100_000]).await.unwrap();
    ///     let mut f = corun::fs::File::open(&path).await.unwrap();
    ///     let mut v = Vec::new();
    ///     assert_eq!(f.read_to_end(&mut v).await.unwrap(), 100_000);
    ///     assert!(v.iter().all(|&b| b == 7));
    ///     corun::fs::remove_file(&path).await.unwrap();
    /// });
    /// ```
    pub async fn read_to_end(&mut self, out: &mut Vec<u8>) -> io::Result<usize> {
        poll_fn(|cx| self.poll_idle(cx)).await?;
        let start = out.len();
        if let State::Idle(buf) = &mut self.state {
            out.extend_from_slice(&buf.data[buf.pos..]);
            buf.clear();
        }
        // Inline while the data is cached; the pool reads the rest.
        loop {
            match self.inline.read_append(&self.std, out) {
                Some(Ok(0)) => return Ok(out.len() - start),
                Some(Ok(_)) => {}
                Some(Err(e)) => return Err(e),
                None => break,
            }
        }
        // An empty vector moves into the job and back (no copy); otherwise
        // the job reads into a fresh one that is appended afterwards.
        let mut v = if out.is_empty() {
            std::mem::take(out)
        } else {
            Vec::new()
        };
        self.start(move |f, _| {
            let r = (&*f).read_to_end(&mut v);
            Op::ReadToEnd(r, v)
        });
        match poll_fn(|cx| self.poll_finish(cx)).await {
            Some(Op::ReadToEnd(r, v)) => {
                if out.is_empty() {
                    *out = v;
                } else {
                    out.extend_from_slice(&v);
                }
                r.map(|_| out.len() - start)
            }
            _ => Err(busy_error()),
        }
    }

    /// Reads everything up to end of file as UTF-8, appending to `out`.
    /// On invalid UTF-8, returns `InvalidData` and leaves `out` unchanged.
    ///
    /// ```
    /// corun::run(async {
    ///     let path = std::env::temp_dir().join(format!("corun-doc-rts-{}", std::process::id()));
    ///     corun::fs::write(&path, "héllo").await.unwrap();
    ///     let mut s = String::new();
    ///     corun::fs::File::open(&path).await.unwrap().read_to_string(&mut s).await.unwrap();
    ///     assert_eq!(s, "héllo");
    ///     corun::fs::remove_file(&path).await.unwrap();
    /// });
    /// ```
    pub async fn read_to_string(&mut self, out: &mut String) -> io::Result<usize> {
        let mut v = Vec::new();
        self.read_to_end(&mut v).await?;
        let s = String::from_utf8(v).map_err(|_| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                "stream did not contain valid UTF-8",
            )
        })?;
        out.push_str(&s);
        Ok(s.len())
    }
}

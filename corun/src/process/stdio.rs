//! A child's piped standard streams as corun streams: [`ChildStdin`]
//! (write), [`ChildStdout`] and [`ChildStderr`] (read). Each owns its end
//! of the pipe, non-blocking and registered with the reactor of the
//! scheduler that spawned the child; dropping [`ChildStdin`] closes the
//! child's input (it reads end-of-file).
//!
//! This file must not wait for or signal the child (`mod.rs` does).

use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::pin::Pin;
use std::task::{Context, Poll};

use crate::io::Async;

/// Reads into `buf` until end-of-file; the number of bytes added.
async fn read_to_end(io: &Async<File>, buf: &mut Vec<u8>) -> io::Result<usize> {
    let start = buf.len();
    let mut chunk = [0u8; 8192];
    loop {
        let n = io.read_with(|mut f| f.read(&mut chunk)).await?;
        if n == 0 {
            return Ok(buf.len() - start);
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// Reads until end-of-file as UTF-8 (`InvalidData`, appending nothing, if
/// the bytes are not).
async fn read_to_string(io: &Async<File>, s: &mut String) -> io::Result<usize> {
    let mut bytes = Vec::new();
    let n = read_to_end(io, &mut bytes).await?;
    let text = String::from_utf8(bytes).map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            "stream did not contain valid UTF-8",
        )
    })?;
    s.push_str(&text);
    Ok(n)
}

/// Wraps a pipe end std handed us as a non-blocking, registered file.
fn register(fd: OwnedFd) -> io::Result<Async<File>> {
    Async::new_owned(File::from(fd))
}

/// Defines a reading end (`ChildStdout`, `ChildStderr`): `$field` is the
/// `Child` field and `Command` method, `$redir` the shell redirection that
/// sends `echo`'s output there (for the doc examples).
macro_rules! reader {
    ($(#[$doc:meta])* $name:ident, $std:ty, $field:ident, $redir:literal) => {
        $(#[$doc])*
        #[derive(Debug)]
        pub struct $name {
            io: Async<File>,
        }

        impl $name {
            pub(super) fn new(std: $std) -> io::Result<$name> {
                Ok($name {
                    io: register(OwnedFd::from(std))?,
                })
            }

            /// Reads some bytes the child wrote; 0 at end-of-file (the
            /// child closed the stream, usually by exiting).
            ///
            /// ```
            /// use std::process::Stdio;
            /// use corun::process::Command;
            ///
            /// corun::run(async {
            #[doc = concat!("    let mut child = Command::new(\"sh\").args([\"-c\", \"echo hi", $redir, "\"])")]
            #[doc = concat!("        .", stringify!($field), "(Stdio::piped()).spawn().unwrap();")]
            #[doc = concat!("    let pipe = child.", stringify!($field), ".take().unwrap();")]
            ///     let mut buf = [0u8; 16];
            ///     assert!(pipe.read(&mut buf).await.unwrap() > 0);
            ///     child.wait().await.unwrap();
            /// });
            /// ```
            pub async fn read(&self, buf: &mut [u8]) -> io::Result<usize> {
                self.io.read_with(|mut f| f.read(buf)).await
            }

            /// Reads until end-of-file, appending to `buf`; returns how
            /// many bytes were added.
            ///
            /// ```
            /// use std::process::Stdio;
            /// use corun::process::Command;
            ///
            /// corun::run(async {
            #[doc = concat!("    let mut child = Command::new(\"sh\").args([\"-c\", \"echo hi", $redir, "\"])")]
            #[doc = concat!("        .", stringify!($field), "(Stdio::piped()).spawn().unwrap();")]
            #[doc = concat!("    let pipe = child.", stringify!($field), ".take().unwrap();")]
            ///     let mut all = Vec::new();
            ///     pipe.read_to_end(&mut all).await.unwrap();
            ///     assert_eq!(all, b"hi\n");
            ///     child.wait().await.unwrap();
            /// });
            /// ```
            pub async fn read_to_end(&self, buf: &mut Vec<u8>) -> io::Result<usize> {
                read_to_end(&self.io, buf).await
            }

            /// Reads until end-of-file as UTF-8, appending to `s`
            /// (`InvalidData`, appending nothing, if it is not UTF-8).
            ///
            /// ```
            /// use std::process::Stdio;
            /// use corun::process::Command;
            ///
            /// corun::run(async {
            #[doc = concat!("    let mut child = Command::new(\"sh\").args([\"-c\", \"echo hi", $redir, "\"])")]
            #[doc = concat!("        .", stringify!($field), "(Stdio::piped()).spawn().unwrap();")]
            #[doc = concat!("    let pipe = child.", stringify!($field), ".take().unwrap();")]
            ///     let mut text = String::new();
            ///     pipe.read_to_string(&mut text).await.unwrap();
            ///     assert_eq!(text, "hi\n");
            ///     child.wait().await.unwrap();
            /// });
            /// ```
            pub async fn read_to_string(&self, s: &mut String) -> io::Result<usize> {
                read_to_string(&self.io, s).await
            }
        }

        impl futures_io::AsyncRead for $name {
            fn poll_read(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &mut [u8],
            ) -> Poll<io::Result<usize>> {
                self.io.poll_read_with(cx, |mut f| f.read(buf))
            }
        }

        impl AsFd for $name {
            fn as_fd(&self) -> BorrowedFd<'_> {
                self.io.as_fd()
            }
        }

        impl AsRawFd for $name {
            fn as_raw_fd(&self) -> RawFd {
                self.io.as_raw_fd()
            }
        }
    };
}

reader!(
    /// The reading end of a child's standard output, when spawned with
    /// `stdout(Stdio::piped())`: an `AsyncRead`, and a few read methods of
    /// its own.
    ///
    /// ```
    /// use std::process::Stdio;
    /// use corun::process::Command;
    ///
    /// corun::run(async {
    ///     let mut child = Command::new("echo").arg("hello").stdout(Stdio::piped()).spawn().unwrap();
    ///     let mut out = String::new();
    ///     child.stdout.take().unwrap().read_to_string(&mut out).await.unwrap();
    ///     assert_eq!(out, "hello\n");
    ///     assert!(child.wait().await.unwrap().success());
    /// });
    /// ```
    ChildStdout,
    std::process::ChildStdout,
    stdout,
    ""
);

reader!(
    /// The reading end of a child's standard error, when spawned with
    /// `stderr(Stdio::piped())`: an `AsyncRead`, and a few read methods of
    /// its own.
    ///
    /// ```
    /// use std::process::Stdio;
    /// use corun::process::Command;
    ///
    /// corun::run(async {
    ///     let mut child = Command::new("sh").args(["-c", "echo oops >&2"])
    ///         .stderr(Stdio::piped()).spawn().unwrap();
    ///     let mut err = String::new();
    ///     child.stderr.take().unwrap().read_to_string(&mut err).await.unwrap();
    ///     assert_eq!(err, "oops\n");
    ///     child.wait().await.unwrap();
    /// });
    /// ```
    ChildStderr,
    std::process::ChildStderr,
    stderr,
    " >&2"
);

/// The writing end of a child's standard input, when spawned with
/// `stdin(Stdio::piped())`: an `AsyncWrite`, and `write`/`write_all` of its
/// own. Drop it to close the child's input (the child reads end-of-file);
/// [`Child::wait`](super::Child::wait) drops it first, so a child waiting
/// for the end of its input cannot deadlock the wait.
///
/// ```
/// use std::process::Stdio;
/// use corun::process::Command;
///
/// corun::run(async {
///     let mut child = Command::new("cat")
///         .stdin(Stdio::piped())
///         .stdout(Stdio::piped())
///         .spawn()
///         .unwrap();
///     let input = child.stdin.take().unwrap();
///     input.write_all(b"round trip").await.unwrap();
///     drop(input); // end-of-file for cat
///     let output = child.wait_with_output().await.unwrap();
///     assert_eq!(output.stdout, b"round trip");
/// });
/// ```
#[derive(Debug)]
pub struct ChildStdin {
    io: Async<File>,
}

impl ChildStdin {
    pub(super) fn new(std: std::process::ChildStdin) -> io::Result<ChildStdin> {
        Ok(ChildStdin {
            io: register(OwnedFd::from(std))?,
        })
    }

    /// Writes some of `buf`; how many bytes the pipe took. A child that
    /// closed its input makes this fail with `BrokenPipe`.
    ///
    /// ```
    /// use std::process::Stdio;
    /// use corun::process::Command;
    ///
    /// corun::run(async {
    ///     let mut child = Command::new("cat").stdin(Stdio::piped()).stdout(Stdio::null()).spawn().unwrap();
    ///     let n = child.stdin.as_ref().unwrap().write(b"abc").await.unwrap();
    ///     assert!(n > 0);
    ///     child.wait().await.unwrap();
    /// });
    /// ```
    pub async fn write(&self, buf: &[u8]) -> io::Result<usize> {
        self.io.write_with(|mut f| f.write(buf)).await
    }

    /// Writes all of `buf`, waiting while the pipe is full.
    ///
    /// ```
    /// use std::process::Stdio;
    /// use corun::process::Command;
    ///
    /// corun::run(async {
    ///     let mut child = Command::new("wc").arg("-c").stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().unwrap();
    ///     // More than a pipe holds: wc reads while we write.
    ///     child.stdin.take().unwrap().write_all(&[b'x'; 200_000]).await.unwrap();
    ///     let out = child.wait_with_output().await.unwrap();
    ///     assert_eq!(String::from_utf8(out.stdout).unwrap().trim(), "200000");
    /// });
    /// ```
    pub async fn write_all(&self, mut buf: &[u8]) -> io::Result<()> {
        while !buf.is_empty() {
            match self.write(buf).await? {
                0 => {
                    return Err(io::Error::new(
                        io::ErrorKind::WriteZero,
                        "the child's input accepted no bytes",
                    ));
                }
                n => buf = &buf[n..],
            }
        }
        Ok(())
    }
}

impl futures_io::AsyncWrite for ChildStdin {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.io.poll_write_with(cx, |mut f| f.write(buf))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        // A pipe has no user-space buffer to flush.
        Poll::Ready(Ok(()))
    }

    /// Nothing to do: dropping the `ChildStdin` closes the pipe.
    fn poll_close(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

impl AsFd for ChildStdin {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.io.as_fd()
    }
}

impl AsRawFd for ChildStdin {
    fn as_raw_fd(&self) -> RawFd {
        self.io.as_raw_fd()
    }
}

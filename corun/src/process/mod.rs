//! Child processes: [`Command`] spawns them, [`Child`] waits for and kills
//! them, and their piped standard streams are corun streams
//! ([`ChildStdin`], [`ChildStdout`], [`ChildStderr`]), all without
//! blocking the scheduler.
//!
//! ```
//! use corun::process::Command;
//!
//! corun::run(async {
//!     let out = Command::new("sh").args(["-c", "echo out; echo err >&2; exit 3"]).output().await.unwrap();
//!     assert_eq!(out.stdout, b"out\n");
//!     assert_eq!(out.stderr, b"err\n");
//!     assert_eq!(out.status.code(), Some(3));
//! });
//! ```
//!
//! # What to expect
//!
//! * [`Command`] mirrors `std::process::Command` (and tokio's): the same
//!   builder methods, with `spawn`, and `status`/`output` as futures.
//!   Spawning itself (`fork`/`exec`) happens on the calling thread, as
//!   with std; it is quick, and reports a missing program at once.
//! * Waiting never blocks the scheduler: on Linux 5.3+ a pidfd of the child
//!   is registered with the reactor like a socket; elsewhere (or where
//!   `pidfd_open` is refused) the wait listens for `SIGCHLD` through
//!   [`crate::signal`], which installs a process-wide `SIGCHLD` handler.
//! * No zombies: a [`Child`] dropped before its exit was collected (killed
//!   or not) is handed to a reaper thread (started at the first such
//!   child) that collects the exit when it comes. Dropping does not kill
//!   the child unless [`Command::kill_on_drop`] says so.
//! * A child is spawned from a corun scheduler thread (its pipes and exit
//!   watcher are registered with that scheduler's reactor); elsewhere
//!   `spawn` fails with an `io::Error` and starts nothing.
//!
//! This module must not touch task or scheduler internals: it uses the
//! reactor through [`crate::io::Async`] and signals through
//! [`crate::signal`].

mod reaper;
mod stdio;
mod wait;

use std::ffi::OsStr;
use std::fmt;
use std::future::poll_fn;
use std::io;
use std::path::Path;
use std::task::{Context, Poll};

pub use std::process::{ExitStatus, Output, Stdio};
pub use stdio::{ChildStderr, ChildStdin, ChildStdout};

use wait::Watcher;

/// A process to start: program, arguments, environment, working directory
/// and standard streams, as with `std::process::Command`.
///
/// ```
/// use corun::process::Command;
///
/// corun::run(async {
///     let status = Command::new("true").status().await.unwrap();
///     assert!(status.success());
/// });
/// ```
pub struct Command {
    std: std::process::Command,
    kill_on_drop: bool,
    /// Which streams the user configured (`output` pipes the others).
    set_stdin: bool,
    set_stdout: bool,
    set_stderr: bool,
}

impl Command {
    /// A command that runs `program` (looked up in `PATH` if it has no
    /// slash), with no arguments, the parent's environment and working
    /// directory, and inherited standard streams.
    ///
    /// ```
    /// let cmd = corun::process::Command::new("ls");
    /// assert_eq!(cmd.as_std().get_program(), "ls");
    /// ```
    pub fn new(program: impl AsRef<OsStr>) -> Command {
        Command::from(std::process::Command::new(program))
    }

    /// Adds one argument.
    ///
    /// ```
    /// corun::run(async {
    ///     let out = corun::process::Command::new("echo").arg("hi").output().await.unwrap();
    ///     assert_eq!(out.stdout, b"hi\n");
    /// });
    /// ```
    pub fn arg(&mut self, arg: impl AsRef<OsStr>) -> &mut Command {
        self.std.arg(arg);
        self
    }

    /// Adds several arguments.
    ///
    /// ```
    /// corun::run(async {
    ///     let out = corun::process::Command::new("echo").args(["a", "b"]).output().await.unwrap();
    ///     assert_eq!(out.stdout, b"a b\n");
    /// });
    /// ```
    pub fn args<I, S>(&mut self, args: I) -> &mut Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.std.args(args);
        self
    }

    /// Sets one environment variable for the child.
    ///
    /// ```
    /// corun::run(async {
    ///     let out = corun::process::Command::new("sh").args(["-c", "echo $GREETING"])
    ///         .env("GREETING", "hello").output().await.unwrap();
    ///     assert_eq!(out.stdout, b"hello\n");
    /// });
    /// ```
    pub fn env(&mut self, key: impl AsRef<OsStr>, val: impl AsRef<OsStr>) -> &mut Command {
        self.std.env(key, val);
        self
    }

    /// Sets several environment variables for the child.
    ///
    /// ```
    /// corun::run(async {
    ///     let out = corun::process::Command::new("sh").args(["-c", "echo $A$B"])
    ///         .envs([("A", "1"), ("B", "2")]).output().await.unwrap();
    ///     assert_eq!(out.stdout, b"12\n");
    /// });
    /// ```
    pub fn envs<I, K, V>(&mut self, vars: I) -> &mut Command
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<OsStr>,
        V: AsRef<OsStr>,
    {
        self.std.envs(vars);
        self
    }

    /// Removes one variable from the child's environment.
    ///
    /// ```
    /// corun::run(async {
    ///     let out = corun::process::Command::new("sh").args(["-c", "echo ${HOME:-none}"])
    ///         .env_remove("HOME").output().await.unwrap();
    ///     assert_eq!(out.stdout, b"none\n");
    /// });
    /// ```
    pub fn env_remove(&mut self, key: impl AsRef<OsStr>) -> &mut Command {
        self.std.env_remove(key);
        self
    }

    /// Starts the child with an empty environment (plus what
    /// [`Command::env`] adds).
    ///
    /// ```
    /// corun::run(async {
    ///     let out = corun::process::Command::new("/usr/bin/env").env_clear().env("ONLY", "me")
    ///         .output().await.unwrap();
    ///     assert_eq!(out.stdout, b"ONLY=me\n");
    /// });
    /// ```
    pub fn env_clear(&mut self) -> &mut Command {
        self.std.env_clear();
        self
    }

    /// Sets the child's working directory.
    ///
    /// ```
    /// corun::run(async {
    ///     let out = corun::process::Command::new("pwd").current_dir("/").output().await.unwrap();
    ///     assert_eq!(out.stdout, b"/\n");
    /// });
    /// ```
    pub fn current_dir(&mut self, dir: impl AsRef<Path>) -> &mut Command {
        self.std.current_dir(dir);
        self
    }

    /// Sets the child's standard input: `Stdio::piped()` makes
    /// [`Child::stdin`] a [`ChildStdin`]; also `inherit()` (the default for
    /// `spawn` and `status`) and `null()` (the default for `output`).
    ///
    /// ```
    /// use corun::process::{Command, Stdio};
    /// corun::run(async {
    ///     let out = Command::new("cat").stdin(Stdio::null()).output().await.unwrap();
    ///     assert!(out.stdout.is_empty());
    /// });
    /// ```
    pub fn stdin(&mut self, cfg: impl Into<Stdio>) -> &mut Command {
        self.std.stdin(cfg);
        self.set_stdin = true;
        self
    }

    /// Sets the child's standard output: `Stdio::piped()` makes
    /// [`Child::stdout`] a [`ChildStdout`] (the default for `output`).
    ///
    /// ```
    /// use corun::process::{Command, Stdio};
    /// corun::run(async {
    ///     let out = Command::new("echo").arg("dropped").stdout(Stdio::null()).output().await.unwrap();
    ///     assert!(out.stdout.is_empty());
    /// });
    /// ```
    pub fn stdout(&mut self, cfg: impl Into<Stdio>) -> &mut Command {
        self.std.stdout(cfg);
        self.set_stdout = true;
        self
    }

    /// Sets the child's standard error: `Stdio::piped()` makes
    /// [`Child::stderr`] a [`ChildStderr`] (the default for `output`).
    ///
    /// ```
    /// use corun::process::{Command, Stdio};
    /// corun::run(async {
    ///     let out = Command::new("sh").args(["-c", "echo x >&2"]).stderr(Stdio::null())
    ///         .output().await.unwrap();
    ///     assert!(out.stderr.is_empty());
    /// });
    /// ```
    pub fn stderr(&mut self, cfg: impl Into<Stdio>) -> &mut Command {
        self.std.stderr(cfg);
        self.set_stderr = true;
        self
    }

    /// Whether dropping the [`Child`] before its exit was collected sends
    /// it `SIGKILL` (default: no; it runs on, and is reaped when it exits).
    ///
    /// ```
    /// use corun::process::Command;
    /// corun::run(async {
    ///     let child = Command::new("sleep").arg("1000").kill_on_drop(true).spawn().unwrap();
    ///     drop(child); // killed, and reaped in the background
    /// });
    /// ```
    pub fn kill_on_drop(&mut self, kill: bool) -> &mut Command {
        self.kill_on_drop = kill;
        self
    }

    /// The std command inside, for settings this type does not mirror.
    ///
    /// ```
    /// let mut cmd = corun::process::Command::new("echo");
    /// cmd.arg("x");
    /// assert_eq!(cmd.as_std().get_args().count(), 1);
    /// ```
    pub fn as_std(&self) -> &std::process::Command {
        &self.std
    }

    /// The std command inside, mutably (for example for
    /// `std::os::unix::process::CommandExt`). Streams set here are not
    /// known to [`Command::output`], which pipes stdout and stderr unless
    /// they were set through this type.
    ///
    /// ```
    /// use std::os::unix::process::CommandExt;
    /// corun::run(async {
    ///     let mut cmd = corun::process::Command::new("sh");
    ///     cmd.as_std_mut().arg0("renamed").args(["-c", "echo $0"]);
    ///     assert_eq!(cmd.output().await.unwrap().stdout, b"renamed\n");
    /// });
    /// ```
    pub fn as_std_mut(&mut self) -> &mut std::process::Command {
        &mut self.std
    }

    /// Starts the child. Must run on a corun scheduler thread (the child's
    /// pipes and exit watcher belong to its reactor). A program that cannot
    /// be started fails here (`NotFound` for a missing one).
    ///
    /// ```
    /// use corun::process::Command;
    /// corun::run(async {
    ///     let mut child = Command::new("true").spawn().unwrap();
    ///     assert!(child.id().is_some());
    ///     assert!(child.wait().await.unwrap().success());
    ///     let missing = Command::new("/no/such/program").spawn().unwrap_err();
    ///     assert_eq!(missing.kind(), std::io::ErrorKind::NotFound);
    /// });
    /// ```
    pub fn spawn(&mut self) -> io::Result<Child> {
        if crate::scheduler::context::with_reactor(|_| ()).is_none() {
            return Err(crate::outside::error());
        }
        let std = self.std.spawn()?;
        Child::adopt(std, self.kill_on_drop)
    }

    /// Starts the child with inherited streams (unless set) and waits for
    /// its exit.
    ///
    /// ```
    /// use corun::process::Command;
    /// corun::run(async {
    ///     let status = Command::new("sh").args(["-c", "exit 7"]).status().await.unwrap();
    ///     assert_eq!(status.code(), Some(7));
    /// });
    /// ```
    pub async fn status(&mut self) -> io::Result<ExitStatus> {
        self.spawn()?.wait().await
    }

    /// Starts the child with stdout and stderr piped and stdin null (unless
    /// set), reads both to their end while waiting, and returns them with
    /// the exit status. The settings stay on this `Command`.
    ///
    /// ```
    /// use corun::process::Command;
    /// corun::run(async {
    ///     let out = Command::new("echo").arg("captured").output().await.unwrap();
    ///     assert!(out.status.success());
    ///     assert_eq!(out.stdout, b"captured\n");
    /// });
    /// ```
    pub async fn output(&mut self) -> io::Result<Output> {
        if !self.set_stdin {
            self.stdin(Stdio::null());
        }
        if !self.set_stdout {
            self.stdout(Stdio::piped());
        }
        if !self.set_stderr {
            self.stderr(Stdio::piped());
        }
        self.spawn()?.wait_with_output().await
    }
}

impl From<std::process::Command> for Command {
    /// Wraps a configured std command (its streams count as not set, for
    /// [`Command::output`]).
    ///
    /// ```
    /// corun::run(async {
    ///     let mut std = std::process::Command::new("echo");
    ///     std.arg("from std");
    ///     let out = corun::process::Command::from(std).output().await.unwrap();
    ///     assert_eq!(out.stdout, b"from std\n");
    /// });
    /// ```
    fn from(std: std::process::Command) -> Command {
        Command {
            std,
            kill_on_drop: false,
            set_stdin: false,
            set_stdout: false,
            set_stderr: false,
        }
    }
}

impl fmt::Debug for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.std.fmt(f)
    }
}

/// A running (or exited) child process. Its piped streams are in the
/// public fields; take them to use them apart from the `Child`.
///
/// Dropped before its exit was collected, the child is reaped in the
/// background when it exits (and killed first if
/// [`Command::kill_on_drop`] was set): no zombie is left either way.
///
/// ```
/// use corun::process::Command;
///
/// corun::run(async {
///     let mut child = Command::new("sleep").arg("1000").spawn().unwrap();
///     child.kill().await.unwrap();
///     assert!(!child.wait().await.unwrap().success());
/// });
/// ```
pub struct Child {
    /// The child's standard input, if spawned with `stdin(Stdio::piped())`.
    pub stdin: Option<ChildStdin>,
    /// The child's standard output, if spawned with `stdout(Stdio::piped())`.
    pub stdout: Option<ChildStdout>,
    /// The child's standard error, if spawned with `stderr(Stdio::piped())`.
    pub stderr: Option<ChildStderr>,
    /// The process until its exit is collected; then `None`.
    running: Option<Running>,
    /// The exit status, once collected.
    status: Option<ExitStatus>,
    kill_on_drop: bool,
}

struct Running {
    std: std::process::Child,
    watcher: Watcher,
    /// Under virtual time, the clock holds still until the exit is
    /// collected (a child runs on real time).
    _hold: Option<crate::scheduler::shared::ClockHold>,
}

impl Child {
    /// Wraps a just-spawned std child: makes its watcher (before any
    /// `try_wait`, as `wait.rs` requires) and takes its pipes. On failure
    /// the child is killed and reaped in the background.
    fn adopt(mut std: std::process::Child, kill_on_drop: bool) -> io::Result<Child> {
        let parts = Watcher::new(std.id()).and_then(|watcher| {
            let stdin = std.stdin.take().map(ChildStdin::new).transpose()?;
            let stdout = std.stdout.take().map(ChildStdout::new).transpose()?;
            let stderr = std.stderr.take().map(ChildStderr::new).transpose()?;
            Ok((watcher, stdin, stdout, stderr))
        });
        match parts {
            Ok((watcher, stdin, stdout, stderr)) => Ok(Child {
                stdin,
                stdout,
                stderr,
                running: Some(Running {
                    std,
                    watcher,
                    _hold: crate::scheduler::shared::ClockHold::take(),
                }),
                status: None,
                kill_on_drop,
            }),
            Err(e) => {
                // Started but not watchable: leave nothing behind.
                let _ = std.kill();
                reaper::adopt(std);
                Err(e)
            }
        }
    }

    /// The child's process id, until its exit is collected (then `None`:
    /// the id may belong to another process by then).
    ///
    /// ```
    /// use corun::process::Command;
    /// corun::run(async {
    ///     let mut child = Command::new("true").spawn().unwrap();
    ///     assert!(child.id().is_some());
    ///     child.wait().await.unwrap();
    ///     assert_eq!(child.id(), None);
    /// });
    /// ```
    pub fn id(&self) -> Option<u32> {
        self.running.as_ref().map(|r| r.std.id())
    }

    /// Polls for the child's exit; collects (reaps) it when it has exited.
    /// Once collected, the same status is returned on every call.
    ///
    /// ```
    /// use std::task::{Context, Waker};
    /// use corun::process::Command;
    /// corun::run(async {
    ///     let mut child = Command::new("sleep").arg("1000").spawn().unwrap();
    ///     let mut cx = Context::from_waker(Waker::noop());
    ///     assert!(child.poll_wait(&mut cx).is_pending());
    ///     child.kill().await.unwrap();
    /// });
    /// ```
    pub fn poll_wait(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<ExitStatus>> {
        if let Some(status) = self.status {
            return Poll::Ready(Ok(status));
        }
        let Some(running) = &mut self.running else {
            return Poll::Ready(Err(io::Error::other("corun::process: child lost")));
        };
        let status = match running.watcher.poll_exit(&mut running.std, cx) {
            Poll::Ready(Ok(status)) => status,
            other => return other,
        };
        self.status = Some(status);
        self.running = None;
        Poll::Ready(Ok(status))
    }

    /// Waits for the child to exit and collects its status. Closes the
    /// child's piped stdin first (so a child reading to the end of its
    /// input can finish). The task waits; the scheduler runs the others.
    ///
    /// ```
    /// use corun::process::Command;
    /// corun::run(async {
    ///     let mut child = Command::new("sh").args(["-c", "exit 2"]).spawn().unwrap();
    ///     assert_eq!(child.wait().await.unwrap().code(), Some(2));
    /// });
    /// ```
    pub async fn wait(&mut self) -> io::Result<ExitStatus> {
        drop(self.stdin.take());
        poll_fn(|cx| self.poll_wait(cx)).await
    }

    /// The exit status if the child has exited (collecting it), else
    /// `None`; never waits.
    ///
    /// ```
    /// use corun::process::Command;
    /// corun::run(async {
    ///     let mut child = Command::new("sleep").arg("1000").spawn().unwrap();
    ///     assert!(child.try_wait().unwrap().is_none());
    ///     child.kill().await.unwrap();
    ///     assert!(child.try_wait().unwrap().is_some());
    /// });
    /// ```
    pub fn try_wait(&mut self) -> io::Result<Option<ExitStatus>> {
        if let Some(status) = self.status {
            return Ok(Some(status));
        }
        let Some(running) = &mut self.running else {
            return Err(io::Error::other("corun::process: child lost"));
        };
        let status = running.std.try_wait()?;
        if let Some(status) = status {
            self.status = Some(status);
            self.running = None;
        }
        Ok(status)
    }

    /// Sends the child `SIGKILL` and returns at once; collect its exit with
    /// [`Child::wait`] (or drop the `Child`: it is reaped in the
    /// background). Does nothing if the exit was already collected.
    ///
    /// ```
    /// use corun::process::Command;
    /// corun::run(async {
    ///     let mut child = Command::new("sleep").arg("1000").spawn().unwrap();
    ///     child.start_kill().unwrap();
    ///     let status = child.wait().await.unwrap();
    ///     assert!(!status.success());
    /// });
    /// ```
    pub fn start_kill(&mut self) -> io::Result<()> {
        match &mut self.running {
            Some(running) => running.std.kill(),
            None => Ok(()),
        }
    }

    /// Sends the child `SIGKILL` and waits until its exit is collected.
    ///
    /// ```
    /// use std::os::unix::process::ExitStatusExt;
    /// use corun::process::Command;
    /// corun::run(async {
    ///     let mut child = Command::new("sleep").arg("1000").spawn().unwrap();
    ///     child.kill().await.unwrap();
    ///     assert_eq!(child.try_wait().unwrap().unwrap().signal(), Some(libc::SIGKILL));
    /// });
    /// ```
    pub async fn kill(&mut self) -> io::Result<()> {
        self.start_kill()?;
        self.wait().await.map(drop)
    }

    /// Closes stdin, reads the piped stdout and stderr to their end while
    /// waiting for the exit, and returns all three (a stream that was not
    /// piped comes back empty).
    ///
    /// ```
    /// use corun::process::{Command, Stdio};
    /// corun::run(async {
    ///     let child = Command::new("echo").arg("x").stdout(Stdio::piped()).spawn().unwrap();
    ///     let out = child.wait_with_output().await.unwrap();
    ///     assert_eq!(out.stdout, b"x\n");
    ///     assert!(out.stderr.is_empty());
    /// });
    /// ```
    pub async fn wait_with_output(mut self) -> io::Result<Output> {
        drop(self.stdin.take());
        let (stdout, stderr) = (self.stdout.take(), self.stderr.take());
        let mut out = Vec::new();
        let mut err = Vec::new();
        // Both pipes are read together: a child that fills one while we
        // read the other would otherwise block on it forever.
        let read_out = async {
            match &stdout {
                Some(s) => s.read_to_end(&mut out).await.map(drop),
                None => Ok(()),
            }
        };
        let read_err = async {
            match &stderr {
                Some(s) => s.read_to_end(&mut err).await.map(drop),
                None => Ok(()),
            }
        };
        join2(read_out, read_err).await?;
        let status = self.wait().await?;
        Ok(Output {
            status,
            stdout: out,
            stderr: err,
        })
    }
}

/// Runs two futures to completion together; the first error wins.
async fn join2(
    a: impl std::future::Future<Output = io::Result<()>>,
    b: impl std::future::Future<Output = io::Result<()>>,
) -> io::Result<()> {
    let (mut a, mut b) = (std::pin::pin!(a), std::pin::pin!(b));
    let (mut a_done, mut b_done) = (false, false);
    poll_fn(|cx| {
        if !a_done {
            if let Poll::Ready(r) = a.as_mut().poll(cx) {
                r?;
                a_done = true;
            }
        }
        if !b_done {
            if let Poll::Ready(r) = b.as_mut().poll(cx) {
                r?;
                b_done = true;
            }
        }
        if a_done && b_done {
            Poll::Ready(Ok(()))
        } else {
            Poll::Pending
        }
    })
    .await
}

impl Drop for Child {
    fn drop(&mut self) {
        let Some(mut running) = self.running.take() else {
            return;
        };
        if self.kill_on_drop {
            let _ = running.std.kill();
        }
        // Exited already: collect it now; otherwise the reaper does later.
        if !matches!(running.std.try_wait(), Ok(Some(_))) {
            reaper::adopt(running.std);
        }
    }
}

impl fmt::Debug for Child {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Child")
            .field("id", &self.id())
            .field("status", &self.status)
            .field("stdin", &self.stdin)
            .field("stdout", &self.stdout)
            .field("stderr", &self.stderr)
            .finish()
    }
}

//! Behaviour of `corun::process`: output and status, piped streams read
//! and written while other tasks run, waiting that does not block the
//! scheduler, kill, and no zombie left by kill or drop (pidfd watchers and
//! the SIGCHLD fallback both).
//!
//! Every child is bounded: it exits by itself within `timeout 20` at most,
//! so a scheduler that blocked would make the test fail, not hang.

use std::os::unix::process::ExitStatusExt;
use std::process::Stdio;
use std::time::Duration;

use corun::process::Command;

/// Bound on a wait for the background reaper.
const BOUND: Duration = Duration::from_secs(20);

/// True while `pid` exists (running or a zombie).
fn exists(pid: u32) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
}

/// Waits (bounded) until `pid` is gone: reaped, not a zombie.
async fn gone(pid: u32) -> bool {
    let t0 = std::time::Instant::now();
    while t0.elapsed() < BOUND {
        if !exists(pid) {
            return true;
        }
        corun::sleep(Duration::from_millis(2)).await;
    }
    false
}

#[test]
fn output_collects_stdout_stderr_and_the_exit_code() {
    corun::run(async {
        let out = Command::new("sh")
            .args(["-c", "echo out; echo err >&2; exit 3"])
            .output()
            .await
            .unwrap();
        assert_eq!(out.stdout, b"out\n");
        assert_eq!(out.stderr, b"err\n");
        assert_eq!(out.status.code(), Some(3));
    });
}

#[test]
fn a_missing_program_is_not_found() {
    corun::run(async {
        let err = Command::new("/no/such/program").status().await.unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::NotFound);
    });
}

#[test]
fn spawn_outside_a_scheduler_is_an_error_and_starts_nothing() {
    let err = Command::new("true").spawn().unwrap_err();
    assert!(err.to_string().contains("outside"), "{err}");
}

#[test]
fn a_childs_output_is_read_while_other_tasks_run() {
    corun::run(async {
        // `cat` echoes what another task writes; it ends by itself after
        // 20 s, so a read that blocked the scheduler would see no data
        // and fail the assertion rather than hang.
        let mut child = Command::new("timeout")
            .args(["20", "cat"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take().unwrap();
        let stdout = child.stdout.take().unwrap();
        let reader = corun::spawn(async move {
            let mut text = String::new();
            stdout.read_to_string(&mut text).await.unwrap();
            text
        });
        let writer = corun::spawn(async move {
            for i in 0..3 {
                stdin
                    .write_all(format!("line {i}\n").as_bytes())
                    .await
                    .unwrap();
                corun::yield_now().await;
            }
            // stdin drops: cat reads end-of-file and exits.
        });
        writer.await.unwrap();
        assert_eq!(reader.await.unwrap(), "line 0\nline 1\nline 2\n");
        assert!(child.wait().await.unwrap().success());
    });
}

#[test]
fn waiting_for_a_child_does_not_block_other_tasks() {
    corun::run(async {
        // The child exits once it reads a line (or after 20 s, failing).
        let mut child = Command::new("timeout")
            .args(["20", "sh", "-c", "read line; exit 5"])
            .stdin(Stdio::piped())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take().unwrap();
        let waiter = corun::spawn(async move { child.wait().await.unwrap() });
        corun::yield_now().await; // the waiter now waits
        stdin.write_all(b"go\n").await.unwrap();
        assert_eq!(waiter.await.unwrap().code(), Some(5));
    });
}

#[test]
fn kill_ends_the_child_and_reaps_it() {
    corun::run(async {
        let mut child = Command::new("sleep").arg("1000").spawn().unwrap();
        let pid = child.id().unwrap();
        assert!(child.try_wait().unwrap().is_none());
        child.kill().await.unwrap();
        assert_eq!(
            child.try_wait().unwrap().unwrap().signal(),
            Some(libc::SIGKILL)
        );
        assert_eq!(child.id(), None);
        assert!(!exists(pid), "killed and waited: no zombie");
    });
}

#[test]
fn a_dropped_child_killed_first_leaves_no_zombie() {
    corun::run(async {
        let mut child = Command::new("sleep").arg("1000").spawn().unwrap();
        let pid = child.id().unwrap();
        child.start_kill().unwrap();
        drop(child);
        assert!(gone(pid).await, "the reaper collected {pid}");
    });
}

#[test]
fn kill_on_drop_kills_and_reaps() {
    corun::run(async {
        let child = Command::new("sleep")
            .arg("1000")
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let pid = child.id().unwrap();
        drop(child);
        assert!(gone(pid).await, "killed on drop and reaped: {pid}");
    });
}

#[test]
fn a_dropped_child_that_exits_later_is_reaped_then() {
    corun::run(async {
        // Exits when its stdin closes, after the Child is gone.
        let mut child = Command::new("timeout")
            .args(["20", "cat"])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        let pid = child.id().unwrap();
        let stdin = child.stdin.take().unwrap();
        drop(child);
        assert!(exists(pid), "still running: cat waits for its input");
        drop(stdin);
        assert!(gone(pid).await, "reaped after its exit: {pid}");
    });
}

#[test]
fn children_of_two_schedulers_are_waited_for_independently() {
    let other = corun::Scheduler::start().unwrap();
    let remote = other
        .spawn(async {
            Command::new("sh")
                .args(["-c", "exit 4"])
                .status()
                .await
                .unwrap()
        })
        .unwrap();
    let here = corun::run(async {
        Command::new("sh")
            .args(["-c", "exit 6"])
            .status()
            .await
            .unwrap()
    });
    assert_eq!(here.code(), Some(6));
    assert_eq!(other.block_on(remote).unwrap().unwrap().code(), Some(4));
    other.shutdown().unwrap();
}

/// The SIGCHLD fallback (no pidfd), in a child copy of this test binary so
/// the switch (read once per process) does not affect the other tests.
#[test]
fn sigchld_fallback_waits_kills_and_reaps() {
    if std::env::var_os("CORUN_PROCESS_SIGCHLD").is_some() {
        // Running as the copy: exercise the fallback path.
        corun::run(async {
            let out = Command::new("sh")
                .args(["-c", "echo fb; exit 9"])
                .output()
                .await
                .unwrap();
            assert_eq!(out.stdout, b"fb\n");
            assert_eq!(out.status.code(), Some(9));
            let mut child = Command::new("sleep").arg("1000").spawn().unwrap();
            child.kill().await.unwrap();
            let dropped = Command::new("sleep")
                .arg("1000")
                .kill_on_drop(true)
                .spawn()
                .unwrap();
            let pid = dropped.id().unwrap();
            drop(dropped);
            assert!(gone(pid).await, "fallback reaper collected {pid}");
        });
        return;
    }
    let exe = std::env::current_exe().unwrap();
    let out = std::process::Command::new(exe)
        .args([
            "--exact",
            "sigchld_fallback_waits_kills_and_reaps",
            "--test-threads=1",
        ])
        .env("CORUN_PROCESS_SIGCHLD", "1")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "the fallback run failed: {}\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

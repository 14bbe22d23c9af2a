//! When buffered file writes move off the scheduler thread (`fs::spread`):
//! exactly when the scheduler has other work queued; and owned writes
//! (`File::write_all_owned`) on every path (inline, moved, pool). Its own
//! test binary, because the count of moved writes and the lane's places
//! are process-wide: tests run one at a time here (a lock), so none takes
//! another's places.
//!
//! Must not time anything: every assertion follows from what is queued.

use std::io::SeekFrom;
use std::sync::Mutex;

use corun::fs::{self, File, OpenOptions};

/// Held by each test: one test at a time moves writes.
static SERIAL: Mutex<()> = Mutex::new(());

fn temp(name: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!("corun-spread-{}-{name}", std::process::id()))
}

/// Whether this machine has a write lane at all (one core: nothing moves).
fn has_lane() -> bool {
    std::thread::available_parallelism().map_or(1, |n| n.get()) > 1
}

/// Spawns a task that does nothing: until the scheduler gets to it, it
/// is other work queued. (Not a task that yields in a loop: that would
/// busy-wait while the write runs on another thread, and valgrind's
/// default thread lock can starve that thread.)
fn queue_other_work() {
    corun::spawn(async {}).detach();
}

#[test]
fn a_lone_writer_stays_inline_and_a_busy_scheduler_moves_writes() {
    const WRITES: usize = 20;
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    corun::run(async {
        let path = temp("lone-then-busy");
        let mut f = File::create(&path).await.unwrap();
        let chunk = vec![7u8; 32 * 1024];

        // Nothing else is ready: every write runs inline. (WRITES is a
        // multiple of the run length, 4: the last one ends a run.)
        let before = fs::spread_writes();
        for _ in 0..WRITES {
            f.write_all(&chunk).await.unwrap();
        }
        assert_eq!(fs::spread_writes(), before, "a lone writer moved a write");

        // A task made ready before each write: each write finds other work
        // and a free place (the previous moved write finished before
        // `write_all` returned).
        let before = fs::spread_writes();
        let ring_before = fs::uring_writes();
        for _ in 0..WRITES {
            queue_other_work();
            f.write_all(&chunk).await.unwrap();
        }
        let moved = fs::spread_writes() - before;
        // With CORUN_FS_URING=1 every moved write takes the io_uring (or,
        // where io_uring does not work, none does); without it none does.
        let via_ring = fs::uring_writes() - ring_before;
        if std::env::var("CORUN_FS_URING").is_ok_and(|v| v == "1") {
            assert!(via_ring == moved || via_ring == 0, "{via_ring} of {moved}");
        } else {
            assert_eq!(via_ring, 0);
        }
        if has_lane() {
            assert_eq!(
                moved, WRITES as u64,
                "writes beside a ready task stay inline"
            );
        } else {
            assert_eq!(moved, 0);
        }

        drop(f);
        let data = fs::read(&path).await.unwrap();
        assert_eq!(data.len(), 2 * WRITES * chunk.len());
        assert!(data.iter().all(|&b| b == 7));
        fs::remove_file(&path).await.unwrap();
    });
}

#[test]
fn an_inline_write_keeps_the_files_next_three_writes_inline() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    corun::run(async {
        let path = temp("run");
        let mut f = File::create(&path).await.unwrap();
        let chunk = vec![3u8; 32 * 1024];
        // A lone write runs inline and starts a run.
        f.write_all(&chunk).await.unwrap();
        // The run's three writes stay inline even beside a ready task.
        let before = fs::spread_writes();
        for _ in 0..3 {
            queue_other_work();
            f.write_all(&chunk).await.unwrap();
        }
        assert_eq!(fs::spread_writes(), before, "a write inside a run moved");
        // The run is over: the next one beside a ready task moves.
        queue_other_work();
        f.write_all(&chunk).await.unwrap();
        let moved = fs::spread_writes() - before;
        assert_eq!(moved, u64::from(has_lane()));
        drop(f);
        assert_eq!(fs::read(&path).await.unwrap().len(), 5 * chunk.len());
        fs::remove_file(&path).await.unwrap();
    });
}

/// Distinct bytes per write, so a misplaced or doubled write shows.
fn pattern(k: usize, len: usize) -> Vec<u8> {
    (0..len).map(|i| (k * 37 + i % 251) as u8).collect()
}

#[test]
fn moved_borrowed_writes_land_exactly_at_every_size_and_alignment() {
    // Sizes on both sides of the streaming copy's threshold (4 KiB), odd
    // lengths, and source slices starting off 16-byte alignment.
    const SIZES: [usize; 7] = [1, 15, 4095, 4096, 4097, 32 * 1024 + 3, 100_003];
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    corun::run(async {
        let path = temp("moved-sizes");
        let mut f = File::create(&path).await.unwrap();
        let mut want = Vec::new();
        let before = fs::spread_writes();
        for (k, &len) in SIZES.iter().enumerate() {
            let skew = k % 16;
            let src = pattern(k, len + skew);
            // Beside a ready task and outside a run (no write ran inline
            // yet): each write moves, its bytes copied into a ticket.
            queue_other_work();
            f.write_all(&src[skew..]).await.unwrap();
            want.extend_from_slice(&src[skew..]);
        }
        let moved = fs::spread_writes() - before;
        if has_lane() {
            assert_eq!(moved, SIZES.len() as u64, "a write stayed inline");
        } else {
            assert_eq!(moved, 0);
        }
        drop(f);
        assert!(fs::read(&path).await.unwrap() == want);
        fs::remove_file(&path).await.unwrap();
    });
}

#[test]
fn owned_writes_land_in_order_and_give_their_buffer_back() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    corun::run(async {
        let path = temp("owned");
        let mut f = File::create(&path).await.unwrap();
        let mut want = Vec::new();
        // Borrowed writes in between, to another file: an inline write
        // starts a run of inline writes of its own file only.
        let other = temp("owned-other");
        let mut g = File::create(&other).await.unwrap();
        let mut want_g = Vec::new();
        // Beside a ready task (moved where there is a lane), lone (inline),
        // then too big to go inline (pool).
        for k in 0..30 {
            if k < 10 {
                queue_other_work();
            }
            let len = if k >= 20 { 300 * 1024 } else { 32 * 1024 };
            let buf = pattern(k, len);
            let moved_before = fs::spread_writes();
            let ptr = buf.as_ptr();
            let (r, back) = f.write_all_owned(buf).await;
            r.unwrap();
            // The very same allocation comes back, untouched.
            assert_eq!(back.as_ptr(), ptr);
            assert!(back == pattern(k, len));
            if k < 10 && has_lane() {
                assert_eq!(
                    fs::spread_writes(),
                    moved_before + 1,
                    "write {k} did not move"
                );
            } else {
                assert_eq!(fs::spread_writes(), moved_before, "write {k} moved");
            }
            want.extend_from_slice(&back);
            corun::yield_now().await; // the other task runs and ends
            let small = pattern(k + 100, 100);
            g.write_all(&small).await.unwrap();
            want_g.extend_from_slice(&small);
        }
        // An empty buffer is a no-op that still gives it back.
        let (r, back) = f.write_all_owned(Vec::with_capacity(8)).await;
        r.unwrap();
        assert_eq!(back.capacity(), 8);
        drop((f, g));
        assert!(fs::read(&path).await.unwrap() == want);
        assert!(fs::read(&other).await.unwrap() == want_g);
        fs::remove_file(&path).await.unwrap();
        fs::remove_file(&other).await.unwrap();
    });
}

#[test]
fn owned_write_errors_return_the_buffer() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    corun::run(async {
        let path = temp("owned-ro");
        fs::write(&path, "x").await.unwrap();
        let mut f = File::open(&path).await.unwrap(); // read-only
        for len in [10, 32 * 1024, 300 * 1024] {
            queue_other_work();
            let (r, back) = f.write_all_owned(vec![1; len]).await;
            assert_eq!(r.unwrap_err().raw_os_error(), Some(libc::EBADF));
            assert_eq!(back.len(), len);
        }
        drop(f);
        assert_eq!(fs::read(&path).await.unwrap(), b"x");
        fs::remove_file(&path).await.unwrap();
    });
}

#[test]
fn owned_write_after_a_partial_read_lands_at_the_read_position() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    // With O_SYNC every operation goes through the pool, whose reads read
    // ahead: the owned write must seek back over that first.
    for sync in [false, true] {
        corun::run(async move {
            let path = temp("owned-seek");
            fs::write(&path, "0123456789").await.unwrap();
            let mut o = OpenOptions::new();
            o.read(true).write(true);
            if sync {
                o.custom_flags(libc::O_SYNC);
            }
            let mut f = o.open(&path).await.unwrap();
            let mut two = [0u8; 2];
            f.read(&mut two).await.unwrap();
            let (r, back) = f.write_all_owned(b"ab".to_vec()).await;
            r.unwrap();
            assert_eq!(back, b"ab");
            assert_eq!(f.seek(SeekFrom::Current(0)).await.unwrap(), 4);
            drop(f);
            assert_eq!(fs::read_to_string(&path).await.unwrap(), "01ab456789");
            fs::remove_file(&path).await.unwrap();
        });
    }
}

#[test]
fn a_dropped_owned_write_lands_once_and_the_next_operation_settles_it() {
    use std::future::Future;
    use std::task::{Context, Waker};
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    corun::run(async {
        let path = temp("owned-drop");
        let mut f = File::create(&path).await.unwrap();
        let mut want = Vec::new();
        for k in 0..20 {
            let buf = pattern(k, 32 * 1024);
            queue_other_work();
            {
                let mut fut = std::pin::pin!(f.write_all_owned(buf.clone()));
                let mut cx = Context::from_waker(Waker::noop());
                // Polled once, then dropped: done inline, or still running
                // on another thread (it finishes there).
                let _ = fut.as_mut().poll(&mut cx);
            }
            f.flush().await.unwrap();
            want.extend_from_slice(&buf);
            assert_eq!(f.seek(SeekFrom::End(0)).await.unwrap() as usize, want.len());
        }
        drop(f);
        assert!(fs::read(&path).await.unwrap() == want);
        fs::remove_file(&path).await.unwrap();
    });
}

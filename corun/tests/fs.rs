//! Behaviour of `corun::fs`: files and directories (the blocking pool
//! itself is tested in `unblock.rs`).

use std::io::{ErrorKind, SeekFrom};
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use corun::fs::{self, File, OpenOptions};

/// A fresh, unique path under the temp dir (removed by the test).
fn temp(name: &str) -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    std::env::temp_dir().join(format!("corun-fs-test-{}-{n}-{name}", std::process::id()))
}

#[test]
fn write_then_read_back_equal_bytes() {
    corun::run(async {
        let path = temp("rw");
        let data: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
        let mut f = File::create(&path).await.unwrap();
        f.write_all(&data).await.unwrap();
        drop(f);
        assert_eq!(fs::read(&path).await.unwrap(), data);
        let mut f = File::open(&path).await.unwrap();
        let mut back = Vec::new();
        assert_eq!(f.read_to_end(&mut back).await.unwrap(), data.len());
        assert_eq!(back, data);
        // Small reads, then the rest.
        let mut f = File::open(&path).await.unwrap();
        let mut head = [0u8; 10];
        assert_eq!(f.read(&mut head).await.unwrap(), 10);
        assert_eq!(&head[..], &data[..10]);
        let mut rest = Vec::new();
        f.read_to_end(&mut rest).await.unwrap();
        assert_eq!(rest, &data[10..]);
        fs::remove_file(&path).await.unwrap();
    });
}

#[test]
fn append_adds_to_the_end() {
    corun::run(async {
        let path = temp("append");
        fs::write(&path, "abc").await.unwrap();
        let mut f = OpenOptions::new().append(true).open(&path).await.unwrap();
        f.write_all(b"def").await.unwrap();
        f.write_all(b"gh").await.unwrap();
        assert_eq!(fs::read_to_string(&path).await.unwrap(), "abcdefgh");
        fs::remove_file(&path).await.unwrap();
    });
}

#[test]
fn create_new_on_existing_file_is_already_exists() {
    corun::run(async {
        let path = temp("cnew");
        fs::write(&path, "x").await.unwrap();
        let err = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::AlreadyExists);
        fs::remove_file(&path).await.unwrap();
    });
}

#[test]
fn open_missing_is_not_found() {
    corun::run(async {
        let path = temp("missing");
        assert_eq!(
            File::open(&path).await.unwrap_err().kind(),
            ErrorKind::NotFound
        );
        assert_eq!(
            fs::read(&path).await.unwrap_err().kind(),
            ErrorKind::NotFound
        );
        assert_eq!(
            fs::remove_file(&path).await.unwrap_err().kind(),
            ErrorKind::NotFound
        );
    });
}

#[test]
fn a_create_opening_a_fifo_does_not_hold_up_its_directorys_other_creates() {
    let dir = temp("fifo-dir");
    std::fs::create_dir(&dir).unwrap();
    let fifo = dir.join("fifo");
    let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: `c` is a valid NUL-terminated path for the call's duration.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    let (d, fifo2) = (dir.clone(), fifo.clone());
    corun::run(async move {
        // Opening a FIFO for writing blocks until a reader opens it.
        let writer = corun::spawn(async move {
            OpenOptions::new()
                .write(true)
                .create(true)
                .open(&fifo2)
                .await
                .map(drop)
        });
        corun::yield_now().await;
        // Creates in the same directory still complete meanwhile.
        for i in 0..3 {
            let made = corun::time::timeout(
                std::time::Duration::from_secs(10),
                File::create(d.join(format!("f{i}"))),
            )
            .await;
            assert!(matches!(made, Ok(Ok(_))), "create {i} was held up");
        }
        // Release the writer: open the FIFO for reading.
        let reader = std::fs::File::open(&fifo).unwrap();
        writer.await.unwrap().unwrap();
        drop(reader);
    });
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn metadata_len_set_len_and_remove() {
    corun::run(async {
        let path = temp("meta");
        let mut f = File::create(&path).await.unwrap();
        f.write_all(&[9u8; 1234]).await.unwrap();
        assert_eq!(f.metadata().await.unwrap().len(), 1234);
        assert_eq!(fs::metadata(&path).await.unwrap().len(), 1234);
        f.set_len(100).await.unwrap();
        f.sync_all().await.unwrap();
        assert_eq!(fs::metadata(&path).await.unwrap().len(), 100);
        drop(f);
        fs::remove_file(&path).await.unwrap();
        assert_eq!(
            fs::metadata(&path).await.unwrap_err().kind(),
            ErrorKind::NotFound
        );
    });
}

/// Opens `path` read-write; with `O_SYNC` when `pool`, so every read and
/// write goes through the blocking pool.
async fn open_rw(path: &std::path::Path, pool: bool) -> File {
    let mut o = OpenOptions::new();
    o.read(true).write(true);
    if pool {
        o.custom_flags(libc::O_SYNC);
    }
    let f = o.open(path).await.unwrap();
    if pool {
        assert!(f.uses_pool());
    }
    f
}

#[test]
fn seek_and_overwrite_after_partial_read() {
    // Inline (cached) reads, and pool reads that read ahead internally.
    for pool in [false, true] {
        seek_and_overwrite_after_partial_read_with(pool);
    }
}

fn seek_and_overwrite_after_partial_read_with(pool: bool) {
    corun::run(async move {
        let path = temp("seek");
        fs::write(&path, "0123456789").await.unwrap();
        let mut f = open_rw(&path, pool).await;
        let mut two = [0u8; 2];
        f.read(&mut two).await.unwrap(); // the pool reads ahead internally
        assert_eq!(&two, b"01");
        // The write lands at the user's position (2), not after the read-ahead.
        f.write_all(b"ab").await.unwrap();
        assert_eq!(f.seek(SeekFrom::Current(0)).await.unwrap(), 4);
        assert_eq!(f.seek(SeekFrom::End(-1)).await.unwrap(), 9);
        f.read(&mut two[..1]).await.unwrap();
        assert_eq!(two[0], b'9');
        assert_eq!(fs::read_to_string(&path).await.unwrap(), "01ab456789");
        fs::remove_file(&path).await.unwrap();
    });
}

#[test]
fn dirs_create_list_rename_copy_remove() {
    corun::run(async {
        let top = temp("dirs");
        fs::create_dir(&top).await.unwrap();
        assert_eq!(
            fs::create_dir(&top).await.unwrap_err().kind(),
            ErrorKind::AlreadyExists
        );
        fs::create_dir_all(top.join("a/b/c")).await.unwrap();
        assert!(fs::metadata(top.join("a/b/c")).await.unwrap().is_dir());
        fs::write(top.join("a/f"), "data").await.unwrap();
        assert_eq!(fs::copy(top.join("a/f"), top.join("a/g")).await.unwrap(), 4);
        fs::rename(top.join("a/g"), top.join("h")).await.unwrap();
        assert_eq!(fs::read_to_string(top.join("h")).await.unwrap(), "data");
        let mut names = fs::read_dir(&top).await.unwrap();
        names.sort();
        assert_eq!(names, vec![top.join("a"), top.join("h")]);
        fs::remove_dir(top.join("a/b/c")).await.unwrap();
        // Not empty: remove_dir refuses, remove_dir_all does it.
        assert!(fs::remove_dir(top.join("a")).await.is_err());
        fs::remove_dir_all(&top).await.unwrap();
        assert_eq!(
            fs::metadata(&top).await.unwrap_err().kind(),
            ErrorKind::NotFound
        );
    });
}

#[test]
fn hundred_concurrent_writers_write_every_byte() {
    corun::run(async {
        let dir = temp("many");
        fs::create_dir(&dir).await.unwrap();
        let tasks: Vec<_> = (0..100u8)
            .map(|i| {
                let path = dir.join(format!("f{i}"));
                corun::spawn(async move {
                    let chunk = vec![i; 4096];
                    let mut f = File::create(&path).await?;
                    for _ in 0..20 {
                        f.write_all(&chunk).await?;
                    }
                    std::io::Result::Ok(())
                })
            })
            .collect();
        for r in corun::join_all(tasks).await {
            r.unwrap().unwrap();
        }
        for i in 0..100u8 {
            let got = fs::read(dir.join(format!("f{i}"))).await.unwrap();
            assert_eq!(got.len(), 20 * 4096);
            assert!(got.iter().all(|&b| b == i), "file f{i} has foreign bytes");
        }
        fs::remove_dir_all(&dir).await.unwrap();
    });
}

/// Counts its live instances, to prove dropped jobs free their result.
struct Counted(Arc<AtomicUsize>);
impl Drop for Counted {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

#[test]
fn dropped_in_flight_operation_neither_crashes_nor_leaks() {
    corun::run(async {
        // A job whose future is dropped while it runs: the job finishes,
        // its result is dropped, the pool keeps working.
        let live = Arc::new(AtomicUsize::new(0));
        let (started_tx, started_rx) = std::sync::mpsc::channel::<()>();
        let (go_tx, go_rx) = std::sync::mpsc::channel::<()>();
        let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
        let l = live.clone();
        let mut job = Box::pin(corun::unblock(move || {
            started_tx.send(()).unwrap();
            go_rx.recv().unwrap();
            l.fetch_add(1, Ordering::SeqCst);
            // Signals after the result is built; the result is dropped on
            // this thread once the slot is filled.
            let c = Counted(l);
            done_tx.send(()).unwrap();
            c
        }));
        // Poll once so the job is queued, then drop the future mid-way.
        let waker = std::task::Waker::noop();
        let mut cx = std::task::Context::from_waker(waker);
        assert!(job.as_mut().poll(&mut cx).is_pending());
        corun::unblock(move || started_rx.recv().unwrap()).await;
        drop(job);
        go_tx.send(()).unwrap();
        corun::unblock(move || done_rx.recv().unwrap()).await;
        // The pool still works, and the orphaned result gets dropped.
        assert_eq!(corun::unblock(|| 41 + 1).await, 42);
        let l = live.clone();
        // The job's thread drops its result right after sending `done`; wait
        // for that without sleeping: spin through the pool until it is 0.
        while l.load(Ordering::SeqCst) != 0 {
            corun::yield_now().await;
            corun::unblock(|| ()).await;
        }

        // A file write whose future is dropped mid-flight: the file stays
        // usable and the write lands before the next operation. (O_SYNC:
        // through the pool; an inline write would complete at first poll.)
        let path = temp("dropped");
        let mut f = OpenOptions::new()
            .write(true)
            .create(true)
            .custom_flags(libc::O_SYNC)
            .open(&path)
            .await
            .unwrap();
        assert!(f.uses_pool());
        {
            let mut w = Box::pin(f.write_all(b"first "));
            let _ = w.as_mut().poll(&mut cx);
        }
        f.write_all(b"second").await.unwrap();
        assert_eq!(fs::read_to_string(&path).await.unwrap(), "first second");
        // A read dropped mid-flight: its bytes are not lost. (If the pool
        // was quick enough for the first poll to complete it, the bytes
        // were delivered to that read instead.)
        let mut f = open_rw(&path, true).await;
        let taken = {
            let mut six = [0u8; 6];
            let mut r = Box::pin(f.read(&mut six));
            match r.as_mut().poll(&mut cx) {
                std::task::Poll::Ready(n) => n.unwrap(),
                std::task::Poll::Pending => 0,
            }
        };
        let mut all = String::new();
        f.read_to_string(&mut all).await.unwrap();
        assert_eq!(all, &"first second"[taken..]);
        fs::remove_file(&path).await.unwrap();
    });
}

use std::future::Future;

#[test]
fn regular_files_are_always_ready_for_io_waits() {
    corun::run(async {
        let path = temp("ready");
        let f = File::create(&path).await.unwrap();
        assert!(corun::io::readable(&f).await.unwrap().is_readable());
        assert!(corun::io::writable(&f).await.unwrap().is_writable());
        fs::remove_file(&path).await.unwrap();
    });
}

#[test]
fn inline_reads_return_the_right_bytes() {
    corun::run(async {
        let path = temp("inline-read");
        let data: Vec<u8> = (0..200_000u32).map(|i| (i % 253) as u8).collect();
        fs::write(&path, data.clone()).await.unwrap();
        let mut f = File::open(&path).await.unwrap();
        // Just written, so cached: on Linux these reads run inline.
        assert_eq!(f.uses_pool(), !cfg!(target_os = "linux"));
        let mut got = Vec::new();
        let mut piece = [0u8; 7_777];
        loop {
            let n = f.read(&mut piece).await.unwrap();
            if n == 0 {
                break;
            }
            got.extend_from_slice(&piece[..n]);
            if got.len() >= 50_000 {
                break;
            }
        }
        // Then the rest in one go, appended after what is already there.
        let before = got.len();
        assert_eq!(f.read_to_end(&mut got).await.unwrap(), data.len() - before);
        assert_eq!(got, data);
        assert_eq!(f.read(&mut piece).await.unwrap(), 0);
        // The position moved with the reads: seek reports the end.
        assert_eq!(f.seek(SeekFrom::Current(0)).await.unwrap(), 200_000);
        fs::remove_file(&path).await.unwrap();
    });
}

#[test]
fn inline_writes_keep_order_and_position() {
    corun::run(async {
        let path = temp("inline-write");
        let mut f = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&path)
            .await
            .unwrap();
        f.write_all(b"hello ").await.unwrap();
        assert_eq!(f.write(b"world").await.unwrap(), 5);
        // A write over 256 KiB goes to the pool; order is kept.
        let big = vec![b'x'; 300 * 1024];
        f.write_all(&big).await.unwrap();
        f.write_all(b"!").await.unwrap();
        assert_eq!(
            f.seek(SeekFrom::Current(0)).await.unwrap(),
            11 + 300 * 1024 + 1
        );
        f.seek(SeekFrom::Start(6)).await.unwrap();
        f.write_all(b"W").await.unwrap();
        let mut five = [0u8; 5];
        f.seek(SeekFrom::Start(0)).await.unwrap();
        f.read(&mut five).await.unwrap();
        assert_eq!(&five, b"hello");
        drop(f);
        let all = fs::read(&path).await.unwrap();
        assert_eq!(&all[..11], b"hello World");
        assert!(all[11..11 + big.len()].iter().all(|&b| b == b'x'));
        assert_eq!(all.last(), Some(&b'!'));
        fs::remove_file(&path).await.unwrap();
    });
}

#[test]
fn sync_and_direct_files_and_devices_use_the_pool() {
    corun::run(async {
        let path = temp("osync");
        let mut f = OpenOptions::new()
            .write(true)
            .create(true)
            .custom_flags(libc::O_SYNC)
            .open(&path)
            .await
            .unwrap();
        assert!(f.uses_pool());
        f.write_all(b"synced").await.unwrap();
        drop(f);
        let mut f = OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_DSYNC)
            .open(&path)
            .await
            .unwrap();
        assert!(f.uses_pool());
        let mut s = String::new();
        f.read_to_string(&mut s).await.unwrap();
        assert_eq!(s, "synced");
        // A plain open of the same file may go inline (on Linux).
        let f = File::open(&path).await.unwrap();
        assert_eq!(f.uses_pool(), !cfg!(target_os = "linux"));
        // So may a std file wrapped with From, unless it has O_SYNC.
        let std_sync = std::fs::OpenOptions::new()
            .append(true)
            .custom_flags(libc::O_SYNC)
            .open(&path)
            .unwrap();
        assert!(File::from(std_sync).uses_pool());
        // O_DIRECT (where the file system accepts it).
        #[cfg(target_os = "linux")]
        match OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_DIRECT)
            .open(&path)
            .await
        {
            Ok(f) => assert!(f.uses_pool()),
            Err(e) => assert_eq!(e.raw_os_error(), Some(libc::EINVAL)),
        }
        // Not a regular file: a device never goes inline.
        let mut null = File::open("/dev/null").await.unwrap();
        assert!(null.uses_pool());
        assert_eq!(null.read(&mut [0u8; 4]).await.unwrap(), 0);
        fs::remove_file(&path).await.unwrap();
    });
}

/// The bytes of write `k` of writer `w`: sizes vary (some over 256 KiB, so
/// they always go to the pool) and every byte says who wrote it when.
fn chunk(w: usize, k: usize) -> Vec<u8> {
    let len = match k % 7 {
        0 => 300 * 1024,
        1 => 1,
        _ => 1000 + (k * 997 + w * 131) % 40_000,
    };
    (0..len).map(|i| (w * 31 + k * 7 + i) as u8).collect()
}

#[test]
fn concurrent_writers_keep_order_whether_inline_or_on_another_thread() {
    const WRITERS: usize = 12;
    const WRITES: usize = 60;
    corun::run(async {
        let mut tasks = Vec::new();
        for w in 0..WRITERS {
            tasks.push(corun::spawn(async move {
                let path = temp("spread");
                let mut f = File::create(&path).await.unwrap();
                let mut want = Vec::new();
                for k in 0..WRITES {
                    let c = chunk(w, k);
                    if k % 3 == 0 {
                        // `write` may take a prefix; the rest follows.
                        let mut rest = &c[..];
                        while !rest.is_empty() {
                            let n = f.write(rest).await.unwrap();
                            assert!(n > 0);
                            rest = &rest[n..];
                        }
                    } else {
                        f.write_all(&c).await.unwrap();
                    }
                    want.extend_from_slice(&c);
                }
                f.flush().await.unwrap();
                drop(f);
                let got = fs::read(&path).await.unwrap();
                fs::remove_file(&path).await.unwrap();
                assert_eq!(got.len(), want.len(), "writer {w}: length");
                assert!(got == want, "writer {w}: bytes differ");
            }));
        }
        for r in corun::join_all(tasks).await {
            r.unwrap();
        }
    });
    // How many writes moved depends on which tasks were ready at each
    // write (see `fs::spread`); `tests/fs_spread.rs` checks the decision
    // where it is certain.
}

#[test]
fn spread_write_errors_reach_the_writer() {
    // Files opened read-only: every write fails with EBADF, whether it ran
    // inline or on another thread, and the next write fails the same way.
    corun::run(async {
        let mut tasks = Vec::new();
        for _ in 0..8 {
            tasks.push(corun::spawn(async {
                let path = temp("ro");
                fs::write(&path, "x").await.unwrap();
                let mut f = File::open(&path).await.unwrap();
                for _ in 0..20 {
                    let e = f.write_all(&[1u8; 4096]).await.unwrap_err();
                    assert_eq!(e.raw_os_error(), Some(libc::EBADF));
                }
                drop(f);
                assert_eq!(fs::read(&path).await.unwrap(), b"x");
                fs::remove_file(&path).await.unwrap();
            }));
        }
        for r in corun::join_all(tasks).await {
            r.unwrap();
        }
    });
}

#[test]
fn dropped_spread_writes_land_once_and_in_order() {
    use std::future::Future;
    use std::task::{Context, Waker};
    corun::run(async {
        let a_path = temp("drop-a");
        let b_path = temp("drop-b");
        let mut a = File::create(&a_path).await.unwrap();
        let mut b = File::create(&b_path).await.unwrap();
        let mut want_b = Vec::new();
        let mut landed_whole = 0;
        for k in 0..50 {
            a.write_all(&chunk(0, k)).await.unwrap();
            let c = chunk(1, k);
            // A task made ready just before: with other work queued, B's
            // write moves to another thread (on one core it runs inline).
            corun::spawn(async {}).detach();
            {
                let mut fut = std::pin::pin!(b.write_all(&c));
                let mut cx = Context::from_waker(Waker::noop());
                // Polled once, then dropped: a write done inline is done;
                // one that started elsewhere finishes on its own and the
                // next operation settles it; one still waiting for B's
                // previous write never starts.
                let _ = fut.as_mut().poll(&mut cx);
            }
            b.flush().await.unwrap();
            let len = b.seek(SeekFrom::End(0)).await.unwrap() as usize;
            let landed = len - want_b.len();
            assert!(landed <= c.len(), "chunk {k} landed more than once");
            if landed == c.len() {
                landed_whole += 1;
            }
            want_b.extend_from_slice(&c[..landed]);
        }
        // B's first write has nothing before it in flight: it lands.
        assert!(landed_whole > 0);
        b.flush().await.unwrap();
        drop((a, b));
        assert!(fs::read(&b_path).await.unwrap() == want_b);
        fs::remove_file(&a_path).await.unwrap();
        fs::remove_file(&b_path).await.unwrap();
    });
}

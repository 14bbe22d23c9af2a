//! Compile-time proof that corun's futures and I/O types can live inside
//! futures given to `Scheduler::spawn` (which requires `Send`).

use std::os::unix::net::UnixStream;

fn assert_send<T: Send>(_: &T) {}

#[test]
fn io_futures_are_send() {
    let sched = corun::Scheduler::start().unwrap();
    let fut = async {
        let (a, b) = UnixStream::pair().unwrap();
        let a = corun::io::Async::new(a).unwrap();
        a.writable().await.unwrap();
        a.read_with(|s| s.peer_addr()).await.unwrap();
        corun::io::writable(&b).await.unwrap();
        corun::sleep(std::time::Duration::from_millis(1)).await;
        // Long enough never to elapse, even under valgrind.
        corun::timeout(std::time::Duration::from_secs(3600), corun::yield_now())
            .await
            .unwrap();
        let mut i = corun::interval(std::time::Duration::from_millis(1));
        i.tick().await;
        corun::wait(corun::TaskId::from_u64(u64::MAX)).await;
    };
    assert_send(&fut);
    sched.block_on(fut).unwrap();
    sched.shutdown().unwrap();
}

//! Channel receivers are `FusedStream`s and their `recv()` futures are
//! `FusedFuture`s: `futures::select!` takes them as they are, and skips a
//! channel that has ended while the other still delivers.

use corun::sync::{local, mpsc};
use futures_util::{StreamExt, select};

#[test]
fn select_over_two_receivers_drains_both_without_fuse() {
    corun::run(async {
        let (a_tx, mut a) = mpsc::channel::<u32>(4);
        let (b_tx, mut b) = local::channel::<u32>(4);
        for i in 0..3 {
            a_tx.send(i).await.unwrap();
        }
        b_tx.send(100).await.unwrap();
        drop(a_tx);
        drop(b_tx);
        let (mut from_a, mut from_b) = (Vec::new(), Vec::new());
        loop {
            select! {
                v = a.next() => if let Some(v) = v { from_a.push(v) },
                v = b.recv() => if let Some(v) = v { from_b.push(v) },
                complete => break,
            }
        }
        assert_eq!(from_a, [0, 1, 2]);
        assert_eq!(from_b, [100]);
    });
}

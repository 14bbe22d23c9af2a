//! The local ready queue: the scheduled tasks, oldest first, linked
//! through their own headers.
//!
//! A singly linked FIFO whose link is a word of the task header that is
//! free while the task is scheduled (see `Header::ready_next`), so the
//! queue owns no memory: a push writes the link of the previous tail, a pop
//! reads the link of the task about to be polled, whose header the poll
//! touches anyway. Why intrusive rather than a ring of pointers (a ring
//! grows with a burst and keeps its memory after it):
//! `docs/design/ready-queue.md`.
//!
//! A look at the reactor puts the tasks it woke ahead of every task that
//! no look woke, but behind those an earlier look woke that have not run
//! yet, and behind a task that yielded before the previous look (see
//! [`ReadyQueue::promote_since`]); tasks other threads spawned here go to
//! the end, like local spawns. When the scheduler polls one
//! that I/O or a message woke (not a timer), it
//! first sets the other queued tasks aside ([`ReadyQueue::set_aside`]), so
//! that what the woken task spawns or wakes runs next, before them; the
//! tasks set aside wait *behind*, in their own order, as a second list
//! that rejoins the first when that runs out or at the next look. Why:
//! `docs/design/io-first.md`.
//!
//! It only links pointers: it holds no task references (see `core`'s
//! lifetime rules) and knows nothing of task state beyond the link.

use std::ptr::NonNull;

use crate::task::raw::Header;

/// How many of the oldest ready tasks a seeded schedule picks among.
pub(crate) const PICK_WINDOW: usize = 64;

/// FIFO of scheduled tasks: the list `head..tail`, where pushes go, then
/// the list `behind`, polled after it.
///
/// The front list may be empty while tasks wait behind (its last task was
/// popped and runs, or it was set aside): what the running task spawns or
/// wakes must still go ahead of them. So `behind` joins the front list
/// only at a pop that finds the front list empty, or at the next look at
/// the reactor, never when the front list empties.
pub(crate) struct ReadyQueue {
    /// The oldest task of the front list, `None` when empty.
    head: Option<NonNull<Header>>,
    /// The newest task of the front list; its link is stale (never read:
    /// `pop_front` stops at the tail). Meaningless when `head` is `None`.
    tail: NonNull<Header>,
    /// First and last of the tasks set aside, linked like the front list;
    /// `None`: none.
    behind: Option<(NonNull<Header>, NonNull<Header>)>,
    /// The end of the woken run: the last task that a look at the reactor
    /// woke, or that yielded before a look and so joined the run there,
    /// and that has not been popped yet; `None` when no such task is
    /// queued. The run is the queue's start (front list, then behind) up
    /// to here: a look appends the tasks it wakes after it, so they queue
    /// behind those woken earlier, first in first out.
    woken_last: Option<NonNull<Header>>,
    /// The last task queued by an explicit yield since the last look at
    /// the reactor that woke tasks, `None` when none is (or it was
    /// popped). The next look that wakes tasks ends the woken run there:
    /// the tasks a later look wakes queue behind the yielder.
    yielded_last: Option<NonNull<Header>>,
}

impl ReadyQueue {
    /// An empty queue.
    pub(crate) fn new() -> ReadyQueue {
        ReadyQueue {
            head: None,
            tail: NonNull::dangling(),
            behind: None,
            woken_last: None,
            yielded_last: None,
        }
    }

    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.head.is_none() && self.behind.is_none()
    }

    /// Makes the tasks behind the front list if that is empty; the first
    /// task, if any.
    #[inline]
    fn refill(&mut self) -> Option<NonNull<Header>> {
        if self.head.is_none() {
            let (first, last) = self.behind.take()?;
            self.head = Some(first);
            self.tail = last;
        }
        self.head
    }

    /// Appends `ptr` to the front list (a spawn, a wake): ahead of the
    /// tasks set aside, if any.
    ///
    /// # Safety
    /// `ptr` is a live task of this thread's scheduler, marked `SCHEDULED`
    /// and not in the queue; it stays alive, and its link word untouched by
    /// anyone but this queue, until `pop_front` returns it.
    #[inline]
    pub(crate) unsafe fn push_back(&mut self, ptr: NonNull<Header>) {
        if self.head.is_some() {
            // SAFETY: the tail is a queued task, alive by the contract of
            // its own push, and only this thread touches its link.
            unsafe { self.tail.as_ref() }.set_ready_next(ptr);
        } else {
            self.head = Some(ptr);
        }
        self.tail = ptr;
    }

    /// Appends `ptr` after every queued task, those behind included: where
    /// a task that yields goes (an explicit yield lets every other ready
    /// task run first). The next look at the reactor puts the tasks it
    /// wakes ahead of it, and those of later looks behind it (see
    /// [`ReadyQueue::promote_since`]).
    ///
    /// # Safety
    /// As for [`ReadyQueue::push_back`].
    #[inline]
    pub(crate) unsafe fn push_last(&mut self, ptr: NonNull<Header>) {
        self.yielded_last = Some(ptr);
        match &mut self.behind {
            // SAFETY: the caller's contract.
            None => unsafe { self.push_back(ptr) },
            Some((_, last)) => {
                // SAFETY: `last` is a queued task, alive by the contract of
                // its own push, and only this thread touches its link.
                unsafe { last.as_ref() }.set_ready_next(ptr);
                *last = ptr;
            }
        }
    }

    /// Calls `each` on every queued task, the front list first, then the
    /// tasks behind. `each` must not touch the queue or any task's link.
    pub(crate) fn for_each(&self, mut each: impl FnMut(NonNull<Header>)) {
        let front = self.head.map(|h| (h, self.tail));
        for (first, last) in [front, self.behind].into_iter().flatten() {
            let mut at = first;
            loop {
                each(at);
                if at == last {
                    break;
                }
                // SAFETY: `at` is queued, so alive, and not the last of its
                // list, so its link was written by the push after it.
                match NonNull::new(unsafe { at.as_ref() }.ready_next()) {
                    Some(next) => at = next,
                    None => break,
                }
            }
        }
    }

    /// Where the front list ends now, for [`ReadyQueue::promote_since`]
    /// (`None`: it is empty).
    #[inline]
    pub(crate) fn mark(&self) -> Option<NonNull<Header>> {
        self.head.map(|_| self.tail)
    }

    /// Puts every queued task behind, ahead of those already there: what
    /// is pushed next runs before all of them. For the task about to be
    /// polled, if a look at the reactor woke it.
    #[inline]
    pub(crate) fn set_aside(&mut self) {
        let Some(first) = self.head.take() else {
            return;
        };
        self.behind = Some(match self.behind {
            None => (first, self.tail),
            Some((behind, last)) => {
                // SAFETY: the tail is queued; only this thread touches links.
                unsafe { self.tail.as_ref() }.set_ready_next(behind);
                (first, last)
            }
        });
    }

    /// Moves the tasks pushed since `mark` was taken for which `woke`
    /// returns true (those a look at the reactor woke), in the order they
    /// were pushed, to right behind the tasks earlier looks woke that are
    /// still queued, or to the front if there are none; the other tasks
    /// queued before follow in their own order, those behind included (the
    /// lists join: what the woken tasks queue from now on goes last again,
    /// so work they keep spawning cannot starve the tasks that were set
    /// aside). The tasks pushed since `mark` for which `woke` returns false
    /// (tasks other threads spawned here) go to the end of the queue, in
    /// their order, where a local spawn would have queued them: a burst of
    /// remote spawns must not run ahead of the I/O that later looks see.
    ///
    /// Behind, not ahead of, the tasks woken earlier: while looks keep
    /// waking tasks faster than batches run them, the newest first would
    /// leave the oldest waiting for as long as the load lasts.
    ///
    /// Then the woken run extends to the last task that yielded since the
    /// previous look that woke any, if it is still queued, and over the
    /// tasks queued ahead of it: a yield goes behind every task ready at
    /// the time and behind what the next look that wakes tasks wakes, but
    /// not behind what later looks wake, or a yielder would wait for as
    /// long as looks keep waking tasks.
    ///
    /// # Safety
    /// `mark` was taken from this queue with no `pop_front` since (so the
    /// marked tail, if any, is still queued).
    #[inline]
    pub(crate) unsafe fn promote_since(
        &mut self,
        mark: Option<NonNull<Header>>,
        mut woke: impl FnMut(&Header) -> bool,
    ) {
        let first_new = match mark {
            // The front list was empty: all of it is new.
            None => self.head,
            Some(old_tail) if old_tail != self.tail => {
                // SAFETY: the marked tail is still queued (no pop since the
                // mark) and not the tail, so the push after it wrote its
                // link.
                NonNull::new(unsafe { old_tail.as_ref() }.ready_next())
            }
            Some(_) => None,
        };
        let Some(first_new) = first_new else {
            self.join_behind();
            return;
        };
        // Split the new tasks into two runs, each in push order: `woken`
        // and `rest`, as (first, last).
        let mut woken: Option<(NonNull<Header>, NonNull<Header>)> = None;
        let mut rest: Option<(NonNull<Header>, NonNull<Header>)> = None;
        let last_new = self.tail;
        let mut at = first_new;
        loop {
            // SAFETY: `at` is queued, so alive; from `first_new` to the
            // tail every link was written by the push after it. The link is
            // read before `append` below rewrites the previous task's.
            let h = unsafe { at.as_ref() };
            let next = if at == last_new {
                None
            } else {
                NonNull::new(h.ready_next())
            };
            let run = if woke(h) { &mut woken } else { &mut rest };
            *run = Some(match *run {
                None => (at, at),
                Some((first, last)) => {
                    // SAFETY: `last` is alive (a new task, queued until
                    // this call relinks it); only this thread touches links.
                    unsafe { last.as_ref() }.set_ready_next(at);
                    (first, at)
                }
            });
            match next {
                Some(n) => at = n,
                None => break,
            }
        }
        // Take the new tasks out: the front list ends at the mark again.
        match mark {
            None => self.head = None,
            Some(old_tail) => self.tail = old_tail,
        }
        self.join_behind();
        if let Some((first, last)) = woken {
            match self.woken_last {
                // SAFETY: `after` is queued (popping it clears
                // `woken_last`); only this thread touches links.
                Some(after) => unsafe { self.insert_after(after, first, last) },
                None => {
                    match self.head {
                        // SAFETY: `last` is alive (a new task); only this
                        // thread touches links.
                        Some(old_head) => unsafe { last.as_ref() }.set_ready_next(old_head),
                        None => self.tail = last,
                    }
                    self.head = Some(first);
                }
            }
            // A yielder still queued was pushed at the end of the queue
            // after the previous look that woke tasks, so it follows every
            // task woken so far.
            self.woken_last = Some(self.yielded_last.take().unwrap_or(last));
        }
        if let Some((first, last)) = rest {
            match self.head {
                // SAFETY: the tail is queued; only this thread touches links.
                Some(_) => unsafe { self.tail.as_ref() }.set_ready_next(first),
                None => self.head = Some(first),
            }
            self.tail = last;
        }
    }

    /// Links the run `first..=last` (linked, out of the queue) after
    /// `after`, a task of the front list (the lists are joined).
    ///
    /// # Safety
    /// `after` is queued and the lists are joined (`behind` is `None`); the
    /// run's tasks are alive and not in the queue.
    #[inline]
    unsafe fn insert_after(
        &mut self,
        after: NonNull<Header>,
        first: NonNull<Header>,
        last: NonNull<Header>,
    ) {
        debug_assert!(self.behind.is_none() && self.head.is_some());
        if after == self.tail {
            self.tail = last;
        } else {
            // SAFETY: `after` is queued and not the tail, so its link names
            // the task after it, and was written by the push after it.
            let next = unsafe { after.as_ref() }.ready_next();
            if let Some(next) = NonNull::new(next) {
                // SAFETY: `last` is alive (the caller's contract).
                unsafe { last.as_ref() }.set_ready_next(next);
            }
        }
        // SAFETY: `after` is queued; only this thread touches links.
        unsafe { after.as_ref() }.set_ready_next(first);
    }

    /// Appends the tasks behind to the front list.
    #[inline]
    fn join_behind(&mut self) {
        let Some((first, last)) = self.behind.take() else {
            return;
        };
        match self.head {
            // SAFETY: the tail is queued; only this thread touches links.
            Some(_) => unsafe { self.tail.as_ref() }.set_ready_next(first),
            None => self.head = Some(first),
        }
        self.tail = last;
    }

    /// Removes and returns a task picked by `pick(n)` among the first `n`
    /// (at most [`PICK_WINDOW`]): `pick` returns an index below `n`. For
    /// seeded schedules; `pop_front` is the same with `pick` always 0.
    pub(crate) fn pop_picked(
        &mut self,
        pick: impl FnOnce(usize) -> usize,
    ) -> Option<NonNull<Header>> {
        let head = self.refill()?;
        let mut n = 1;
        let mut at = head;
        while n < PICK_WINDOW && at != self.tail {
            // SAFETY: `at` is queued and not the tail, so its link was
            // written by the push after it (see `pop_front`).
            at = NonNull::new(unsafe { at.as_ref() }.ready_next())?;
            n += 1;
        }
        let k = pick(n).min(n - 1);
        if k == 0 {
            return self.pop_front();
        }
        let mut prev = head;
        for _ in 1..k {
            // SAFETY: as above: `prev` is queued and before the k-th task,
            // so not the tail.
            prev = NonNull::new(unsafe { prev.as_ref() }.ready_next())?;
        }
        // SAFETY: `prev` is queued and not the tail (the k-th task follows
        // it); only this thread touches links.
        let picked = NonNull::new(unsafe { prev.as_ref() }.ready_next())?;
        if self.woken_last == Some(picked) {
            // Woken tasks before it may still be queued; the next look's
            // go first then, which a seeded schedule may do anyway.
            self.woken_last = None;
        }
        if self.yielded_last == Some(picked) {
            self.yielded_last = None;
        }
        if picked == self.tail {
            self.tail = prev;
        } else {
            // SAFETY: `picked` is queued and not the tail, so its link
            // names the task after it.
            let after = NonNull::new(unsafe { picked.as_ref() }.ready_next())?;
            // SAFETY: `prev` is queued; only this thread touches links.
            unsafe { prev.as_ref() }.set_ready_next(after);
        }
        Some(picked)
    }

    /// Removes and returns the oldest task of the front list, or if that
    /// is empty, of the tasks behind (which become the front list).
    #[inline]
    pub(crate) fn pop_front(&mut self) -> Option<NonNull<Header>> {
        let Some(first) = self.head else {
            self.refill()?;
            return self.pop_front();
        };
        self.head = if first == self.tail {
            None
        } else {
            // SAFETY: `first` is queued, so alive (see `push_back`), and
            // not the tail, so its link was written by the push after it.
            NonNull::new(unsafe { first.as_ref() }.ready_next())
        };
        if self.woken_last == Some(first) {
            // The last of the woken run: none is left.
            self.woken_last = None;
        }
        if self.yielded_last == Some(first) {
            self.yielded_last = None;
        }
        Some(first)
    }
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;
    use std::collections::VecDeque;
    use std::future::poll_fn;
    use std::pin::pin;
    use std::rc::Rc;
    use std::task::Poll;
    use std::time::Duration;

    /// Tasks that yield different numbers of times are polled in the order
    /// a plain FIFO of them gives: each yield sends a task to the back.
    #[test]
    fn tasks_are_polled_first_in_first_out() {
        let n = 50;
        let yields = |i: usize| i % 4;
        let log = Rc::new(RefCell::new(Vec::new()));
        let l = log.clone();
        crate::run(async move {
            let tasks: Vec<_> = (0..n)
                .map(|i| {
                    let l = l.clone();
                    crate::spawn(async move {
                        for _ in 0..yields(i) {
                            l.borrow_mut().push(i);
                            crate::yield_now().await;
                        }
                        l.borrow_mut().push(i);
                    })
                })
                .collect();
            crate::join_all(tasks).await;
        });
        let mut model: VecDeque<(usize, usize)> = (0..n).map(|i| (i, yields(i))).collect();
        let mut expect = Vec::new();
        while let Some((i, left)) = model.pop_front() {
            expect.push(i);
            if left > 0 {
                model.push_back((i, left - 1));
            }
        }
        assert_eq!(*log.borrow(), expect);
    }

    /// A task woken while it runs is queued at once, and tasks it wakes
    /// after that are linked behind it. If the same poll then goes on to
    /// wait for something (here a timer), recording that must not disturb
    /// the queue: every task still runs, in wake order.
    #[test]
    fn waiting_recorded_after_a_wake_in_the_same_poll_keeps_the_queue() {
        let log = Rc::new(RefCell::new(Vec::new()));
        let l = log.clone();
        crate::run(async move {
            let parked = Rc::new(RefCell::new(None::<std::task::Waker>));
            let (p1, p2) = (parked.clone(), parked.clone());
            let (la, lb, lc, ld) = (l.clone(), l.clone(), l.clone(), l.clone());
            // d parks its waker and waits until a wakes it.
            let d = crate::spawn(async move {
                let mut polls = 0;
                poll_fn(|cx| {
                    polls += 1;
                    ld.borrow_mut().push(("d", polls));
                    if polls == 1 {
                        *p1.borrow_mut() = Some(cx.waker().clone());
                        Poll::Pending
                    } else {
                        Poll::Ready(())
                    }
                })
                .await;
            });
            let a = crate::spawn(async move {
                let mut sleep = pin!(crate::sleep(Duration::from_secs(3600)));
                let mut polls = 0;
                poll_fn(|cx| {
                    polls += 1;
                    la.borrow_mut().push(("a", polls));
                    if polls == 1 {
                        cx.waker().wake_by_ref();
                        p2.borrow_mut().take().expect("d ran first").wake();
                        assert!(sleep.as_mut().poll(cx).is_pending());
                        Poll::Pending
                    } else {
                        Poll::Ready(())
                    }
                })
                .await;
            });
            let b = crate::spawn(async move { lb.borrow_mut().push(("b", 1)) });
            let c = crate::spawn(async move { lc.borrow_mut().push(("c", 1)) });
            crate::join_all([d, a, b, c]).await;
        });
        assert_eq!(
            *log.borrow(),
            [("d", 1), ("a", 1), ("b", 1), ("c", 1), ("a", 2), ("d", 2)],
            "a woke itself, then d: both run after b and c, in that order"
        );
    }

    /// Tasks that wake themselves and each other in a pseudo-random order,
    /// finish in the very poll that queued them, or are killed while
    /// queued: every one ends exactly once, and nothing queued is lost or
    /// freed early (ASan and valgrind run this too).
    #[test]
    fn wake_storm_with_finishing_and_killed_queued_tasks() {
        const TASKS: usize = 200;
        const ROUNDS: u32 = 30;
        let ended = crate::run(async {
            let wakers: Rc<RefCell<Vec<Option<std::task::Waker>>>> =
                Rc::new(RefCell::new(vec![None; TASKS]));
            let tasks: Vec<_> = (0..TASKS)
                .map(|i| {
                    let wakers = wakers.clone();
                    crate::spawn(async move {
                        let mut seed = (i as u32).wrapping_mul(2_654_435_761) | 1;
                        let mut rounds = 0;
                        poll_fn(|cx| {
                            seed ^= seed << 13;
                            seed ^= seed >> 17;
                            seed ^= seed << 5;
                            wakers.borrow_mut()[i] = Some(cx.waker().clone());
                            let other = seed as usize % TASKS;
                            if let Some(w) = wakers.borrow()[other].as_ref() {
                                w.wake_by_ref();
                            }
                            cx.waker().wake_by_ref();
                            rounds += 1;
                            // Queued by the wake above, and done now.
                            if rounds == ROUNDS || seed % 97 == 0 {
                                Poll::Ready(rounds)
                            } else {
                                Poll::Pending
                            }
                        })
                        .await
                    })
                })
                .collect();
            // Let the storm run, then kill every fifth task wherever it is
            // (most sit in the queue, woken by their neighbours).
            for _ in 0..5 {
                crate::yield_now().await;
            }
            for t in tasks.iter().step_by(5) {
                t.kill();
            }
            let mut done = 0;
            let mut killed = 0;
            for r in crate::join_all(tasks).await {
                match r {
                    Ok(rounds) => {
                        assert!((1..=ROUNDS).contains(&rounds));
                        done += 1;
                    }
                    Err(e) => {
                        assert!(e.is_killed(), "{e}");
                        killed += 1;
                    }
                }
            }
            wakers.borrow_mut().clear();
            (done, killed)
        });
        assert_eq!(ended.0 + ended.1, TASKS);
        assert!(
            ended.1 > 0 && ended.1 <= TASKS / 5,
            "only (and some of) the killed ones fail: {ended:?}"
        );
    }
}

/// The queue's pointer steps on cells made by hand (`task::raw::testing`):
/// no scheduler, poller or ticker, so these run under Miri
/// (`scripts/sanitize.sh miri`).
#[cfg(test)]
mod pure_tests {
    use std::ptr::NonNull;
    use std::sync::Arc;

    use super::ReadyQueue;
    use crate::scheduler::shared::CoreShared;
    use crate::task::raw::testing::{owner, spawn};
    use crate::task::raw::{Header, ref_dec};

    /// `n` cells with one reference each; `polled` sets their poll count
    /// to 1 (woken tasks), else it stays 0 (spawned, never polled).
    fn cells(owner: &Arc<CoreShared>, n: usize, polled: bool) -> Vec<NonNull<Header>> {
        (0..n)
            .map(|_| {
                let p = spawn(owner, async {}, None, 1, false);
                // SAFETY: the cell is alive (we hold its reference).
                unsafe { p.as_ref() }.polls.set(u32::from(polled));
                p
            })
            .collect()
    }

    fn push_all(q: &mut ReadyQueue, ptrs: &[NonNull<Header>]) {
        for &p in ptrs {
            // SAFETY: live cells, each pushed once and popped by `drain`
            // before it is freed.
            unsafe { q.push_back(p) };
        }
    }

    fn drain(q: &mut ReadyQueue) -> Vec<NonNull<Header>> {
        std::iter::from_fn(|| q.pop_front()).collect()
    }

    fn free(ptrs: impl IntoIterator<Item = NonNull<Header>>) {
        for p in ptrs {
            // SAFETY: the only reference; the never-polled future is
            // dropped with the cell.
            unsafe { ref_dec(p) };
        }
    }

    /// A turn's new tasks split: the woken ones move ahead of the tasks
    /// already queued, the never-polled ones go to the end; each group
    /// keeps its order, and a second turn's woken tasks queue behind the
    /// first turn's, its spawns behind the first turn's spawns.
    #[test]
    fn woken_tasks_move_up_and_remote_spawns_go_last() {
        let owner = owner();
        let old = cells(&owner, 2, true);
        let (w, s) = (cells(&owner, 3, true), cells(&owner, 3, false));
        let mut q = ReadyQueue::new();
        push_all(&mut q, &old);
        let mark = q.mark();
        push_all(&mut q, &[w[0], s[0], w[1], s[1]]);
        // SAFETY: nothing popped since the mark.
        unsafe { q.promote_since(mark, |h| h.polls.get() != 0) };
        let mark = q.mark();
        push_all(&mut q, &[s[2], w[2]]);
        // SAFETY: as above.
        unsafe { q.promote_since(mark, |h| h.polls.get() != 0) };
        let order = drain(&mut q);
        assert_eq!(
            order,
            vec![w[0], w[1], w[2], old[0], old[1], s[0], s[1], s[2]]
        );
        assert!(q.is_empty());
        free(order);
    }

    /// A turn that only admitted spawns moves nothing: they queue after
    /// every task, those set aside included.
    #[test]
    fn a_turn_of_spawns_only_appends_them_after_the_tasks_set_aside() {
        let owner = owner();
        let aside = cells(&owner, 2, true);
        let front = cells(&owner, 1, true);
        let s = cells(&owner, 2, false);
        let mut q = ReadyQueue::new();
        push_all(&mut q, &aside);
        q.set_aside();
        push_all(&mut q, &front);
        let mark = q.mark();
        push_all(&mut q, &s);
        // SAFETY: nothing popped since the mark.
        unsafe { q.promote_since(mark, |h| h.polls.get() != 0) };
        let order = drain(&mut q);
        assert_eq!(order, vec![front[0], aside[0], aside[1], s[0], s[1]]);
        free(order);
    }

    /// From an empty queue: the woken tasks first, then the spawns.
    #[test]
    fn an_empty_queue_takes_the_woken_tasks_first() {
        let owner = owner();
        let (w, s) = (cells(&owner, 2, true), cells(&owner, 2, false));
        let mut q = ReadyQueue::new();
        let mark = q.mark();
        push_all(&mut q, &[s[0], w[0], s[1], w[1]]);
        // SAFETY: nothing popped since the mark.
        unsafe { q.promote_since(mark, |h| h.polls.get() != 0) };
        let order = drain(&mut q);
        assert_eq!(order, vec![w[0], w[1], s[0], s[1]]);
        free(order);
    }
}

//! One batch of polls (`Core::run_ready`) and the poll of one task
//! (`Core::run_task`): popping the ready queue, the flags around a poll,
//! a yield with nothing else ready polled again at once (`yield_alone`,
//! `lone_yield`), the end of a poll (requeue, kill, finish), and where a
//! batch ends (the budget, the coarse clock; `docs/design/cadence.md`).
//!
//! It never looks at the reactor, the timers or other threads' messages
//! (that is `turn.rs`), and keeps to the lifetime rules in `mod.rs`.

use std::ptr::NonNull;
use std::task::Context;
use std::time::Instant;

use super::Core;
use super::ready::ReadyQueue;
use crate::scheduler::context;
use crate::scheduler::shared::CoreShared;
use crate::scheduler::ticker;
use crate::task::Exit;
use crate::task::raw::{
    self, DUMP_DETAILS, FINISHED, Header, KILL_REQUESTED, PollOutcome, REQUEUED, RUNNING,
    SCHEDULED, UNREGISTERED, WOKEN_OUTSIDE,
};

impl Core {
    /// Polls up to `budget` ready tasks, and no more once the coarse clock
    /// has moved (see `ticker`). Returns how many were polled, and whether
    /// the clock cut the batch short.
    pub(super) fn run_ready(&self, budget: usize) -> (usize, bool) {
        // The clock as the next poll starts. One reading per poll serves
        // both the slow-poll measure and the end of the batch. The loop
        // keeps few values live across a poll (no separate count and
        // budget, no flags): each one costs a spill per yield.
        let mut start = ticker::now_us();
        let mut left = budget;
        let mut again = None;
        let mut cut = false;
        while left != 0 {
            let next = again.take().or_else(|| match &self.rng {
                None => self.ready_mut(ReadyQueue::pop_front),
                Some(rng) => self.ready_mut(|q| q.pop_picked(|n| rng.below(n))),
            });
            let Some(ptr) = next else { break };
            let (alone, now) = self.run_task(ptr, start, &mut left);
            if alone {
                again = Some(ptr);
            }
            left -= 1;
            if now != start {
                // Under virtual time the batch ends by count alone: the
                // real clock must not decide the order of a replayable
                // schedule.
                if !self.is_virtual() {
                    cut = true;
                    break;
                }
                start = now;
            }
            if self.stop.get() {
                cut = true;
                break;
            }
        }
        if let Some(ptr) = again {
            self.requeue_alone(ptr, left);
        }
        (budget - left, cut)
    }

    /// Queues the task that `run_task` let run again at once when the batch
    /// ends with it (budget spent, the clock moved, or `lone_polls` ended
    /// it), `left` polls short of the budget. Out of line: its code must
    /// not crowd the registers of the polling loop.
    #[cold]
    #[inline(never)]
    fn requeue_alone(&self, ptr: NonNull<Header>, left: usize) {
        if self.lone_timed.get() != self.batch_ns.get() {
            // A tick (or the budget) ended the batch at a lone yield: timed
            // all the same if the task's polls are long (one clock reading
            // per batch), since a tick that lands in the yielder's own
            // long poll must not keep the ticker fast.
            self.lone_polls(left);
        }
        // SAFETY: alive: it is pending.
        let h = unsafe { raw::header(ptr) };
        if h.owner_flags.get() & DUMP_DETAILS != 0 {
            // Its polls while it was alone were not noted (see `run_task`):
            // it waits from now on.
            self.note_pending(h);
        }
        // SAFETY: it is `SCHEDULED` by `requeue_current` but was never
        // queued (`run_task` said so), and it is alive: it is pending.
        self.ready_mut(|q| unsafe { q.push_last(ptr) });
    }

    /// Polls one task. True if it yielded to its own queue slot
    /// (`requeue_current`) while no other task was ready: the caller then
    /// polls it again at once (it is `SCHEDULED` but not queued), which is
    /// exactly what a trip through the empty queue would have done.
    ///
    /// With dump details (`DUMP_DETAILS`), a poll that returns `Pending`
    /// notes that the task waits from now on; not on that yield-alone
    /// path, which must stay as short as it is: `run_ready` notes the task
    /// when its batch ends.
    ///
    /// While it keeps yielding alone and the batch may go on, it is polled
    /// again in `yield_alone`, each extra poll taken from `left`.
    ///
    /// `start` is the coarse clock as the poll starts; returns the clock as
    /// it ended, beside the yield-alone answer.
    fn run_task(&self, ptr: NonNull<Header>, start: u64, left: &mut usize) -> (bool, u64) {
        // SAFETY: a task in the ready queue is kept alive by its registry
        // reference (released only after this pop if it has finished).
        let h = unsafe { raw::header(ptr) };
        let l = h.owner_flags.get() & !(SCHEDULED | WOKEN_OUTSIDE);
        if h.owner_flags.get() & (FINISHED | WOKEN_OUTSIDE) != 0 {
            if l & FINISHED != 0 {
                h.owner_flags.set(l);
                // SAFETY: the queue held the registry's reference (see docs).
                unsafe { raw::ref_dec(ptr) };
                return (false, start);
            }
            // Woken by a look at the reactor: what it queues runs next.
            self.ready_mut(ReadyQueue::set_aside);
        }
        h.owner_flags.set(l | RUNNING);
        h.polls.set(h.polls.get().saturating_add(1));
        h.clear_waiting();
        let waker = crate::task::waker::borrowed(ptr);
        context::set_current_waker(Some(&*waker));
        let mut cx = Context::from_waker(&waker);
        let mut outcome = if self.options.measure_busy_time {
            self.poll_timed(ptr, &mut cx)
        } else {
            // SAFETY: owner thread, unfinished task: the poll contract holds.
            unsafe { (h.vtable().poll)(ptr, &mut cx) }
        };
        loop {
            let now = ticker::now_us();
            if now != start {
                self.clock_moved(h, start);
            }
            context::set_current_waker(None);
            if self.shared.kill_sent() {
                // A kill sent from another thread during this poll takes
                // effect now, while the task still counts as running (so it
                // ends as killed whatever the poll returned). It must find
                // the task by id: registered now if it was not.
                self.register_late(ptr);
                self.take_kills();
            }
            let f = h.owner_flags.get();
            let l = f & !(RUNNING | REQUEUED);
            h.owner_flags.set(l);
            if f & REQUEUED != 0 {
                let alone = self.ready_mut(|q| q.is_empty());
                if alone && matches!(outcome, PollOutcome::Pending) && l & KILL_REQUESTED == 0 {
                    if now == start
                        && !self.stop.get()
                        && *left > 1
                        && !self.options.measure_busy_time
                    {
                        let Some(o) = self.lone_yield(ptr, start, left) else {
                            // The batch timed the task and ends here
                            // (`lone_polls`): a value past `start` makes
                            // `run_ready` end it as if the clock had moved.
                            return (true, start.wrapping_add(1));
                        };
                        outcome = o;
                        continue;
                    }
                    return (true, now);
                }
                // Others are ready (or the task is ending): it takes its place
                // at the back, behind every ready task, where the rules below
                // expect a SCHEDULED task.
                // SAFETY: `requeue_current` marked it `SCHEDULED` without
                // queueing it (so `schedule` skipped it since); its registry
                // reference outlives its time in the queue.
                self.ready_mut(|q| unsafe { q.push_last(ptr) });
            }
            match outcome {
                PollOutcome::Pending if l & (KILL_REQUESTED | DUMP_DETAILS | UNREGISTERED) == 0 => {
                }
                PollOutcome::Pending => self.pending_extras(ptr, l),
                PollOutcome::Ready | PollOutcome::Panicked => {
                    if l & UNREGISTERED == 0 {
                        self.registry.borrow_mut().remove(ptr);
                    } else {
                        // Ended in its first poll: it never entered the
                        // registry.
                        self.unregistered.set(self.unregistered.get() - 1);
                    }
                    h.owner_flags.set((l & !UNREGISTERED) | FINISHED);
                    let exit = match outcome {
                        PollOutcome::Panicked => Exit::Panicked,
                        _ if l & KILL_REQUESTED != 0 => {
                            // Killed itself and then returned: kill wins.
                            // The output is dropped; an empty stage reads as
                            // `Killed` (see `task::raw`).
                            // SAFETY: owner thread, before COMPLETE.
                            unsafe { (h.vtable().drop_stage)(ptr) };
                            Exit::Killed
                        }
                        _ => Exit::Completed,
                    };
                    self.finish(ptr, exit);
                }
            }
            return (false, now);
        }
    }

    /// Polls `ptr` again and again while it yields to its own slot
    /// (`requeue_current`) with nothing else to do first, each poll taken
    /// from `left` (kept at one or more for the caller's count). Entered
    /// from `run_task` after such a poll, once its end was handled (no
    /// tick since `start`, no kill, no stop, nothing else ready). Between
    /// two polls it checks what the end of a poll could act on (a tick,
    /// the kill flag, which a stop request raises too, a kill requested,
    /// another ready task) and
    /// resets only what a pop from the queue would; the first poll that
    /// leaves anything to act on goes back to `run_task` as it ended (the
    /// task current and `RUNNING`), which handles it like any poll.
    /// Out of line, with its own registers: the loop is a dozen loads and
    /// stores around the call.
    ///
    /// No value is carried from one poll to the next through memory: the
    /// flags and the poll count are stored from registers (values fixed at
    /// entry, and the count `n`), never as a load of the last poll's store
    /// plus a change. Each such chain costs a store-to-load forwarding per
    /// poll (about 7 cycles here), which is as long as a whole yield.
    #[inline(never)]
    fn yield_alone(&self, ptr: NonNull<Header>, start: u64, left: &mut usize) -> PollOutcome {
        // SAFETY: alive: it is pending, and the registry holds it.
        let h = unsafe { raw::header(ptr) };
        let waker = crate::task::waker::borrowed(ptr);
        // `run_task`'s waker, put back on the way out: this one dies here.
        let outer = context::current_waker();
        context::set_current_waker(Some(&*waker));
        let mut cx = Context::from_waker(&waker);
        // The flags as each poll starts: `RUNNING`, neither `SCHEDULED`
        // (a pop would clear it) nor `REQUEUED` (`run_task` would). A poll
        // that yielded alone and asked for nothing else leaves exactly
        // `yielded`: any other change (a kill asked for, a wake of its own
        // that queued it) goes back to `run_task`, which handles it.
        let base = (h.owner_flags.get() | RUNNING) & !(SCHEDULED | REQUEUED);
        let yielded = base | SCHEDULED | REQUEUED;
        let shared: &CoreShared = &self.shared;
        // A local count: one through `left` would be stored every poll.
        let mut n = *left;
        // The poll count after the poll that leaves `n` polls: `polls_end - n`
        // (near saturation only approximate, but never zero: see `polls`).
        let polls_end = h.polls.get().saturating_add(n as u32);
        // Read once: the vtable of a task never changes.
        let poll = h.vtable().poll;
        let outcome = loop {
            n -= 1;
            h.owner_flags.set(base);
            h.polls.set(polls_end.wrapping_sub(n as u32));
            h.clear_waiting();
            // SAFETY: owner thread, unfinished task (it returned `Pending`):
            // the poll contract holds.
            let outcome = unsafe { poll(ptr, &mut cx) };
            // Yielded to its own slot, and no kill asked for: one compare
            // of the flags. A poll that leaves this loop keeps `REQUEUED`
            // for `run_task`. A stop asked for during the poll
            // (`request_stop`) raised the kill flag: no test of `stop`.
            let again = h.owner_flags.get() == yielded
                && matches!(outcome, PollOutcome::Pending)
                && ticker::now_us() == start
                && !shared.kill_sent()
                && self.ready_mut(|q| q.is_empty())
                && n > 1;
            if !again {
                break outcome;
            }
        };
        *left = n;
        context::restore_current_waker(outer);
        outcome
    }

    /// `yield_alone`, once the batch has timed the task (one clock reading
    /// per call, not per poll: `lone_polls`, docs/design/cadence.md): at
    /// most as many more polls as fit in a tick gap, and `None` (no poll)
    /// when none fit, for `run_task` to end the batch. Apart, so that the
    /// polling loop keeps its registers.
    #[inline(never)]
    fn lone_yield(
        &self,
        ptr: NonNull<Header>,
        start: u64,
        left: &mut usize,
    ) -> Option<PollOutcome> {
        let more = self.lone_polls(*left);
        if more == 0 {
            return None;
        }
        // At least 2 (`left` is more than one): one poll, one kept.
        let cap = (*left).min(more.saturating_add(1));
        let mut n = cap;
        let outcome = self.yield_alone(ptr, start, &mut n);
        *left -= cap - n;
        Some(outcome)
    }

    /// A poll that left its task pending while a kill or dump details ask
    /// for more, or that was its first and it is not registered yet (`l`:
    /// its flags as the poll ended). Out of line, so the
    /// plain pending path keeps the polling loop's values in registers.
    #[inline(never)]
    fn pending_extras(&self, ptr: NonNull<Header>, l: u8) {
        if l & UNREGISTERED != 0 {
            // Its first poll left it waiting: it enters the registry now
            // (`late`; inline here, the usual case of a task that waits).
            // SAFETY: a task just polled is alive.
            unsafe { raw::header(ptr) }
                .owner_flags
                .set(l & !UNREGISTERED);
            self.registry.borrow_mut().insert(ptr, true);
            self.unregistered.set(self.unregistered.get() - 1);
            if l & (KILL_REQUESTED | DUMP_DETAILS) == 0 {
                return;
            }
        }
        if l & KILL_REQUESTED != 0 {
            self.registry.borrow_mut().remove(ptr);
            self.kill_removed(ptr);
        } else {
            // SAFETY: the task is alive: the registry still holds it.
            self.note_pending(unsafe { raw::header(ptr) });
        }
    }

    /// Polls `ptr` and adds the poll's length to its busy time
    /// (`Builder::measure_busy_time`). Out of line: the clock readings must
    /// not take registers from the polling loop when the option is off.
    #[cold]
    #[inline(never)]
    fn poll_timed(&self, ptr: NonNull<Header>, cx: &mut Context<'_>) -> PollOutcome {
        // SAFETY: a task being polled is alive.
        let h = unsafe { raw::header(ptr) };
        let started = Instant::now();
        // SAFETY: owner thread, unfinished task (the caller's duty).
        let outcome = unsafe { (h.vtable().poll)(ptr, cx) };
        if let Some(b) = self.busy_ns.borrow_mut().get_mut(&h.id) {
            *b = b.saturating_add(started.elapsed().as_nanos() as u64);
        }
        outcome
    }
}

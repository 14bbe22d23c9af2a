//! One turn of a core's loop (`Core::turn`): the look at the outside
//! world between two batches of polls. It waits on the reactor (or only
//! polls it while tasks are ready), fires due timers, drains the messages
//! other threads sent, and puts the tasks the turn woke in their place in
//! the ready queue (`ready.rs`, `docs/design/io-first.md`,
//! `docs/design/ready-queue.md`).
//!
//! It polls no task and pops nothing from the ready queue: the order it
//! sets depends on that. Batches, polls and the lifetime rules are in
//! `mod.rs`.

use std::ptr::NonNull;
use std::time::Duration;

use super::Core;
use crate::scheduler::shared::{Msg, TaskPtr};
use crate::scheduler::ticker;
use crate::task::protocol;
use crate::task::raw::{self, WOKEN_OUTSIDE};

impl Core {
    /// One look at the outside world: I/O, timers, messages. Returns true
    /// if it found anything (an I/O event, a fired timer or a message).
    pub(super) fn turn(&self) -> bool {
        /// How this turn waits for the outside world.
        enum Wait {
            /// Only poll: tasks are ready, or a timer is already due.
            Poll,
            /// Block until an event or an unpark: no timer is pending.
            Forever,
            /// Block until the start of this tick at the latest.
            Until(u64),
        }
        // Tasks this turn wakes run before those already ready that no
        // turn woke, so a task that yielded waits behind the I/O it let the
        // scheduler see.
        let mark = self.ready_mut(|q| q.mark());
        let busy = !self.ready_mut(|q| q.is_empty()) || self.stop.get();
        let mut wait = if busy {
            Wait::Poll
        } else {
            match self.wheel.borrow().next_expiration() {
                None => Wait::Forever,
                // The last clock reading already reached it: it is due.
                Some(tick) if tick <= self.now_tick() => Wait::Poll,
                Some(tick) => Wait::Until(tick),
            }
        };
        // Virtual time: rather than wait for the next timer, look once
        // for I/O and messages and, if nothing came, jump to it.
        let mut jump = None;
        if let (Wait::Until(tick), true) = (&wait, self.is_virtual()) {
            if self.shared.clock_held() {
                // A blocking job runs: wait for it (its end unparks us).
                wait = Wait::Forever;
            } else {
                jump = Some(*tick);
                wait = Wait::Poll;
            }
        }
        let mut spun = 0;
        if !matches!(wait, Wait::Poll) {
            let deadline = match wait {
                Wait::Until(tick) => Some(self.instant_of(tick)),
                _ => None,
            };
            let (events, still_idle) = self.spin_before_park(deadline);
            spun = events;
            if !still_idle {
                wait = Wait::Poll;
            }
        }
        let may_block = !matches!(wait, Wait::Poll);
        if may_block && !self.shared.prepare_park() {
            wait = Wait::Poll;
        }
        let blocks = !matches!(wait, Wait::Poll);
        self.bump(|s| {
            s.turns += 1;
            if blocks {
                s.parks += 1;
            }
        });
        if blocks {
            ticker::asleep();
        }
        let parked = match wait {
            Wait::Poll => self.reactor.park(Some(Duration::ZERO)),
            Wait::Forever => self.reactor.park(None),
            Wait::Until(tick) => self.reactor.park_until(self.instant_of(tick)),
        };
        if blocks {
            ticker::awake();
        }
        let events = match parked {
            Ok(n) => n + spun,
            Err(e) => {
                tracing::error!("poller failed: {e}");
                1
            }
        };
        if may_block {
            self.shared.unparked();
        }
        if let Some(tick) = jump {
            if events == 0 && !self.shared.has_msgs() {
                self.jump_to(tick);
            }
        }
        self.update_clock();
        // File writes on this thread's io_uring, if any (`fs::uring`).
        let reaped = crate::fs::reap_ring();
        // The tasks timers wake go first like the others, but without
        // `WOKEN_OUTSIDE`: what they wake queues behind the tasks already
        // ready (a tick fires a batch of sleepers, whose joiner must not be
        // polled once per sleeper; `docs/design/io-first.md`).
        let before_timers = self.ready_mut(|q| q.mark());
        let fired = self.fire_timers();
        let after_timers = self.ready_mut(|q| q.mark());
        let msgs = self.drain_messages();
        // The timers' tasks: those after `before_timers` up to
        // `after_timers` (pushes only append, and nothing pops in a turn).
        let timers = match (before_timers, after_timers) {
            (b, Some(a)) if b != Some(a) => Some((b, a)),
            _ => None,
        };
        let mut in_timers = matches!(timers, Some((b, _)) if b == mark);
        // SAFETY: nothing popped the queue since `mark` (only `run_ready`
        // pops, and a turn runs no task). The closure only sets a flag.
        self.ready_mut(|q| unsafe {
            q.promote_since(mark, |h| {
                let timer = in_timers;
                if let Some((b, a)) = timers {
                    let at = NonNull::from(h);
                    if b == Some(at) {
                        in_timers = true;
                    } else if a == at {
                        in_timers = false;
                    }
                }
                // Never polled: another thread spawned it here (a look
                // wakes only tasks that waited); it queues last, like a
                // local spawn, not ahead of what later looks wake.
                if h.polls.get() == 0 {
                    return false;
                }
                if !timer {
                    h.owner_flags.set(h.owner_flags.get() | WOKEN_OUTSIDE);
                }
                true
            })
        });
        events > 0 || reaped || fired || msgs
    }

    /// Lowers the kill flag and handles the messages waiting (kills among
    /// them) at once.
    #[inline(never)]
    pub(super) fn take_kills(&self) {
        self.shared.take_kill_flag();
        self.drain_messages();
    }

    /// Handles the messages other threads sent; true if there were any.
    pub(super) fn drain_messages(&self) -> bool {
        let mut msgs = Vec::new();
        self.shared.take_msgs(&mut msgs);
        let any = !msgs.is_empty();
        for msg in msgs {
            self.handle(msg);
        }
        any
    }

    pub(super) fn handle(&self, msg: Msg) {
        match msg {
            Msg::Spawn(TaskPtr(ptr), site, parent) => self.admit(ptr, site, false, parent),
            Msg::Wake(TaskPtr(ptr)) => {
                // SAFETY: the message carries a reference.
                let h = unsafe { raw::header(ptr) };
                protocol::clear_remote_queued(&h.remote_flags);
                self.schedule(ptr);
                // SAFETY: gives back the message's reference.
                unsafe { raw::ref_dec(ptr) };
            }
            Msg::Kill(id, reply) => {
                let killed = self.kill(id);
                if let Some(reply) = reply {
                    let _ = reply.send(killed);
                }
            }
            Msg::Tasks(reply) => {
                let _ = reply.send(self.core_tasks());
            }
            Msg::Stats(reply) => {
                let _ = reply.send(self.stats());
            }
            Msg::WaitExit(id, reply) => self.add_remote_waiter(id, reply),
            Msg::Shutdown => self.stop.set(true),
        }
    }
}

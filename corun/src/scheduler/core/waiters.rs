//! Waiting for a task by id (`corun::wait`, `wait_exit`, `join_all` from
//! outside): who waits for which task, and the outcomes delivered to waiters
//! that have not looked yet. Completion itself (which delivers them) stays
//! in the loop; this file only keeps the books.

use std::task::Waker;

use super::Core;
use crate::scheduler::shared::Reply;
use crate::task::raw;
use crate::task::{Exit, TaskId};

impl Core {
    /// Registers interest in the end of task `target`. `None` if there is no
    /// such task (or it is the caller itself).
    pub(crate) fn add_id_waiter(&self, target: TaskId, waker: &Waker) -> Option<u64> {
        if self.current().map(|p| {
            // SAFETY: the running task is alive.
            unsafe { raw::header(p) }.id
        }) == Some(target.id)
        {
            return None;
        }
        self.find(target.id)?;
        let target = target.id;
        let key = self.next_waiter.get() + 1;
        self.next_waiter.set(key);
        self.id_waiters
            .borrow_mut()
            .entry(target)
            .or_default()
            .push((key, waker.clone()));
        Some(key)
    }

    /// The outcome for waiter `key`, if delivered; else refreshes its waker.
    pub(crate) fn poll_id_waiter(&self, target: u64, key: u64, waker: &Waker) -> Option<Exit> {
        if let Some(exit) = self.exits.borrow_mut().remove(&key) {
            return Some(exit);
        }
        if let Some(list) = self.id_waiters.borrow_mut().get_mut(&target) {
            if let Some((_, w)) = list.iter_mut().find(|(k, _)| *k == key) {
                if !w.will_wake(waker) {
                    *w = waker.clone();
                }
            }
        }
        None
    }

    /// Forgets waiter `key` (its future was dropped).
    pub(crate) fn remove_id_waiter(&self, target: u64, key: u64) {
        if self.exits.borrow_mut().remove(&key).is_some() {
            return;
        }
        let removed = {
            let mut map = self.id_waiters.borrow_mut();
            let Some(list) = map.get_mut(&target) else {
                return;
            };
            let removed = list
                .iter()
                .position(|(k, _)| *k == key)
                .map(|i| list.swap_remove(i));
            if list.is_empty() {
                map.remove(&target);
            }
            removed
        };
        drop(removed); // the waker's drop may run user code: outside the borrow
    }

    /// Answers `reply` with how task `id` ends, sent from another thread:
    /// at once `NotFound` if it is not alive here.
    pub(crate) fn add_remote_waiter(&self, id: TaskId, reply: Reply<Exit>) {
        if self.find(id.id).is_none() {
            let _ = reply.send(Exit::NotFound);
            return;
        }
        self.remote_waiters
            .borrow_mut()
            .entry(id.id)
            .or_default()
            .push(reply);
    }
}

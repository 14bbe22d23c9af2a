//! `tasks()` and `dump()`: a snapshot of every live task of a scheduler
//! core (id, name, state, polls, busy time, longest poll, spawn site, and
//! with dump details its parent and since when it waits). Reads the
//! registry and side tables; changes nothing.

use std::time::Duration;

use super::Core;
use crate::task::dump::CoreTasks;
use crate::task::raw::{self, RUNNING, SCHEDULED};
use crate::task::{TaskId, TaskInfo, TaskState, Waiting};

impl Core {
    /// A snapshot of every live task, by id.
    pub(crate) fn snapshot(&self) -> Vec<TaskInfo> {
        self.register_all();
        let registry = self.registry.borrow();
        let mut out: Vec<TaskInfo> = registry
            .iter()
            .map(|ptr| {
                // SAFETY: the registry keeps it alive.
                let h = unsafe { raw::header(ptr) };
                let l = h.owner_flags.get();
                let state = if l & RUNNING != 0 {
                    TaskState::Running
                } else if l & SCHEDULED != 0 {
                    TaskState::Ready
                } else {
                    match h.waiting() {
                        Waiting::Nothing => TaskState::Idle,
                        Waiting::Sleep(tick) => TaskState::Sleeping {
                            until: self.instant_of(tick),
                        },
                        Waiting::SleepForever => TaskState::SleepingForever,
                        Waiting::Fd(fd, interest) => TaskState::Io { fd, interest },
                        Waiting::Task(id) => TaskState::Joining(id),
                    }
                };
                let (parent, since) = match registry.detail(ptr) {
                    Some(d) => {
                        let (parent, since) = self.read_detail(d);
                        (parent, Some(since))
                    }
                    None => (None, None),
                };
                TaskInfo {
                    id: TaskId::of(h),
                    name: h.name().map(str::to_string),
                    core: self.index,
                    state,
                    polls: u64::from(h.polls.get()),
                    busy: self.options.measure_busy_time.then(|| {
                        Duration::from_nanos(self.busy_ns.borrow().get(&h.id).copied().unwrap_or(0))
                    }),
                    longest_poll: self.longest_poll(h),
                    spawned_at: self.sites.borrow().get(h.site.get()),
                    parent,
                    // A running task is not waiting.
                    waiting_since: since.filter(|_| l & RUNNING == 0),
                }
            })
            .collect();
        out.sort_by_key(|i| i.id);
        out
    }

    /// [`Core::snapshot`] with what a dump needs to read it: this core's
    /// clock now, and whether it keeps dump details.
    pub(crate) fn core_tasks(&self) -> CoreTasks {
        CoreTasks {
            tasks: self.snapshot(),
            core: self.index,
            now: self.clock_now(),
            details: self.options.dump_details,
        }
    }
}

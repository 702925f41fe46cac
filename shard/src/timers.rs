//! The timer driver: a [`TimerWheel`] on a shard, advanced by the shard's clock.
//!
//! One task per shard waits in [`ShardTimers::expired`] and handles the keys that come out,
//! instead of one reactor timer per connection. The task sleeps until the wheel's next
//! deadline (at least one tick), so an idle wheel costs no wake-ups.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_lite::future;

use crate::local_event::LocalSignal;
use crate::shutdown::ShutdownSignal;
use crate::stats::ShardStats;
use crate::timer::{TimerId, TimerWheel};

/// A timer wheel driven by the shard's clock. One per shard and key type (cheap to clone;
/// not `Send`); create it with [`ShardContext::timers`](crate::ShardContext::timers).
///
/// Times are milliseconds since the runtime started ([`ShardTimers::now_ms`]), the same
/// epoch on every shard.
pub struct ShardTimers<K> {
    inner: Rc<TimersInner<K>>,
}

impl<K> Clone for ShardTimers<K> {
    fn clone(&self) -> Self {
        ShardTimers {
            inner: Rc::clone(&self.inner),
        }
    }
}

struct TimersInner<K> {
    wheel: RefCell<TimerWheel<K>>,
    epoch: Instant,
    /// The deadline (ms) the driver sleeps until, if it sleeps.
    armed_ms: Cell<Option<u64>>,
    /// An insert earlier than `armed_ms` happened: the driver must re-arm.
    rearm: LocalSignal,
    shutdown: ShutdownSignal,
    stats: Arc<ShardStats>,
}

impl<K: 'static> ShardTimers<K> {
    pub(crate) fn new(
        tick: Duration,
        epoch: Instant,
        shutdown: ShutdownSignal,
        stats: Arc<ShardStats>,
    ) -> Self {
        let tick_ms = u64::try_from(tick.as_millis()).unwrap_or(u64::MAX).max(1);
        ShardTimers {
            inner: Rc::new(TimersInner {
                wheel: RefCell::new(TimerWheel::new(tick_ms)),
                epoch,
                armed_ms: Cell::new(None),
                rearm: LocalSignal::default(),
                shutdown,
                stats,
            }),
        }
    }

    /// Milliseconds since the runtime started.
    pub fn now_ms(&self) -> u64 {
        u64::try_from(self.inner.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Adds a timer at `deadline_ms` (see [`now_ms`](Self::now_ms)).
    pub fn insert_at(&self, deadline_ms: u64, key: K) -> TimerId {
        let id = self.inner.wheel.borrow_mut().insert(deadline_ms, key);
        self.maybe_rearm(deadline_ms);
        id
    }

    /// Adds a timer `delay` from now.
    pub fn insert_after(&self, delay: Duration, key: K) -> TimerId {
        self.insert_at(self.deadline_after(delay), key)
    }

    /// Removes a timer; `None` if it already fired or was cancelled.
    pub fn cancel(&self, id: TimerId) -> Option<K> {
        self.inner.wheel.borrow_mut().cancel(id)
    }

    /// Moves a live timer to `deadline_ms`; false if it already fired or was cancelled.
    pub fn reschedule_at(&self, id: TimerId, deadline_ms: u64) -> bool {
        let moved = self.inner.wheel.borrow_mut().reschedule(id, deadline_ms);
        if moved {
            self.maybe_rearm(deadline_ms);
        }
        moved
    }

    /// Moves a live timer to `delay` from now (e.g. a keep-alive reset).
    pub fn reschedule_after(&self, id: TimerId, delay: Duration) -> bool {
        self.reschedule_at(id, self.deadline_after(delay))
    }

    /// Live timers.
    pub fn len(&self) -> usize {
        self.inner.wheel.borrow().len()
    }

    /// Whether no timer is live.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Waits until at least one timer is due and appends the due keys to `expired`.
    /// Returns false (without waiting) once shutdown has begun. Call from one task.
    pub async fn expired(&self, expired: &mut Vec<K>) -> bool {
        let inner = &*self.inner;
        loop {
            if inner.shutdown.is_shutting_down() {
                return false;
            }
            let now_ms = self.now_ms();
            let before = expired.len();
            let next_ms = {
                let mut wheel = inner.wheel.borrow_mut();
                wheel.advance(now_ms, expired);
                wheel.next_deadline()
            };
            let fired = expired.len() - before;
            if fired > 0 {
                inner.stats.timers_fired.add(fired as u64);
                return true;
            }
            inner.armed_ms.set(next_ms);
            let sleep = async {
                match next_ms {
                    Some(deadline_ms) => {
                        let wait_ms = deadline_ms.saturating_sub(now_ms).max(1);
                        glommio::timer::sleep(Duration::from_millis(wait_ms)).await
                    }
                    None => future::pending().await,
                }
            };
            future::or(future::or(sleep, inner.rearm.wait()), inner.shutdown.wait()).await;
            inner.armed_ms.set(None);
        }
    }

    fn deadline_after(&self, delay: Duration) -> u64 {
        let delay_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX);
        self.now_ms().saturating_add(delay_ms)
    }

    fn maybe_rearm(&self, deadline_ms: u64) {
        // Only a deadline earlier than the one the driver sleeps until needs a wake-up;
        // a driver that is not sleeping re-reads the wheel anyway.
        if let Some(armed) = self.inner.armed_ms.get() {
            if deadline_ms < armed {
                self.inner.rearm.notify();
            }
        } else if self.inner.wheel.borrow().len() == 1 {
            self.inner.rearm.notify();
        }
    }
}

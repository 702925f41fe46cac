//! A one-shot flag that wakes the tasks waiting on it. One per shard per phase (go,
//! drain, abort); never crosses threads.

use std::cell::{Cell, RefCell};
use std::future::poll_fn;
use std::task::{Context, Poll, Waker};

/// Set once; every task that registered is woken. Lives on one shard.
#[derive(Debug, Default)]
pub struct Latch {
    set: Cell<bool>,
    wakers: RefCell<Vec<Waker>>,
}

impl Latch {
    /// Sets the flag and wakes every waiter.
    pub fn set(&self) {
        if !self.set.replace(true) {
            for w in self.wakers.take() {
                w.wake();
            }
        }
    }

    /// Whether it is set.
    pub fn is_set(&self) -> bool {
        self.set.get()
    }

    /// True if set; otherwise registers the task's waker, once per `registered` flag (a
    /// task's waker stays valid, so a task polling in a loop does not pile up wakers).
    pub fn poll_set(&self, cx: &Context<'_>, registered: &mut bool) -> bool {
        if self.set.get() {
            return true;
        }
        if !*registered {
            self.wakers.borrow_mut().push(cx.waker().clone());
            *registered = true;
        }
        false
    }

    /// Waits until set.
    pub async fn wait(&self) {
        let mut registered = false;
        poll_fn(|cx| {
            if self.poll_set(cx, &mut registered) {
                Poll::Ready(())
            } else {
                Poll::Pending
            }
        })
        .await
    }
}

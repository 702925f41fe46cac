//! Single-threaded wake-up primitives for tasks of one shard (no atomics, no locks).

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

/// A one-shot event many tasks of one shard can wait for. Lives on one shard.
#[derive(Debug, Default)]
pub(crate) struct LocalEvent {
    set: Cell<bool>,
    /// Waiting futures' wakers; a slot is freed when its future is dropped, so a shard that
    /// creates one waiter per accepted connection does not grow this without bound.
    waiters: RefCell<Vec<Option<Waker>>>,
    free: RefCell<Vec<usize>>,
}

impl LocalEvent {
    pub(crate) fn is_set(&self) -> bool {
        self.set.get()
    }

    pub(crate) fn set(&self) {
        if self.set.replace(true) {
            return;
        }
        let waiters = std::mem::take(&mut *self.waiters.borrow_mut());
        self.free.borrow_mut().clear();
        for waker in waiters.into_iter().flatten() {
            waker.wake();
        }
    }

    /// A future that completes once the event is set.
    pub(crate) fn wait(self: &Rc<Self>) -> EventWait {
        EventWait {
            event: Rc::clone(self),
            slot: None,
        }
    }
}

/// Future returned by [`LocalEvent::wait`].
#[derive(Debug)]
pub(crate) struct EventWait {
    event: Rc<LocalEvent>,
    slot: Option<usize>,
}

impl Future for EventWait {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.event.set.get() {
            self.slot = None;
            return Poll::Ready(());
        }
        let mut waiters = self.event.waiters.borrow_mut();
        match self.slot {
            Some(i) => waiters[i] = Some(cx.waker().clone()),
            None => {
                let i = match self.event.free.borrow_mut().pop() {
                    Some(i) => {
                        waiters[i] = Some(cx.waker().clone());
                        i
                    }
                    None => {
                        waiters.push(Some(cx.waker().clone()));
                        waiters.len() - 1
                    }
                };
                drop(waiters);
                self.slot = Some(i);
            }
        }
        Poll::Pending
    }
}

impl Drop for EventWait {
    fn drop(&mut self) {
        if let Some(i) = self.slot.take() {
            if self.event.set.get() {
                return;
            }
            self.event.waiters.borrow_mut()[i] = None;
            self.event.free.borrow_mut().push(i);
        }
    }
}

/// An auto-reset wake-up for one waiting task (e.g. a shard's flusher). Lives on one shard.
#[derive(Debug, Default)]
pub(crate) struct LocalSignal {
    notified: Cell<bool>,
    waker: RefCell<Option<Waker>>,
}

impl LocalSignal {
    /// Wakes the waiter (or makes its next wait return at once).
    pub(crate) fn notify(&self) {
        if self.notified.replace(true) {
            return;
        }
        if let Some(w) = self.waker.borrow_mut().take() {
            w.wake();
        }
    }

    /// Waits for the next `notify` (returns at once if one came since the last wait).
    pub(crate) async fn wait(&self) {
        std::future::poll_fn(|cx| {
            if self.notified.replace(false) {
                return Poll::Ready(());
            }
            let mut slot = self.waker.borrow_mut();
            match slot.as_ref() {
                Some(w) if w.will_wake(cx.waker()) => {}
                _ => *slot = Some(cx.waker().clone()),
            }
            Poll::Pending
        })
        .await
    }
}

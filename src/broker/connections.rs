//! The connections a shard serves, addressable by a small id, so that a timer or (later)
//! another session can ask one to close: the keep-alive and CONNECT deadlines live in the
//! shard's timer wheel keyed by [`ConnectionId`], not as one reactor timer per connection.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

/// Names one live connection of a shard. A stale id (the connection ended, its slot was
/// reused) finds nothing: the slot's generation no longer matches.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ConnectionId {
    slot: u32,
    generation: u32,
}

/// Why a connection is asked to close from outside its own task.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CloseRequest {
    /// No CONNECT within the configured time.
    ConnectTimeout,
}

/// The handle a connection's task polls for requests from the rest of the shard. One per
/// connection, on the shard that serves it.
#[derive(Debug, Default)]
pub struct ConnectionControl {
    close: Cell<Option<CloseRequest>>,
    waker: RefCell<Option<Waker>>,
}

impl ConnectionControl {
    /// Asks the connection to close; its task wakes and does it.
    pub fn request_close(&self, request: CloseRequest) {
        if self.close.get().is_none() {
            self.close.set(Some(request));
        }
        if let Some(waker) = self.waker.borrow_mut().take() {
            waker.wake();
        }
    }

    /// Ready with the request once one is made; registers the task's waker otherwise.
    pub fn poll_close(&self, cx: &Context<'_>) -> Poll<CloseRequest> {
        match self.close.get() {
            Some(request) => Poll::Ready(request),
            None => {
                *self.waker.borrow_mut() = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }
}

/// The live connections of one shard. One per shard.
#[derive(Debug, Default)]
pub struct ConnectionTable {
    slots: Vec<Slot>,
    free: Vec<u32>,
    live: usize,
}

#[derive(Debug, Default)]
struct Slot {
    generation: u32,
    control: Option<Rc<ConnectionControl>>,
}

impl ConnectionTable {
    /// Registers a new connection.
    pub fn insert(&mut self) -> (ConnectionId, Rc<ConnectionControl>) {
        let control = Rc::new(ConnectionControl::default());
        let slot = match self.free.pop() {
            Some(slot) => slot,
            None => {
                let slot = u32::try_from(self.slots.len())
                    .expect("more than u32::MAX connections on one shard");
                self.slots.push(Slot::default());
                slot
            }
        };
        let entry = &mut self.slots[slot as usize];
        entry.generation = entry.generation.wrapping_add(1);
        entry.control = Some(Rc::clone(&control));
        self.live += 1;
        let id = ConnectionId {
            slot,
            generation: entry.generation,
        };
        (id, control)
    }

    /// The connection `id` names, if it is still live.
    pub fn get(&self, id: ConnectionId) -> Option<&Rc<ConnectionControl>> {
        let slot = self.slots.get(id.slot as usize)?;
        (slot.generation == id.generation)
            .then_some(slot.control.as_ref())
            .flatten()
    }

    /// Forgets a connection that ended. Unknown or stale ids are ignored.
    pub fn remove(&mut self, id: ConnectionId) {
        if let Some(slot) = self.slots.get_mut(id.slot as usize) {
            if slot.generation == id.generation && slot.control.take().is_some() {
                self.free.push(id.slot);
                self.live -= 1;
            }
        }
    }

    /// Connections live on this shard.
    pub fn len(&self) -> usize {
        self.live
    }

    /// Whether the shard serves no connection.
    pub fn is_empty(&self) -> bool {
        self.live == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::task::Wake;

    struct Flag(std::sync::atomic::AtomicBool);
    impl Wake for Flag {
        fn wake(self: Arc<Self>) {
            self.0.store(true, std::sync::atomic::Ordering::SeqCst);
        }
    }

    #[test]
    fn stale_ids_find_nothing_after_reuse() {
        let mut table = ConnectionTable::default();
        let (a, _) = table.insert();
        table.remove(a);
        let (b, _) = table.insert();
        assert_eq!(a.slot, b.slot, "the slot is reused");
        assert!(table.get(a).is_none());
        assert!(table.get(b).is_some());
        table.remove(a); // stale: must not remove b
        assert_eq!(table.len(), 1);
    }

    #[test]
    fn a_close_request_wakes_the_connection() {
        let control = ConnectionControl::default();
        let flag = Arc::new(Flag(Default::default()));
        let waker = Waker::from(Arc::clone(&flag));
        let cx = Context::from_waker(&waker);
        assert!(control.poll_close(&cx).is_pending());
        control.request_close(CloseRequest::ConnectTimeout);
        assert!(flag.0.load(std::sync::atomic::Ordering::SeqCst));
        assert_eq!(
            control.poll_close(&cx),
            Poll::Ready(CloseRequest::ConnectTimeout)
        );
    }
}

//! Redistribution: when a session ends holding QoS 1/2 messages it received through a
//! shared subscription and never acknowledged (or never got, queued), each goes to
//! another member of its group, on any shard, instead of being lost. The session hands
//! them back (`Session::take_shared_undelivered`) as it is dropped; they are routed here
//! once the shard's state is no longer borrowed, after the leaving session's
//! subscriptions are gone from the index and route tables, so it cannot be chosen again.
//!
//! A persistent session that only loses its connection keeps them: they are resent on
//! reconnect, or redistributed when the session finally expires.

use super::mesh_message::MeshMessage;
use super::session::{Message, SharedDelivery};
use super::shard_broker::{SessionEntry, ShardBroker, State};

impl ShardBroker {
    /// Takes the undelivered shared-subscription messages of session `entry`, which is
    /// ending, into the shard's leftovers; [`ShardBroker::redistribute_shared`] routes them.
    pub(super) fn keep_shared_leftovers(&self, state: &mut State, entry: &mut SessionEntry) {
        let leftovers = entry.session.take_shared_undelivered(self.now_ms());
        if leftovers.is_empty() {
            return;
        }
        tracing::info!(
            client_id = entry.session.client_id().as_str(),
            messages = leftovers.len(),
            "session ended: its undelivered shared-subscription messages go to other members"
        );
        state.shared_leftovers.extend(leftovers);
    }

    /// Gives every message of sessions that ended to another member of its group. Called
    /// after each place that may end a session, once the state is no longer borrowed.
    pub(super) fn redistribute_shared(&self) {
        let leftovers = {
            let mut state = self.state.borrow_mut();
            if state.shared_leftovers.is_empty() {
                return;
            }
            std::mem::take(&mut state.shared_leftovers)
        };
        for (message, shared) in leftovers {
            self.redistribute(message, shared);
        }
    }

    /// Sends one message to the shard the strategy chooses among those with members of
    /// its group (its key is the original one, so the hash strategies choose as they would
    /// have); there, one member gets it. No member left anywhere: dropped and counted.
    fn redistribute(&self, message: Message, shared: SharedDelivery) {
        let target = {
            let mut state = self.state.borrow_mut();
            let state = &mut *state;
            let strategy = self.settings.shared_strategy;
            state
                .shared_routes
                .group_members(&shared.group.filter, &shared.group.group)
                .and_then(|members| {
                    let shards = members.iter().map(|(shard, since_ms)| (shard, *since_ms));
                    state.shared_picker.choose_shard(
                        strategy,
                        shared.key,
                        || members.next_turn(),
                        shards,
                    )
                })
        };
        match target {
            None => {
                self.counters.publish_dropped.incr();
                tracing::info!(
                    group = &*shared.group.group,
                    filter = &*shared.group.filter,
                    topic = message.topic.as_str(),
                    "shared subscription message dropped: no other member in its group"
                );
            }
            Some(shard) if shard == self.shard_id() => self.deliver_local(
                &message,
                None,
                false,
                std::slice::from_ref(&shared.group),
                shared.key,
            ),
            Some(shard) => self.send_to(
                shard,
                MeshMessage::Publish {
                    message,
                    plain: false,
                    groups: vec![shared.group],
                    shared_key: shared.key,
                },
            ),
        }
    }
}

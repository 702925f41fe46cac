//! Routing on a shard: a published message goes to the shards the route table names,
//! and on each to the local sessions the subscription trie matches; SUBSCRIBE and
//! UNSUBSCRIBE keep the trie and every shard's route table in step; retained messages are
//! replicated on every shard.

use std::collections::HashMap;

use super::index::{RouteTable, SubscriptionTrie};
use super::mesh_message::MeshMessage;
use super::session::{
    DeliverOutcome, DeliveryKind, Grant, Message, Session, SharedDelivery, SharedGroupRef,
};
use super::shard_broker::{PendingSuback, SessionKey, ShardBroker, SubEntry};
use crate::protocol::{
    Packet, QoS, ReasonCode, RetainHandling, SubAck, Subscribe, TopicFilter, UnsubAck, Unsubscribe,
};

/// What is left to do for a SUBSCRIBE once every shard knows its new routes: the SUBACK,
/// then the retained messages for the new subscriptions.
#[derive(Debug)]
pub struct SubscribeFinish {
    suback: SubAck,
    retained: Vec<(Message, Grant)>,
}

impl ShardBroker {
    /// Routes a message published on this shard (`publisher`: the session that sent it,
    /// for No Local). Retained messages are stored on every shard first.
    pub(super) fn route(&self, message: Message, publisher: Option<SessionKey>) {
        // What may be stored is copied once out of the shared read buffer; a QoS 0
        // message passes through without a copy.
        let message = if message.retain || message.qos != QoS::AtMostOnce {
            message.detached()
        } else {
            message
        };
        if message.retain {
            self.store_retained(message.clone());
            self.broadcast(|| MeshMessage::Retain(message.clone()));
        }
        // Plain subscriptions: every shard with one. Shared groups: one shard each,
        // chosen here by the strategy among the shards with members, so each message
        // reaches exactly one member of each group wherever the members are.
        let strategy = self.settings.shared_strategy;
        let (plain, assignments, shared_key) = {
            let mut state = self.state.borrow_mut();
            let state = &mut *state;
            let plain = state.routes.route(&message.topic);
            let sessions = &state.sessions;
            // The strategy's key, worked out once and only if a group matches.
            let mut shared_key = None;
            let mut key_of_message = || {
                *shared_key.get_or_insert_with(|| {
                    strategy.message_key(message.topic.as_str(), || {
                        let entry = sessions.get(&publisher?)?;
                        Some(entry.session.client_id().as_str())
                    })
                })
            };
            let mut assignments: Vec<(usize, SharedGroupRef)> = Vec::new();
            let picker = &mut state.shared_picker;
            state.shared_routes.matches(&message.topic, |matched| {
                if let super::index::Match::SharedGroup {
                    group,
                    filter,
                    members,
                } = matched
                {
                    let shards = members.iter().map(|(shard, since_ms)| (shard, *since_ms));
                    let key = key_of_message();
                    if let Some(shard) =
                        picker.choose_shard(strategy, key, || members.next_turn(), shards)
                    {
                        assignments.push((shard, SharedGroupRef::new(group, filter)));
                    }
                }
            });
            (plain, assignments, shared_key.unwrap_or(0))
        };
        let mut targets = plain;
        for (shard, _) in &assignments {
            targets.insert(*shard);
        }
        for shard in targets.iter() {
            let groups: Vec<SharedGroupRef> = assignments
                .iter()
                .filter(|(s, _)| *s == shard)
                .map(|(_, g)| g.clone())
                .collect();
            let to_plain = plain.contains(shard);
            if shard == self.shard_id() {
                self.deliver_local(&message, publisher, to_plain, &groups, shared_key);
            } else {
                self.send_to(
                    shard,
                    MeshMessage::Publish {
                        message: message.clone(),
                        plain: to_plain,
                        groups,
                        shared_key,
                    },
                );
            }
        }
    }

    /// Delivers `message` to every local session with a matching subscription: one copy
    /// per session at the highest granted QoS, with every matching Subscription
    /// Identifier (MQTT 5.0 §3.3.4 allows it; the 3.1.1 rule, §3.3.5). Each shared group
    /// in `groups` (assigned to this shard by the publishing one) gets one copy, to the
    /// local member its strategy chooses with `shared_key`; the session records the group,
    /// so the message can go to another member should the session end first.
    pub(super) fn deliver_local(
        &self,
        message: &Message,
        publisher: Option<SessionKey>,
        plain: bool,
        groups: &[SharedGroupRef],
        shared_key: u64,
    ) {
        // Scratch buffers kept on the shard: matching and delivering allocate nothing per
        // message in the steady state.
        let (mut matched, mut actions) = {
            let mut state = self.state.borrow_mut();
            (
                std::mem::take(&mut state.match_scratch),
                std::mem::take(&mut state.action_scratch),
            )
        };
        matched.clear();
        let strategy = self.settings.shared_strategy;
        let mut groups_served = 0;
        {
            let mut state = self.state.borrow_mut();
            let state = &mut *state;
            let picker = &mut state.shared_picker;
            state.trie.matches(&message.topic, |found| {
                let (subscriber, entry, group_index) = match found {
                    super::index::Match::Subscription {
                        subscriber,
                        options,
                        ..
                    } => {
                        // No Local (MQTT 5.0 §3.8.3.1): not back to the publisher.
                        if !plain || (options.options.no_local && Some(subscriber) == publisher) {
                            return;
                        }
                        (subscriber, *options, None)
                    }
                    super::index::Match::SharedGroup {
                        group,
                        filter,
                        members,
                    } => {
                        let Some(group_index) = groups
                            .iter()
                            .position(|g| &*g.group == group && &*g.filter == filter)
                        else {
                            return;
                        };
                        groups_served += 1;
                        let seq = |i| members.get(i).map_or(u64::MAX, |(_, e)| e.subscribed_seq);
                        let chosen = picker
                            .choose_member(
                                strategy,
                                shared_key,
                                || members.next_turn(),
                                members.len(),
                                seq,
                            )
                            .and_then(|i| members.get(i));
                        match chosen {
                            Some((subscriber, options)) => {
                                (subscriber, *options, Some(group_index))
                            }
                            None => return,
                        }
                    }
                };
                matched.push((subscriber, entry, group_index));
            });
        }
        if groups_served < groups.len() {
            // Assigned through a route that went stale on the way: the group has no
            // member here any more.
            let lost = groups.len() - groups_served;
            self.counters.publish_dropped.add(lost as u64);
            tracing::debug!(
                topic = message.topic.as_str(),
                lost,
                "shared subscription message dropped: its group left this shard"
            );
        }
        // Overlapping subscriptions of one session sit next to each other once sorted.
        matched.sort_unstable_by_key(|(key, _, _)| *key);
        let now_ms = self.now_ms();
        let mut next = 0;
        while next < matched.len() {
            let key = matched[next].0;
            let mut grant = Grant::default();
            while next < matched.len() && matched[next].0 == key {
                let (_, entry, group_index) = &matched[next];
                merge_grant(&mut grant, entry);
                if let (None, Some(group)) =
                    (&grant.shared, group_index.and_then(|i| groups.get(i)))
                {
                    grant.shared = Some(SharedDelivery {
                        group: group.clone(),
                        key: shared_key,
                    });
                }
                next += 1;
            }
            {
                let mut state = self.state.borrow_mut();
                let Some(entry) = state.sessions.get_mut(&key) else {
                    continue;
                };
                let outcome = entry.session.deliver(
                    message.clone(),
                    grant,
                    DeliveryKind::Matched,
                    now_ms,
                    &mut actions,
                );
                if outcome == DeliverOutcome::DroppedQueueFull {
                    log_queue_full(&entry.session);
                }
                if matches!(
                    outcome,
                    DeliverOutcome::DroppedQueueFull
                        | DeliverOutcome::DroppedOffline
                        | DeliverOutcome::DroppedTooLarge
                ) {
                    self.counters.publish_dropped.incr();
                }
            }
            self.apply_drain(key, &mut actions);
        }
        let mut state = self.state.borrow_mut();
        state.match_scratch = matched;
        state.action_scratch = actions;
    }

    /// SUBSCRIBE from session `key`. The SUBACK waits until every shard has the routes
    /// of filters that had no subscriber here before, so a message published anywhere
    /// after the SUBACK is never missed (DESIGN.md, Routing).
    pub(super) fn subscribe(&self, key: SessionKey, subscribe: Subscribe) {
        let now_ms = self.now_ms();
        let mut reason_codes = Vec::with_capacity(subscribe.filters.len());
        // Why filters were refused, for the Reason String (5.0; empty in the common case).
        let mut problems: Vec<String> = Vec::new();
        let mut new_routes = Vec::new();
        let mut retained = Vec::new();
        let subscription_id = subscribe.properties.subscription_identifier;
        {
            let mut state = self.state.borrow_mut();
            let state = &mut *state;
            let Some(entry) = state.sessions.get_mut(&key) else {
                return;
            };
            let v5 = entry.session.version().is_v5();
            for (index, (filter, options)) in subscribe.filters.into_iter().enumerate() {
                if super::packets::levels(filter.filter()) > self.settings.topic_levels_max {
                    problems.push(format!(
                        "filter {}: more than {} topic levels",
                        index + 1,
                        self.settings.topic_levels_max
                    ));
                    reason_codes.push(if v5 {
                        ReasonCode::TopicFilterInvalid
                    } else {
                        ReasonCode::UnspecifiedError
                    });
                    continue;
                }
                let previous =
                    match entry
                        .session
                        .subscribe(filter.clone(), options, subscription_id)
                    {
                        Ok(previous) => previous,
                        Err(_) => {
                            problems.push(format!(
                                "filter {}: this client has its maximum of {} subscriptions",
                                index + 1,
                                self.settings.session_limits.subscriptions_max
                            ));
                            reason_codes.push(if v5 {
                                ReasonCode::QuotaExceeded
                            } else {
                                ReasonCode::UnspecifiedError
                            });
                            continue;
                        }
                    };
                // A replaced subscription keeps its age (the `sticky` strategy's order).
                let subscribed_seq = match state.trie.get(&filter, key) {
                    Some(existing) => existing.subscribed_seq,
                    None => {
                        state.next_subscribed_seq += 1;
                        state.next_subscribed_seq
                    }
                };
                let sub = SubEntry {
                    options,
                    subscription_id,
                    subscribed_seq,
                };
                let outcome = state.trie.subscribe(&filter, key, sub);
                if outcome.is_new_subscription && count_up(&mut state.route_counts, &filter) {
                    add_route(
                        &mut state.routes,
                        &mut state.shared_routes,
                        &filter,
                        self.shard_id(),
                        now_ms,
                    );
                    new_routes.push(filter.clone());
                }
                reason_codes.push(granted(options.qos));
                // Retained messages: never for shared subscriptions (MQTT 5.0 §4.8.2);
                // Retain Handling 1 only for a new subscription, 2 never (§3.8.3.1).
                let send_retained = !filter.is_shared()
                    && match options.retain_handling {
                        RetainHandling::SendAtSubscribe => true,
                        RetainHandling::SendAtSubscribeIfNew => previous.is_none(),
                        RetainHandling::DoNotSend => false,
                    };
                if send_retained {
                    let grant = Grant {
                        max_qos: options.qos,
                        retain_as_published: options.retain_as_published,
                        subscription_ids: subscription_id.into_iter().collect(),
                        shared: None,
                    };
                    state.retained.matching(&filter, now_ms, |message| {
                        retained.push((message.clone(), grant.clone()));
                    });
                }
            }
        }
        let mut suback = SubAck {
            packet_id: subscribe.packet_id,
            properties: Default::default(),
            reason_codes,
        };
        if !problems.is_empty() {
            suback.properties.reason_string = super::problem::reason_string(&problems.join("; "));
        }
        let finish = SubscribeFinish { suback, retained };
        let others = self.ctx.shard_count() - 1;
        if new_routes.is_empty() || others == 0 {
            self.finish_subscribe(key, finish);
            return;
        }
        let token = {
            let mut state = self.state.borrow_mut();
            state.next_token += 1;
            let token = state.next_token;
            state.pending_subacks.insert(
                token,
                PendingSuback {
                    key,
                    remaining_acks: others,
                    finish,
                },
            );
            token
        };
        self.broadcast(|| MeshMessage::RouteAdd {
            filters: new_routes.clone(),
            since_ms: now_ms,
            token,
        });
    }

    pub(super) fn on_route_ack(&self, token: u64) {
        let done = {
            let mut state = self.state.borrow_mut();
            let Some(pending) = state.pending_subacks.get_mut(&token) else {
                return;
            };
            pending.remaining_acks -= 1;
            if pending.remaining_acks > 0 {
                return;
            }
            state
                .pending_subacks
                .remove(&token)
                .expect("pending SUBACK")
        };
        self.finish_subscribe(done.key, done.finish);
    }

    fn finish_subscribe(&self, key: SessionKey, finish: SubscribeFinish) {
        let now_ms = self.now_ms();
        let mut actions = vec![super::session::SessionAction::Send(Packet::SubAck(
            finish.suback,
        ))];
        {
            let mut state = self.state.borrow_mut();
            let Some(entry) = state.sessions.get_mut(&key) else {
                return;
            };
            for (message, grant) in finish.retained {
                entry.session.deliver(
                    message,
                    grant,
                    DeliveryKind::RetainedOnSubscribe,
                    now_ms,
                    &mut actions,
                );
            }
        }
        self.apply(key, actions);
    }

    /// UNSUBSCRIBE from session `key`: removes the subscriptions, and the route on every
    /// shard for a filter with no subscriber left here.
    pub(super) fn unsubscribe(&self, key: SessionKey, unsubscribe: Unsubscribe) {
        let mut reason_codes = Vec::with_capacity(unsubscribe.filters.len());
        let mut gone: Vec<TopicFilter> = Vec::new();
        {
            let mut state = self.state.borrow_mut();
            let state = &mut *state;
            let Some(entry) = state.sessions.get_mut(&key) else {
                return;
            };
            for filter in &unsubscribe.filters {
                if entry.session.unsubscribe(filter).is_some() {
                    if state.trie.unsubscribe(filter, key).is_some()
                        && count_down(&mut state.route_counts, filter)
                    {
                        remove_route(
                            &mut state.routes,
                            &mut state.shared_routes,
                            filter,
                            self.shard_id(),
                        );
                        gone.push(filter.clone());
                    }
                    reason_codes.push(ReasonCode::Success);
                } else {
                    reason_codes.push(ReasonCode::NoSubscriptionExisted);
                }
            }
        }
        for filter in gone {
            self.broadcast(|| MeshMessage::RouteRemove {
                filter: filter.clone(),
            });
        }
        let mut unsuback = UnsubAck {
            packet_id: unsubscribe.packet_id,
            properties: Default::default(),
            reason_codes,
        };
        if unsuback
            .reason_codes
            .contains(&ReasonCode::NoSubscriptionExisted)
        {
            unsuback.properties.reason_string =
                super::problem::reason_string("no subscription existed for a filter marked 0x11");
        }
        self.apply(
            key,
            vec![super::session::SessionAction::Send(Packet::UnsubAck(
                unsuback,
            ))],
        );
    }

    /// Stores (or, with an empty payload, deletes) a retained message in this shard's
    /// replica.
    pub(super) fn store_retained(&self, message: Message) {
        let now_ms = self.now_ms();
        let topic = message.topic.clone();
        let change = self
            .state
            .borrow_mut()
            .retained
            .set(&topic, message, now_ms);
        if change == super::retained::RetainChange::RefusedFull {
            tracing::warn!(
                topic = topic.as_str(),
                "retained store full: message not retained"
            );
        }
    }
}

/// Logs a message dropped at a session's queue bound: the first drop, then at every
/// power of two, so a stuck subscriber is visible without a log line per message.
fn log_queue_full(session: &Session) {
    let dropped = session.counters().dropped_queue_full;
    if dropped.is_power_of_two() {
        tracing::warn!(
            client_id = session.client_id().as_str(),
            dropped,
            queued = session.queued_len(),
            queued_bytes = session.queued_bytes(),
            "session queue full: message dropped for this subscriber"
        );
    }
}

/// Counts one more local subscription to `filter`; true when it is the first.
pub(super) fn count_up(counts: &mut HashMap<TopicFilter, u32>, filter: &TopicFilter) -> bool {
    let count = counts.entry(filter.clone()).or_insert(0);
    *count += 1;
    *count == 1
}

/// Counts one local subscription to `filter` less; true when it was the last.
pub(super) fn count_down(counts: &mut HashMap<TopicFilter, u32>, filter: &TopicFilter) -> bool {
    match counts.get_mut(filter) {
        Some(count) if *count > 1 => {
            *count -= 1;
            false
        }
        Some(_) => {
            counts.remove(filter);
            true
        }
        None => false,
    }
}

/// Records that `shard` has subscribers for `filter` since `since_ms`: in the route table
/// for a plain filter, in the shared-group table for `$share/{group}/{filter}` (and
/// `$queue/{filter}`).
pub(super) fn add_route(
    routes: &mut RouteTable,
    shared: &mut SubscriptionTrie<usize, u64>,
    filter: &TopicFilter,
    shard: usize,
    since_ms: u64,
) {
    if filter.is_shared() {
        shared.subscribe(filter, shard, since_ms);
    } else {
        routes.add(filter, shard);
    }
}

/// Withdraws what [`add_route`] recorded.
pub(super) fn remove_route(
    routes: &mut RouteTable,
    shared: &mut SubscriptionTrie<usize, u64>,
    filter: &TopicFilter,
    shard: usize,
) {
    if filter.is_shared() {
        shared.unsubscribe(filter, shard);
    } else {
        routes.remove(filter, shard);
    }
}

/// The SUBACK code granting `qos`.
fn granted(qos: QoS) -> ReasonCode {
    match qos {
        QoS::AtMostOnce => ReasonCode::GRANTED_QOS_0,
        QoS::AtLeastOnce => ReasonCode::GrantedQoS1,
        QoS::ExactlyOnce => ReasonCode::GrantedQoS2,
    }
}

/// Folds one more matching subscription into a session's delivery grant.
fn merge_grant(grant: &mut Grant, entry: &SubEntry) {
    grant.max_qos = grant.max_qos.max(entry.options.qos);
    grant.retain_as_published |= entry.options.retain_as_published;
    if let Some(id) = entry.subscription_id {
        if !grant.subscription_ids.contains(&id) {
            grant.subscription_ids.push(id);
        }
    }
}

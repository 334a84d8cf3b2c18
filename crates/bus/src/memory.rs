//! [`MemoryBus`]: the in-process event bus `hotline all-in-one` runs on.
//!
//! It mirrors the Kafka model closely enough that services cannot tell the difference
//! and the conformance suite holds for both:
//! - a topic is a fixed number of append-only partitions; a record goes to partition
//!   `fnv1a(key) % partitions`, so records with one key keep their order;
//! - topics exist only once [`EventBus::ensure_topics`] created them: publishing or
//!   subscribing to an unknown topic fails with [`Error::UnknownTopic`] (the Kafka side
//!   has no auto-create either);
//! - a consumer group keeps a committed offset per (topic, partition); a new group starts
//!   at the earliest retained record, a new member of an existing group resumes after the
//!   last committed record, so dropping a subscription and subscribing again redelivers
//!   what was consumed but not committed (at least once);
//! - the partitions of a topic are spread over the group's live members (partition `p`
//!   goes to the `p % members`-th member in join order), so one partition is read by one
//!   member at a time. A membership change takes effect at once: a partition that moves
//!   starts at the group's committed offset in its new owner, so records in flight at
//!   the old owner may be delivered twice, never lost.
//!
//! # Memory bound
//! Nothing is kept on disk and nothing survives the process. Each partition keeps at most
//! [`MemoryConfig::max_records_per_partition`] records and
//! [`MemoryConfig::max_bytes_per_partition`] bytes (payload + key + headers); beyond that
//! the oldest records are dropped, like Kafka's retention, and a group that had not yet
//! read them skips them with a warning. A single record larger than
//! [`MemoryConfig::max_record_bytes`] is refused ([`Error::RecordTooLarge`]). The memory
//! used is thus bounded by `topics x partitions x max_bytes_per_partition` plus a small
//! per-record overhead; committed offsets take a few bytes per (group, partition).

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use async_trait::async_trait;
use bytes::Bytes;
use tokio::sync::Notify;

use crate::{
    DEFAULT_MAX_RECORD_BYTES, Delivery, Error, EventBus, Record, Result, Subscription, TopicSpec,
    validate_subscription,
};

/// Limits of a [`MemoryBus`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemoryConfig {
    /// Records kept per partition before the oldest are dropped.
    pub max_records_per_partition: usize,
    /// Bytes kept per partition before the oldest records are dropped.
    pub max_bytes_per_partition: usize,
    /// Largest record accepted, as [`Record::size`] counts it.
    pub max_record_bytes: usize,
}

impl Default for MemoryConfig {
    fn default() -> Self {
        Self {
            max_records_per_partition: 100_000,
            max_bytes_per_partition: 64 * 1024 * 1024,
            max_record_bytes: DEFAULT_MAX_RECORD_BYTES,
        }
    }
}

/// The in-process event bus. Clones share the same topics and groups.
#[derive(Debug, Clone, Default)]
pub struct MemoryBus {
    shared: Arc<Shared>,
}

#[derive(Debug, Default)]
struct Shared {
    config: MemoryConfig,
    state: Mutex<State>,
    next_member: AtomicU64,
}

#[derive(Debug, Default)]
struct State {
    topics: HashMap<String, Topic>,
    groups: HashMap<String, Group>,
}

#[derive(Debug)]
struct Topic {
    partitions: Vec<Partition>,
    /// Woken on every append to the topic and on every membership change of a group
    /// reading it.
    notify: Arc<Notify>,
}

#[derive(Debug, Default)]
struct Partition {
    /// Offset of `records[0]`; grows as old records are dropped.
    start: i64,
    records: VecDeque<Stored>,
    bytes: usize,
}

impl Partition {
    fn end(&self) -> i64 {
        self.start + len_i64(self.records.len())
    }
}

#[derive(Debug)]
struct Stored {
    key: String,
    payload: Bytes,
    headers: Vec<(String, Bytes)>,
    size: usize,
}

#[derive(Debug, Default)]
struct Group {
    /// Bumped on every join and leave, so members know to recompute their partitions.
    generation: u64,
    /// Live members in join order, with the topics each reads.
    members: BTreeMap<u64, Vec<String>>,
    /// Next offset to read, per (topic, partition).
    committed: HashMap<(String, i32), i64>,
}

fn len_i64(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// FNV-1a: stable across builds and platforms, unlike `DefaultHasher`.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

fn partition_for(key: &str, partitions: usize) -> usize {
    let n = u64::try_from(partitions.max(1)).unwrap_or(1);
    usize::try_from(fnv1a(key.as_bytes()) % n).unwrap_or(0)
}

impl MemoryBus {
    /// A bus with the default limits.
    pub fn new() -> Self {
        Self::with_config(MemoryConfig::default())
    }

    /// A bus with the given limits.
    pub fn with_config(config: MemoryConfig) -> Self {
        Self {
            shared: Arc::new(Shared {
                config,
                state: Mutex::default(),
                next_member: AtomicU64::new(0),
            }),
        }
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // No critical section can panic halfway through a change, so a poisoned lock
        // still guards consistent state.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl State {
    /// The notifiers of every topic read by some member of `group`.
    fn group_notifiers(&self, group: &Group) -> Vec<Arc<Notify>> {
        let mut names: Vec<&String> = group.members.values().flatten().collect();
        names.sort();
        names.dedup();
        names
            .into_iter()
            .filter_map(|t| self.topics.get(t).map(|t| Arc::clone(&t.notify)))
            .collect()
    }
}

#[async_trait]
impl EventBus for MemoryBus {
    async fn ensure_topics(&self, topics: &[TopicSpec]) -> Result<()> {
        for spec in topics {
            spec.validate()?;
        }
        let mut state = self.shared.lock();
        for spec in topics {
            state.topics.entry(spec.name.clone()).or_insert_with(|| {
                tracing::debug!(topic = %spec.name, partitions = spec.partitions, "creating topic");
                let n = usize::try_from(spec.partitions).unwrap_or(1);
                Topic {
                    partitions: (0..n).map(|_| Partition::default()).collect(),
                    notify: Arc::new(Notify::new()),
                }
            });
        }
        Ok(())
    }

    async fn publish(&self, record: Record) -> Result<()> {
        let config = &self.shared.config;
        let size = record.size();
        if size > config.max_record_bytes {
            return Err(Error::RecordTooLarge {
                size,
                max: config.max_record_bytes,
            });
        }
        let notify = {
            let mut state = self.shared.lock();
            let topic = state
                .topics
                .get_mut(&record.topic)
                .ok_or_else(|| Error::UnknownTopic(record.topic.clone()))?;
            let p = partition_for(&record.key, topic.partitions.len());
            let Some(partition) = topic.partitions.get_mut(p) else {
                return Err(Error::UnknownTopic(record.topic.clone()));
            };
            partition.records.push_back(Stored {
                key: record.key,
                payload: record.payload,
                headers: record.headers,
                size,
            });
            partition.bytes += size;
            while partition.records.len() > config.max_records_per_partition
                || partition.bytes > config.max_bytes_per_partition
            {
                let Some(old) = partition.records.pop_front() else {
                    break;
                };
                partition.bytes -= old.size;
                partition.start += 1;
            }
            Arc::clone(&topic.notify)
        };
        notify.notify_waiters();
        Ok(())
    }

    async fn subscribe(&self, group: &str, topics: &[String]) -> Result<Box<dyn Subscription>> {
        validate_subscription(group, topics)?;
        let mut topics = topics.to_vec();
        topics.sort();
        topics.dedup();
        let member = self.shared.next_member.fetch_add(1, Ordering::Relaxed);
        let (notifies, wake) = {
            let mut state = self.shared.lock();
            let mut notifies = Vec::with_capacity(topics.len());
            for t in &topics {
                let topic = state
                    .topics
                    .get(t)
                    .ok_or_else(|| Error::UnknownTopic(t.clone()))?;
                notifies.push(Arc::clone(&topic.notify));
            }
            let g = state.groups.entry(group.to_owned()).or_default();
            g.members.insert(member, topics.clone());
            g.generation += 1;
            let g = &state.groups[group];
            (notifies, state.group_notifiers(g))
        };
        for n in wake {
            n.notify_waiters();
        }
        tracing::debug!(group, member, ?topics, "member joined");
        Ok(Box::new(MemorySubscription {
            shared: Arc::clone(&self.shared),
            group: group.to_owned(),
            member,
            topics,
            notifies,
            generation: None,
            positions: Vec::new(),
            cursor: 0,
        }))
    }

    async fn ping(&self) -> Result<()> {
        Ok(())
    }
}

/// A member of a consumer group on a [`MemoryBus`]. Dropping it leaves the group.
#[derive(Debug)]
pub struct MemorySubscription {
    shared: Arc<Shared>,
    group: String,
    member: u64,
    topics: Vec<String>,
    notifies: Vec<Arc<Notify>>,
    /// The group generation `positions` was computed for.
    generation: Option<u64>,
    /// The partitions this member owns, with the next offset to read from each.
    positions: Vec<((String, i32), i64)>,
    /// Where the next scan over `positions` starts, so no partition starves the others.
    cursor: usize,
}

impl MemorySubscription {
    /// Recomputes the owned partitions after a join or leave: kept partitions keep their
    /// position, gained ones start at the committed offset (or the earliest record).
    fn rebalance(&mut self, state: &State, group: &Group) {
        let mut positions = Vec::new();
        for t in &self.topics {
            let Some(topic) = state.topics.get(t) else {
                continue;
            };
            let readers: Vec<u64> = group
                .members
                .iter()
                .filter(|(_, ts)| ts.contains(t))
                .map(|(id, _)| *id)
                .collect();
            let Some(me) = readers.iter().position(|id| *id == self.member) else {
                continue;
            };
            for (p, partition) in topic.partitions.iter().enumerate() {
                if p % readers.len() != me {
                    continue;
                }
                let Ok(p) = i32::try_from(p) else {
                    continue;
                };
                let key = (t.clone(), p);
                let position = self
                    .positions
                    .iter()
                    .find(|(k, _)| *k == key)
                    .map(|(_, pos)| *pos)
                    .or_else(|| group.committed.get(&key).copied())
                    .unwrap_or(partition.start);
                positions.push((key, position));
            }
        }
        self.positions = positions;
        self.generation = Some(group.generation);
        self.cursor = 0;
    }

    fn try_next(&mut self) -> Result<Option<Delivery>> {
        let shared = Arc::clone(&self.shared);
        let state = shared.lock();
        let group = state.groups.get(&self.group).ok_or(Error::Closed)?;
        if self.generation != Some(group.generation) {
            self.rebalance(&state, group);
        }
        let n = self.positions.len();
        for i in 0..n {
            let idx = (self.cursor + i) % n;
            let ((topic_name, p), position) = &mut self.positions[idx];
            let Some(partition) = state
                .topics
                .get(topic_name.as_str())
                .and_then(|t| t.partitions.get(usize::try_from(*p).unwrap_or(usize::MAX)))
            else {
                continue;
            };
            if *position < partition.start {
                tracing::warn!(
                    group = %self.group,
                    topic = %topic_name,
                    partition = *p,
                    skipped = partition.start - *position,
                    "records were dropped by retention before this group read them"
                );
                *position = partition.start;
            }
            if *position >= partition.end() {
                continue;
            }
            let index = usize::try_from(*position - partition.start).unwrap_or(usize::MAX);
            let Some(stored) = partition.records.get(index) else {
                continue;
            };
            let delivery = Delivery {
                topic: topic_name.clone(),
                partition: *p,
                offset: *position,
                key: Some(stored.key.clone()),
                payload: stored.payload.clone(),
                headers: stored.headers.clone(),
            };
            *position += 1;
            self.cursor = idx + 1;
            return Ok(Some(delivery));
        }
        Ok(None)
    }
}

#[async_trait]
impl Subscription for MemorySubscription {
    async fn next(&mut self) -> Result<Delivery> {
        let notifies = self.notifies.clone();
        loop {
            // Register interest before looking, so an append between the look and the
            // wait still wakes us (Notify::notify_waiters only wakes registered waiters).
            let mut waits: Vec<_> = notifies.iter().map(|n| Box::pin(n.notified())).collect();
            for w in &mut waits {
                w.as_mut().enable();
            }
            if let Some(delivery) = self.try_next()? {
                return Ok(delivery);
            }
            if waits.is_empty() {
                // Unreachable (a subscription names at least one topic), but never spin.
                std::future::pending::<()>().await;
            }
            futures::future::select_all(waits).await;
        }
    }

    async fn commit(&mut self, delivery: &Delivery) -> Result<()> {
        if !self.topics.contains(&delivery.topic) {
            return Err(Error::Invalid(format!(
                "commit for topic {:?}, which this subscription does not read",
                delivery.topic
            )));
        }
        let mut state = self.shared.lock();
        let end = state
            .topics
            .get(&delivery.topic)
            .and_then(|t| {
                t.partitions
                    .get(usize::try_from(delivery.partition).ok()?)
                    .map(Partition::end)
            })
            .ok_or_else(|| {
                Error::Invalid(format!(
                    "topic {:?} has no partition {}",
                    delivery.topic, delivery.partition
                ))
            })?;
        if delivery.offset < 0 || delivery.offset >= end {
            return Err(Error::Invalid(format!(
                "offset {} is beyond the end of {}/{}",
                delivery.offset, delivery.topic, delivery.partition
            )));
        }
        let group = state.groups.get_mut(&self.group).ok_or(Error::Closed)?;
        // Never move backwards: a member that lost the partition may commit late, and
        // what it commits it has processed, so taking the maximum loses nothing.
        let committed = group
            .committed
            .entry((delivery.topic.clone(), delivery.partition))
            .or_insert(0);
        *committed = (*committed).max(delivery.offset + 1);
        Ok(())
    }
}

impl Drop for MemorySubscription {
    fn drop(&mut self) {
        let wake = {
            let mut state = self.shared.lock();
            let Some(group) = state.groups.get_mut(&self.group) else {
                return;
            };
            group.members.remove(&self.member);
            group.generation += 1;
            let group = &state.groups[&self.group];
            state.group_notifiers(group)
        };
        // The remaining members may be asleep on partitions that now move to them.
        for n in wake {
            n.notify_waiters();
        }
        tracing::debug!(group = %self.group, member = self.member, "member left");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partitioning_is_stable_and_spread() {
        assert_eq!(partition_for("call-1", 4), partition_for("call-1", 4));
        let used: std::collections::HashSet<usize> = (0..100)
            .map(|i| partition_for(&format!("k{i}"), 4))
            .collect();
        assert_eq!(used.len(), 4);
        assert_eq!(partition_for("anything", 1), 0);
    }

    #[tokio::test]
    async fn retention_drops_oldest_and_consumers_skip_ahead() -> anyhow::Result<()> {
        let bus = MemoryBus::with_config(MemoryConfig {
            max_records_per_partition: 3,
            ..MemoryConfig::default()
        });
        bus.ensure_topics(&[TopicSpec::new("t", 1)]).await?;
        for i in 0..5 {
            bus.publish(Record {
                topic: "t".into(),
                key: "k".into(),
                payload: Bytes::from(vec![i]),
                headers: vec![],
            })
            .await?;
        }
        let mut sub = bus.subscribe("g", &["t".to_owned()]).await?;
        let first = sub.next().await?;
        assert_eq!(first.offset, 2);
        assert_eq!(first.payload.as_ref(), &[2]);
        Ok(())
    }

    #[tokio::test]
    async fn oversized_record_is_refused() -> anyhow::Result<()> {
        let bus = MemoryBus::with_config(MemoryConfig {
            max_record_bytes: 10,
            ..MemoryConfig::default()
        });
        bus.ensure_topics(&[TopicSpec::new("t", 1)]).await?;
        let err = bus
            .publish(Record {
                topic: "t".into(),
                key: "k".into(),
                payload: Bytes::from(vec![0; 11]),
                headers: vec![],
            })
            .await;
        assert!(matches!(
            err,
            Err(Error::RecordTooLarge { size: 12, max: 10 })
        ));
        Ok(())
    }

    #[tokio::test]
    async fn members_of_a_group_split_partitions_and_take_over_on_leave() -> anyhow::Result<()> {
        let bus = MemoryBus::new();
        bus.ensure_topics(&[TopicSpec::new("t", 4)]).await?;
        for i in 0..40u8 {
            bus.publish(Record {
                topic: "t".into(),
                key: format!("k{i}"),
                payload: Bytes::from(vec![i]),
                headers: vec![],
            })
            .await?;
        }
        let topics = ["t".to_owned()];
        let mut a = bus.subscribe("g", &topics).await?;
        let mut b = bus.subscribe("g", &topics).await?;
        let mut from_a = std::collections::HashSet::new();
        let mut from_b = std::collections::HashSet::new();
        for _ in 0..10 {
            from_a.insert(a.next().await?.partition);
            from_b.insert(b.next().await?.partition);
        }
        assert!(from_a.is_disjoint(&from_b), "{from_a:?} {from_b:?}");
        drop(b);
        // `a` now owns every partition and reads the rest of the topic.
        let mut seen = 10;
        let mut partitions = from_a.clone();
        while seen < 40 {
            let d = tokio::time::timeout(std::time::Duration::from_secs(5), a.next()).await??;
            partitions.insert(d.partition);
            seen += 1;
        }
        assert_eq!(partitions.len(), 4);
        Ok(())
    }
}

//! [`KafkaBus`]: the production event bus, on Apache Kafka or a Kafka-compatible broker
//! (tansu in tests), through `rdkafka` with its bundled librdkafka.
//!
//! - Producer: idempotent (`enable.idempotence=true`, hence `acks=all` and ordered
//!   retries), so a retried send never duplicates or reorders a partition's records;
//!   [`EventBus::publish`] waits for the delivery report, at most
//!   [`KafkaConfig::publish_timeout`]. No transactions: tansu 0.6 has none, and the
//!   platform is at least once with idempotent consumers anyway.
//! - Topics are never created implicitly (`allow.auto.create.topics=false`; tansu has no
//!   auto-create either): [`EventBus::ensure_topics`] creates them with CreateTopics, and
//!   publishing or subscribing to a topic the broker does not know fails at once with
//!   [`Error::UnknownTopic`] (a metadata lookup, cached per topic once seen) instead of
//!   librdkafka's silent 30 s wait.
//! - Consumer: a `StreamConsumer` per [`Subscription`] with `enable.auto.commit=false`,
//!   `enable.auto.offset.store=false` and `auto.offset.reset=earliest`;
//!   [`Subscription::commit`] commits `offset + 1` of the record's partition
//!   synchronously. Dropping the subscription closes the consumer, which sends
//!   LeaveGroup, so another member takes its partitions over at once rather than after
//!   the session timeout.
//!
//! Checked against tansu 0.6 (`memory://` storage) by the conformance suite, with the
//! defaults of [`KafkaConfig::new`] and no tansu-specific setting: CreateTopics answers
//! `TopicAlreadyExists` for an existing topic, a metadata lookup of a missing topic
//! reports it missing, the idempotent producer, keys, headers (binary and empty values)
//! and 512 KiB records work, and group commits are resumed by a new member. Timings seen
//! on a 2-core machine: a new group's first member reads within about a second; a second
//! member joining a busy group gets partitions after about 3 s (the rebalance rides on
//! the 1 s heartbeat); after a member is dropped the other takes its partitions over in
//! under a second (LeaveGroup honoured). tansu has no transactions and no topic
//! auto-create; neither is used here.

use std::collections::HashSet;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{CommitMode, Consumer, StreamConsumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{BorrowedMessage, Header, Headers, Message, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord, Producer};
use rdkafka::util::Timeout;
use rdkafka::{Offset, TopicPartitionList};

use crate::{
    DEFAULT_MAX_RECORD_BYTES, Delivery, Error, EventBus, Record, Result, Subscription, TopicSpec,
    validate_subscription,
};

/// How to reach the Kafka cluster, and the client settings that matter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KafkaConfig {
    /// `bootstrap.servers`: comma-separated `host:port` list.
    pub brokers: String,
    /// `client.id`, shown in broker logs and metrics (e.g. `hotline-routing`).
    pub client_id: String,
    /// Partitions services give the topics they create (see [`crate::topics_for`]).
    pub partitions: i32,
    /// Least replication factor of created topics: a [`TopicSpec`] asking for less gets
    /// this (so `TopicSpec::new`'s 1 becomes 3 on a production cluster).
    pub replication: i32,
    /// Consumer `session.timeout.ms`: how long the group waits for a member that died
    /// without leaving before handing its partitions to another. A clean drop leaves at
    /// once; this only matters after a crash. Kafka brokers accept 6 s to 5 min by
    /// default (`group.min/max.session.timeout.ms`).
    pub session_timeout: Duration,
    /// Consumer `heartbeat.interval.ms`: under a third of the session timeout. It is also
    /// how fast a member learns of a rebalance, i.e. of a new member joining.
    pub heartbeat_interval: Duration,
    /// Producer `message.timeout.ms`: the longest a publish waits for its delivery report.
    pub publish_timeout: Duration,
    /// Largest record [`EventBus::publish`] accepts, as [`Record::size`] counts it;
    /// larger ones fail with [`Error::RecordTooLarge`] before reaching the broker. Keep it
    /// under the broker's `message.max.bytes` (1 MiB by default, minus batch overhead).
    pub max_record_bytes: usize,
    /// Timeout of metadata and admin requests (ping, topic lookups, CreateTopics).
    pub request_timeout: Duration,
    /// Any other librdkafka properties (e.g. `security.protocol`, `sasl.*`), applied to
    /// every client last, so they override the settings above.
    pub extra: Vec<(String, String)>,
}

impl KafkaConfig {
    /// Defaults for `brokers`: sane for production, quick enough for tests.
    pub fn new(brokers: impl Into<String>) -> Self {
        Self {
            brokers: brokers.into(),
            client_id: "hotline".to_owned(),
            partitions: 6,
            replication: 1,
            session_timeout: Duration::from_secs(10),
            heartbeat_interval: Duration::from_secs(1),
            publish_timeout: Duration::from_secs(30),
            request_timeout: Duration::from_secs(5),
            max_record_bytes: DEFAULT_MAX_RECORD_BYTES,
            extra: Vec::new(),
        }
    }

    fn validate(&self) -> Result<()> {
        if self.brokers.trim().is_empty() {
            return Err(Error::Config("brokers is empty".to_owned()));
        }
        if self.partitions < 1 {
            return Err(Error::Config(format!(
                "partitions must be at least 1, got {}",
                self.partitions
            )));
        }
        if self.replication < 1 {
            return Err(Error::Config(format!(
                "replication must be at least 1, got {}",
                self.replication
            )));
        }
        if self.heartbeat_interval.is_zero() || self.heartbeat_interval * 3 > self.session_timeout {
            return Err(Error::Config(format!(
                "heartbeat interval {:?} must be positive and at most a third of the session timeout {:?}",
                self.heartbeat_interval, self.session_timeout
            )));
        }
        for (name, d) in [
            ("publish timeout", self.publish_timeout),
            ("request timeout", self.request_timeout),
        ] {
            if d.is_zero() {
                return Err(Error::Config(format!("{name} must be positive")));
            }
        }
        Ok(())
    }

    fn base(&self) -> ClientConfig {
        let mut c = ClientConfig::new();
        c.set("bootstrap.servers", &self.brokers)
            .set("client.id", &self.client_id)
            // Never let a lookup create a topic on a broker configured to auto-create.
            .set("allow.auto.create.topics", "false");
        c
    }

    fn finish(&self, mut c: ClientConfig) -> ClientConfig {
        for (k, v) in &self.extra {
            c.set(k, v);
        }
        c
    }

    fn producer(&self) -> ClientConfig {
        let mut c = self.base();
        c.set("enable.idempotence", "true")
            .set("acks", "all")
            .set("message.timeout.ms", millis(self.publish_timeout))
            // Room for the batch and header overhead around the largest record.
            .set(
                "message.max.bytes",
                (self.max_record_bytes + 64 * 1024)
                    .max(1_000_000)
                    .to_string(),
            );
        self.finish(c)
    }

    fn consumer(&self, group: &str) -> ClientConfig {
        let mut c = self.base();
        c.set("group.id", group)
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            .set("auto.offset.reset", "earliest")
            .set("session.timeout.ms", millis(self.session_timeout))
            .set("heartbeat.interval.ms", millis(self.heartbeat_interval));
        self.finish(c)
    }

    fn admin(&self) -> ClientConfig {
        let c = self.base();
        self.finish(c)
    }
}

fn millis(d: Duration) -> String {
    d.as_millis().to_string()
}

/// The Kafka event bus. Cheap to share behind an `Arc`; one producer serves all publishes.
pub struct KafkaBus {
    config: KafkaConfig,
    producer: FutureProducer,
    admin: AdminClient<DefaultClientContext>,
    /// Topics the broker is known to have, so publishing looks each up only once.
    known_topics: Mutex<HashSet<String>>,
}

impl std::fmt::Debug for KafkaBus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KafkaBus")
            .field("brokers", &self.config.brokers)
            .field("client_id", &self.config.client_id)
            .finish_non_exhaustive()
    }
}

impl KafkaBus {
    /// Creates the clients. They connect lazily: use [`EventBus::ping`] to check the
    /// cluster answers.
    pub fn new(config: KafkaConfig) -> Result<Self> {
        config.validate()?;
        let producer: FutureProducer = config.producer().create()?;
        let admin: AdminClient<DefaultClientContext> = config.admin().create()?;
        Ok(Self {
            config,
            producer,
            admin,
            known_topics: Mutex::default(),
        })
    }

    /// The configuration this bus was built with.
    pub fn config(&self) -> &KafkaConfig {
        &self.config
    }

    /// Waits until every record handed to the producer is delivered (for shutdown;
    /// publishes already wait for their own delivery).
    pub async fn flush(&self, timeout: Duration) -> Result<()> {
        let producer = self.producer.clone();
        tokio::task::spawn_blocking(move || producer.flush(timeout))
            .await
            .map_err(|_| Error::Closed)??;
        Ok(())
    }

    fn is_known(&self, topic: &str) -> bool {
        self.known_topics
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .contains(topic)
    }

    fn mark_known(&self, topic: &str) {
        self.known_topics
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(topic.to_owned());
    }

    /// Fails with [`Error::UnknownTopic`] unless the broker has `topic`.
    async fn check_topic(&self, topic: &str) -> Result<()> {
        if self.is_known(topic) {
            return Ok(());
        }
        if crate::validate_topic_name(topic).is_err() {
            return Err(Error::UnknownTopic(topic.to_owned()));
        }
        let producer = self.producer.clone();
        let name = topic.to_owned();
        let timeout = self.config.request_timeout;
        let metadata = tokio::task::spawn_blocking(move || {
            producer.client().fetch_metadata(Some(&name), timeout)
        })
        .await
        .map_err(|_| Error::Closed)?
        .map_err(|e| map_timeout(e, timeout))?;
        let exists = metadata
            .topics()
            .iter()
            .any(|t| t.name() == topic && t.error().is_none() && !t.partitions().is_empty());
        if exists {
            self.mark_known(topic);
            Ok(())
        } else {
            Err(Error::UnknownTopic(topic.to_owned()))
        }
    }
}

/// A request that timed out becomes [`Error::Timeout`]; the rest stay Kafka errors.
fn map_timeout(e: KafkaError, timeout: Duration) -> Error {
    match e.rdkafka_error_code() {
        Some(
            RDKafkaErrorCode::OperationTimedOut
            | RDKafkaErrorCode::MessageTimedOut
            | RDKafkaErrorCode::RequestTimedOut,
        ) => Error::Timeout(timeout),
        _ => Error::Kafka(e),
    }
}

#[async_trait]
impl EventBus for KafkaBus {
    async fn ensure_topics(&self, topics: &[TopicSpec]) -> Result<()> {
        for spec in topics {
            spec.validate()?;
        }
        if topics.is_empty() {
            return Ok(());
        }
        let new: Vec<NewTopic<'_>> = topics
            .iter()
            .map(|spec| {
                NewTopic::new(
                    &spec.name,
                    spec.partitions,
                    TopicReplication::Fixed(spec.replication.max(self.config.replication)),
                )
            })
            .collect();
        let opts = AdminOptions::new()
            .request_timeout(Some(self.config.request_timeout))
            .operation_timeout(Some(self.config.request_timeout));
        let results = self
            .admin
            .create_topics(&new, &opts)
            .await
            .map_err(|e| map_timeout(e, self.config.request_timeout))?;
        for result in results {
            match result {
                Ok(name) => {
                    tracing::info!(topic = %name, "created topic");
                    self.mark_known(&name);
                }
                Err((name, RDKafkaErrorCode::TopicAlreadyExists)) => self.mark_known(&name),
                Err((topic, code)) => {
                    return Err(Error::CreateTopic {
                        topic,
                        reason: code.to_string(),
                    });
                }
            }
        }
        Ok(())
    }

    async fn publish(&self, record: Record) -> Result<()> {
        let size = record.size();
        if size > self.config.max_record_bytes {
            return Err(Error::RecordTooLarge {
                size,
                max: self.config.max_record_bytes,
            });
        }
        self.check_topic(&record.topic).await?;
        let headers = record.headers.iter().fold(
            OwnedHeaders::new_with_capacity(record.headers.len()),
            |h, (key, value)| {
                h.insert(Header {
                    key,
                    value: Some(value.as_ref()),
                })
            },
        );
        let future_record = FutureRecord::to(&record.topic)
            .key(record.key.as_str())
            .payload(record.payload.as_ref())
            .headers(headers);
        // librdkafka always reports within message.timeout.ms; the outer timeout only
        // guards against a report that never comes.
        let limit = self.config.publish_timeout + Duration::from_secs(5);
        let sent = tokio::time::timeout(
            limit,
            self.producer
                .send(future_record, Timeout::After(self.config.publish_timeout)),
        )
        .await
        .map_err(|_| Error::Timeout(limit))?;
        match sent {
            Ok(_) => Ok(()),
            Err((e, _)) => match e.rdkafka_error_code() {
                Some(
                    RDKafkaErrorCode::UnknownTopicOrPartition | RDKafkaErrorCode::UnknownTopic,
                ) => Err(Error::UnknownTopic(record.topic)),
                Some(RDKafkaErrorCode::MessageSizeTooLarge) => Err(Error::RecordTooLarge {
                    size,
                    max: self.config.max_record_bytes,
                }),
                _ => Err(map_timeout(e, self.config.publish_timeout)),
            },
        }
    }

    async fn subscribe(&self, group: &str, topics: &[String]) -> Result<Box<dyn Subscription>> {
        validate_subscription(group, topics)?;
        for t in topics {
            self.check_topic(t).await?;
        }
        let consumer: StreamConsumer = self.config.consumer(group).create()?;
        let names: Vec<&str> = topics.iter().map(String::as_str).collect();
        consumer.subscribe(&names)?;
        tracing::debug!(group, ?topics, "subscribed");
        Ok(Box::new(KafkaSubscription {
            consumer: Some(Arc::new(consumer)),
        }))
    }

    async fn ping(&self) -> Result<()> {
        let producer = self.producer.clone();
        let timeout = self.config.request_timeout;
        tokio::task::spawn_blocking(move || producer.client().fetch_metadata(None, timeout))
            .await
            .map_err(|_| Error::Closed)?
            .map_err(|e| map_timeout(e, timeout))?;
        Ok(())
    }
}

/// A member of a Kafka consumer group. Dropping it leaves the group (the close runs on
/// tokio's blocking pool, as librdkafka's close blocks).
pub struct KafkaSubscription {
    /// `None` only while dropping. An `Arc` so that blocking commits can run off the
    /// async threads.
    consumer: Option<Arc<StreamConsumer>>,
}

impl std::fmt::Debug for KafkaSubscription {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KafkaSubscription").finish_non_exhaustive()
    }
}

impl KafkaSubscription {
    fn consumer(&self) -> Result<&Arc<StreamConsumer>> {
        self.consumer.as_ref().ok_or(Error::Closed)
    }
}

fn to_delivery(m: &BorrowedMessage<'_>) -> Delivery {
    Delivery {
        topic: m.topic().to_owned(),
        partition: m.partition(),
        offset: m.offset(),
        // Hotline writes UTF-8 keys; a foreign record's binary key is kept readable.
        key: m.key().map(|k| String::from_utf8_lossy(k).into_owned()),
        payload: m.payload().map(Bytes::copy_from_slice).unwrap_or_default(),
        headers: m
            .headers()
            .map(|hs| {
                hs.iter()
                    .map(|h| {
                        (
                            h.key.to_owned(),
                            h.value.map(Bytes::copy_from_slice).unwrap_or_default(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default(),
    }
}

#[async_trait]
impl Subscription for KafkaSubscription {
    async fn next(&mut self) -> Result<Delivery> {
        let consumer = self.consumer()?;
        let message = consumer.recv().await?;
        Ok(to_delivery(&message))
    }

    async fn commit(&mut self, delivery: &Delivery) -> Result<()> {
        let consumer = Arc::clone(self.consumer()?);
        let mut tpl = TopicPartitionList::new();
        tpl.add_partition_offset(
            &delivery.topic,
            delivery.partition,
            Offset::Offset(delivery.offset + 1),
        )?;
        tokio::task::spawn_blocking(move || consumer.commit(&tpl, CommitMode::Sync))
            .await
            .map_err(|_| Error::Closed)??;
        Ok(())
    }
}

impl Drop for KafkaSubscription {
    fn drop(&mut self) {
        let Some(consumer) = self.consumer.take() else {
            return;
        };
        // Closing sends LeaveGroup and waits for the answer: keep it off async threads.
        match tokio::runtime::Handle::try_current() {
            Ok(handle) => {
                handle.spawn_blocking(move || drop(consumer));
            }
            Err(_) => drop(consumer),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_configuration_is_refused() {
        let ok = KafkaConfig::new("127.0.0.1:9092");
        assert!(ok.validate().is_ok());
        for bad in [
            KafkaConfig::new(" "),
            KafkaConfig {
                partitions: 0,
                ..ok.clone()
            },
            KafkaConfig {
                replication: 0,
                ..ok.clone()
            },
            KafkaConfig {
                heartbeat_interval: Duration::from_secs(4),
                ..ok.clone()
            },
            KafkaConfig {
                publish_timeout: Duration::ZERO,
                ..ok.clone()
            },
        ] {
            assert!(
                matches!(KafkaBus::new(bad.clone()), Err(Error::Config(_))),
                "{bad:?}"
            );
        }
    }

    /// Nothing listens on port 1: ping and publish fail within their timeouts.
    #[tokio::test]
    async fn unreachable_broker_is_an_error_not_a_hang() -> anyhow::Result<()> {
        let mut config = KafkaConfig::new("127.0.0.1:1");
        config.request_timeout = Duration::from_secs(1);
        let bus = KafkaBus::new(config)?;
        let limit = Duration::from_secs(20);
        assert!(tokio::time::timeout(limit, bus.ping()).await?.is_err());
        let publish = bus.publish(Record {
            topic: "t".to_owned(),
            key: "k".to_owned(),
            payload: Bytes::from_static(b"x"),
            headers: vec![],
        });
        assert!(tokio::time::timeout(limit, publish).await?.is_err());
        Ok(())
    }
}

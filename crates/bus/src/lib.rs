//! The event bus: how facts travel between Hotline services.
//!
//! [`EventBus`] is the small trait every service uses; [`kafka::KafkaBus`] is the
//! production implementation (rdkafka, idempotent producer, `acks=all`, consumer groups
//! with manual commits) and [`memory::MemoryBus`] the in-process one that `hotline
//! all-in-one` runs on. Both pass the same conformance suite (`tests/conformance.rs`).
//!
//! Delivery is at least once: a consumer commits a record only after its handler's effect
//! is durable, so after a crash the record comes again and handlers deduplicate on the
//! event id. Records that cannot be decoded are parked on the topic's dead-letter topic
//! ([`dead_letter_topic`]) by [`consumer::run_consumer`] and counted; the consumer goes on.
//!
//! Topics are never created implicitly, on either bus: a service creates what it uses at
//! start with [`EventBus::ensure_topics`], dead-letter topics included
//! ([`consumer::topics_for`]); publishing or subscribing to a missing topic fails with
//! [`Error::UnknownTopic`]. A service publishes through [`Publisher`] (key, headers, trace
//! context) and consumes through [`run_consumer`].

use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;

pub mod consumer;
pub mod kafka;
pub mod memory;
pub mod publisher;

pub use consumer::{ConsumerMetrics, Handler, HandlerError, run_consumer, topics_for};
pub use kafka::{KafkaBus, KafkaConfig};
pub use memory::{MemoryBus, MemoryConfig};
pub use publisher::Publisher;

/// Header carrying the event id, so consumers and tools can deduplicate without decoding.
pub const HEADER_EVENT_ID: &str = "hotline-event-id";
/// Header carrying the tenant id.
pub const HEADER_TENANT_ID: &str = "hotline-tenant-id";
/// Header carrying the event type name.
pub const HEADER_EVENT_TYPE: &str = "hotline-event-type";
/// W3C trace context header, so one call is one trace across services.
pub const HEADER_TRACEPARENT: &str = "traceparent";
/// Header on a dead-lettered record: why it was parked.
pub const HEADER_DLQ_REASON: &str = "hotline-dlq-reason";
/// Header on a dead-lettered record: the topic it came from.
pub const HEADER_DLQ_SOURCE: &str = "hotline-dlq-source";
/// Header on a dead-lettered record: the partition it came from (decimal).
pub const HEADER_DLQ_PARTITION: &str = "hotline-dlq-partition";
/// Header on a dead-lettered record: its offset in the source partition (decimal).
pub const HEADER_DLQ_OFFSET: &str = "hotline-dlq-offset";
/// Header on a dead-lettered record: the full error text (the reason header is a label).
pub const HEADER_DLQ_DETAIL: &str = "hotline-dlq-detail";

/// Longest topic name Kafka accepts.
pub const MAX_TOPIC_NAME_LEN: usize = 249;

/// The dead-letter topic of a topic.
pub fn dead_letter_topic(topic: &str) -> String {
    format!("{topic}.dlq")
}

/// Errors of the event bus.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("kafka: {0}")]
    Kafka(#[from] rdkafka::error::KafkaError),
    #[error("kafka configuration: {0}")]
    Config(String),
    #[error("topic {0:?} does not exist")]
    UnknownTopic(String),
    #[error("could not create topic {topic:?}: {reason}")]
    CreateTopic { topic: String, reason: String },
    #[error("timed out after {0:?}")]
    Timeout(Duration),
    #[error("the bus is closed")]
    Closed,
    #[error("record of {size} bytes is larger than the limit of {max} bytes")]
    RecordTooLarge { size: usize, max: usize },
    #[error("invalid request: {0}")]
    Invalid(String),
}

/// Result type of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A topic to create when missing. The in-process bus ignores `replication`; the Kafka
/// bus uses at least [`KafkaConfig::replication`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicSpec {
    pub name: String,
    pub partitions: i32,
    pub replication: i32,
}

impl TopicSpec {
    /// A topic with the given partitions and replication factor 1.
    pub fn new(name: impl Into<String>, partitions: i32) -> Self {
        Self {
            name: name.into(),
            partitions,
            replication: 1,
        }
    }
}

impl TopicSpec {
    /// Checks the name (Kafka's rules: 1 to 249 of `[A-Za-z0-9._-]`, not `.` or `..`),
    /// the partition count and the replication factor.
    pub fn validate(&self) -> Result<()> {
        let bad = |reason: String| Error::CreateTopic {
            topic: self.name.clone(),
            reason,
        };
        validate_topic_name(&self.name).map_err(bad)?;
        if self.partitions < 1 {
            return Err(bad(format!(
                "partitions must be at least 1, got {}",
                self.partitions
            )));
        }
        if self.replication < 1 {
            return Err(bad(format!(
                "replication must be at least 1, got {}",
                self.replication
            )));
        }
        Ok(())
    }
}

/// Why a topic name is not one Kafka accepts, if it is not.
fn validate_topic_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("topic name is empty".to_owned());
    }
    if name.len() > MAX_TOPIC_NAME_LEN {
        return Err(format!(
            "topic name is longer than {MAX_TOPIC_NAME_LEN} bytes"
        ));
    }
    if name == "." || name == ".." {
        return Err("topic name cannot be \".\" or \"..\"".to_owned());
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
    {
        return Err(format!(
            "topic name contains {c:?}; allowed are ASCII letters, digits, '.', '_' and '-'"
        ));
    }
    Ok(())
}

/// Checks the arguments of [`EventBus::subscribe`] the same way for every implementation.
fn validate_subscription(group: &str, topics: &[String]) -> Result<()> {
    if group.is_empty() {
        return Err(Error::Invalid("consumer group id is empty".to_owned()));
    }
    if topics.is_empty() {
        return Err(Error::Invalid("subscription names no topic".to_owned()));
    }
    Ok(())
}

/// A record to publish.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub topic: String,
    /// Partitioning key: records with the same key keep their order.
    pub key: String,
    pub payload: Bytes,
    pub headers: Vec<(String, Bytes)>,
}

impl Record {
    /// The bytes the record's limit counts: key, payload, header names and values.
    pub fn size(&self) -> usize {
        self.key.len()
            + self.payload.len()
            + self
                .headers
                .iter()
                .map(|(k, v)| k.len() + v.len())
                .sum::<usize>()
    }
}

/// Largest record both buses accept by default: Kafka's default `message.max.bytes`.
pub const DEFAULT_MAX_RECORD_BYTES: usize = 1_000_000;

/// A record as consumed, with where it came from (what [`Subscription::commit`] needs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
    pub key: Option<String>,
    pub payload: Bytes,
    pub headers: Vec<(String, Bytes)>,
}

impl Delivery {
    /// The first header with this name.
    pub fn header(&self, name: &str) -> Option<&[u8]> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_ref())
    }

    /// The tenant header ([`HEADER_TENANT_ID`]) as text, if present and UTF-8. It lets a
    /// consumer skip other tenants' records without decoding them; [`run_consumer`]
    /// checks that it agrees with the envelope.
    pub fn tenant(&self) -> Option<&str> {
        self.header(HEADER_TENANT_ID)
            .and_then(|v| std::str::from_utf8(v).ok())
    }
}

/// Publishes and consumes records. Implementations are cheap to share (`Arc`).
#[async_trait]
pub trait EventBus: Send + Sync + std::fmt::Debug + 'static {
    /// Creates the topics that do not exist yet; existing ones are left as they are.
    async fn ensure_topics(&self, topics: &[TopicSpec]) -> Result<()>;

    /// Publishes one record and waits until the bus has durably accepted it.
    async fn publish(&self, record: Record) -> Result<()>;

    /// Joins consumer group `group` on `topics`. A new group starts at the earliest
    /// offset; an existing one resumes after its last committed record.
    async fn subscribe(&self, group: &str, topics: &[String]) -> Result<Box<dyn Subscription>>;

    /// Checks that the bus answers (for readiness).
    async fn ping(&self) -> Result<()>;
}

/// One member of a consumer group.
#[async_trait]
pub trait Subscription: Send + std::fmt::Debug {
    /// The next record; waits until one arrives.
    async fn next(&mut self) -> Result<Delivery>;

    /// Marks `delivery` (and everything before it on its partition) as done for the
    /// group. Call only once the record's effect is durable.
    async fn commit(&mut self, delivery: &Delivery) -> Result<()>;
}

//! [`run_consumer`]: the loop every consuming service runs, around its [`Handler`].
//!
//! It reads one topic in a consumer group and, for each record:
//! - decodes it; a record that does not decode (garbage, an unknown schema version, a
//!   payload this build does not know, …) or whose tenant header disagrees with its
//!   envelope is logged, counted, parked on the dead-letter topic
//!   ([`dead_letter_topic`]) with the original key, payload and headers plus
//!   [`HEADER_DLQ_REASON`] and [`HEADER_DLQ_SOURCE`], and committed: one bad record
//!   never blocks a partition;
//! - hands the event to the handler under the trace context of the record's headers;
//!   [`HandlerError::Transient`] is retried with capped exponential backoff (the record
//!   is not committed meanwhile), [`HandlerError::Permanent`] is dead-lettered like a bad
//!   record;
//! - commits the record only after the handler returned `Ok` (at least once: handlers
//!   deduplicate on [`Event::id`]).
//!
//! The dead-letter topic must exist before the consumer starts (the Kafka side creates no
//! topic on its own): create it with the source topic, e.g.
//! `bus.ensure_topics(&topics_for("calls", 6))`.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use hotline_core::{DecodeError, Event};
use opentelemetry::context::FutureExt as _;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;
use tokio_util::sync::CancellationToken;

use crate::publisher::extract_context;
use crate::{
    Delivery, Error, EventBus, HEADER_DLQ_DETAIL, HEADER_DLQ_OFFSET, HEADER_DLQ_PARTITION,
    HEADER_DLQ_REASON, HEADER_DLQ_SOURCE, Record, Result, Subscription, TopicSpec,
    dead_letter_topic,
};

/// First wait before retrying a transient failure; it doubles up to [`MAX_BACKOFF`].
pub const INITIAL_BACKOFF: Duration = Duration::from_millis(100);
/// Longest wait between two retries. Keep it well under Kafka's `max.poll.interval.ms`
/// (5 minutes by default), or a long outage makes the member leave its group.
pub const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// The dead-letter reason of a record the handler refused for good.
pub const REASON_HANDLER_PERMANENT: &str = "handler_permanent";
/// The dead-letter reason of a record whose tenant header names another tenant than its
/// envelope: it could slip past a consumer filtering on the header.
pub const REASON_TENANT_MISMATCH: &str = "tenant_mismatch";

/// What a service does with each event of a topic.
#[async_trait]
pub trait Handler: Send + Sync {
    /// Applies `event` durably (idempotently: the same event may come twice).
    async fn handle(&self, event: &Event) -> Result<(), HandlerError>;
}

/// Why a handler did not apply an event.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HandlerError {
    /// Worth retrying (a backend is unreachable, a timeout): the record is retried and
    /// not committed meanwhile.
    #[error("transient: {0}")]
    Transient(String),
    /// Will never work (the event contradicts the state): the record is dead-lettered.
    #[error("permanent: {0}")]
    Permanent(String),
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ConsumedLabels {
    topic: String,
    event_type: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DeadLetterLabels {
    topic: String,
    reason: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TopicLabels {
    topic: String,
}

/// Counters of [`run_consumer`]. Clones share the same counters, so one value can serve
/// every consumer of a service.
#[derive(Debug, Clone, Default)]
pub struct ConsumerMetrics {
    consumed: Family<ConsumedLabels, Counter>,
    dead_lettered: Family<DeadLetterLabels, Counter>,
    retries: Family<TopicLabels, Counter>,
}

impl ConsumerMetrics {
    /// New, unregistered counters.
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers the counters in `registry`, which is expected to be the service's
    /// sub-registry (prefix `hotline_<service>`): they appear as
    /// `hotline_<service>_bus_events_consumed_total` and so on.
    pub fn register(&self, registry: &mut Registry) {
        registry.register(
            "bus_events_consumed",
            "Events handled successfully, by topic and event type",
            self.consumed.clone(),
        );
        registry.register(
            "bus_events_dead_lettered",
            "Records parked on the dead-letter topic, by topic and reason",
            self.dead_lettered.clone(),
        );
        registry.register(
            "bus_handler_retries",
            "Transient handler failures that were retried, by topic",
            self.retries.clone(),
        );
    }

    fn consumed(&self, topic: &str, event_type: &str) {
        self.consumed
            .get_or_create(&ConsumedLabels {
                topic: topic.to_owned(),
                event_type: event_type.to_owned(),
            })
            .inc();
    }

    fn dead_lettered(&self, topic: &str, reason: &str) {
        self.dead_lettered
            .get_or_create(&DeadLetterLabels {
                topic: topic.to_owned(),
                reason: reason.to_owned(),
            })
            .inc();
    }

    fn retried(&self, topic: &str) {
        self.retries
            .get_or_create(&TopicLabels {
                topic: topic.to_owned(),
            })
            .inc();
    }
}

/// The topics a consumer of `topic` needs: the topic and its dead-letter topic, both with
/// `partitions` partitions. Pass them to [`EventBus::ensure_topics`] before
/// [`run_consumer`].
pub fn topics_for(topic: &str, partitions: i32) -> Vec<TopicSpec> {
    vec![
        TopicSpec::new(topic, partitions),
        TopicSpec::new(dead_letter_topic(topic), partitions),
    ]
}

/// Why a record goes to the dead-letter topic.
struct Parked {
    /// A fixed label (metrics, [`HEADER_DLQ_REASON`]).
    reason: &'static str,
    /// The full error text ([`HEADER_DLQ_DETAIL`], logs).
    detail: String,
}

impl From<&DecodeError> for Parked {
    fn from(e: &DecodeError) -> Self {
        Self {
            reason: e.label(),
            detail: e.to_string(),
        }
    }
}

/// How handling a record ended.
enum Outcome {
    /// Done: commit it.
    Commit,
    /// Shutdown came while waiting to retry: leave it uncommitted and stop.
    Stopped,
}

/// Consumes `topic` in consumer group `group` with `handler` until `shutdown` is
/// cancelled (see the module docs for what happens to each record).
///
/// On shutdown the record in hand is finished (handled and committed, or dead-lettered)
/// and the function returns `Ok`; a shutdown during a retry wait returns at once and
/// leaves the record uncommitted, so it comes again after the restart.
///
/// Errors: joining the group fails, or the dead-letter topic does not exist
/// ([`Error::UnknownTopic`]: the record stays uncommitted). Failures to read or commit
/// are logged and retried.
pub async fn run_consumer(
    bus: Arc<dyn EventBus>,
    group: String,
    topic: String,
    handler: Arc<dyn Handler>,
    metrics: ConsumerMetrics,
    shutdown: CancellationToken,
) -> Result<()> {
    let mut sub = bus.subscribe(&group, std::slice::from_ref(&topic)).await?;
    tracing::info!(%group, %topic, "consumer started");
    let ctx = Ctx {
        bus: bus.as_ref(),
        topic: &topic,
        handler: handler.as_ref(),
        metrics: &metrics,
        shutdown: &shutdown,
    };
    let mut read_backoff = INITIAL_BACKOFF;
    loop {
        let next = tokio::select! {
            biased;
            () = shutdown.cancelled() => break,
            next = sub.next() => next,
        };
        let delivery = match next {
            Ok(d) => {
                read_backoff = INITIAL_BACKOFF;
                d
            }
            Err(Error::Closed) => return Err(Error::Closed),
            Err(e) => {
                tracing::warn!(%group, %topic, error = %e, "reading from the bus failed; retrying");
                if !sleep_unless_cancelled(read_backoff, &shutdown).await {
                    break;
                }
                read_backoff = (read_backoff * 2).min(MAX_BACKOFF);
                continue;
            }
        };
        match ctx.process(&delivery).await? {
            Outcome::Commit => commit(sub.as_mut(), &delivery, &group).await,
            Outcome::Stopped => break,
        }
        if shutdown.is_cancelled() {
            break;
        }
    }
    tracing::info!(%group, %topic, "consumer stopped");
    Ok(())
}

/// Commits, logging a failure: the record then comes again (to this member or to the
/// one that took its partition over) and the idempotent handler absorbs it.
async fn commit(sub: &mut dyn Subscription, d: &Delivery, group: &str) {
    if let Err(e) = sub.commit(d).await {
        tracing::warn!(
            group,
            topic = %d.topic,
            partition = d.partition,
            offset = d.offset,
            error = %e,
            "commit failed; the record will be delivered again"
        );
    }
}

/// Waits `d`; `false` when `shutdown` came first.
async fn sleep_unless_cancelled(d: Duration, shutdown: &CancellationToken) -> bool {
    tokio::select! {
        biased;
        () = shutdown.cancelled() => false,
        () = tokio::time::sleep(d) => true,
    }
}

struct Ctx<'a> {
    bus: &'a dyn EventBus,
    topic: &'a str,
    handler: &'a dyn Handler,
    metrics: &'a ConsumerMetrics,
    shutdown: &'a CancellationToken,
}

impl Ctx<'_> {
    async fn process(&self, d: &Delivery) -> Result<Outcome> {
        let event = match Event::decode(&d.payload) {
            Ok(event) => event,
            Err(e) => return self.park(d, Parked::from(&e)).await,
        };
        if let Some(header) = d.tenant()
            && header != event.tenant.as_str()
        {
            let detail = format!(
                "tenant header {header:?} but envelope tenant {:?}",
                event.tenant.as_str()
            );
            return self
                .park(
                    d,
                    Parked {
                        reason: REASON_TENANT_MISMATCH,
                        detail,
                    },
                )
                .await;
        }
        let cx = extract_context(d);
        let mut backoff = INITIAL_BACKOFF;
        loop {
            let result = self.handler.handle(&event).with_context(cx.clone()).await;
            match result {
                Ok(()) => {
                    self.metrics.consumed(self.topic, event.kind());
                    return Ok(Outcome::Commit);
                }
                Err(HandlerError::Transient(reason)) => {
                    self.metrics.retried(self.topic);
                    tracing::warn!(
                        topic = %self.topic,
                        partition = d.partition,
                        offset = d.offset,
                        event_id = %event.id,
                        tenant = %event.tenant,
                        %reason,
                        backoff_ms = u64::try_from(backoff.as_millis()).unwrap_or(u64::MAX),
                        "handler failed transiently; retrying"
                    );
                    if !sleep_unless_cancelled(backoff, self.shutdown).await {
                        return Ok(Outcome::Stopped);
                    }
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
                Err(HandlerError::Permanent(reason)) => {
                    return self
                        .park(
                            d,
                            Parked {
                                reason: REASON_HANDLER_PERMANENT,
                                detail: reason,
                            },
                        )
                        .await;
                }
            }
        }
    }

    /// Logs, counts and dead-letters `d`. Publishing is retried until it works (the
    /// record must not be committed before it is parked), except when the dead-letter
    /// topic does not exist: that is a deployment error, returned.
    async fn park(&self, d: &Delivery, why: Parked) -> Result<Outcome> {
        tracing::warn!(
            topic = %self.topic,
            partition = d.partition,
            offset = d.offset,
            reason = why.reason,
            detail = %why.detail,
            "parking record on the dead-letter topic"
        );
        let mut record = dead_letter_record(d, &why);
        let mut stub = false;
        let mut backoff = INITIAL_BACKOFF;
        loop {
            match self.bus.publish(record.clone()).await {
                Ok(()) => break,
                Err(Error::RecordTooLarge { .. }) if !stub => {
                    // The original fitted, our headers tipped it over: park a stub with
                    // our headers alone; partition and offset say where the bytes are
                    // while the source topic retains them.
                    tracing::error!(
                        topic = %self.topic,
                        partition = d.partition,
                        offset = d.offset,
                        "record too large to dead-letter whole; parking a stub"
                    );
                    stub = true;
                    record.payload = Bytes::new();
                    record
                        .headers
                        .retain(|(k, _)| DLQ_HEADERS.contains(&k.as_str()));
                    set_header(
                        &mut record.headers,
                        HEADER_DLQ_DETAIL,
                        truncate(&format!("{} (payload too large to park)", why.detail)),
                    );
                }
                Err(
                    e @ (Error::UnknownTopic(_) | Error::Closed | Error::RecordTooLarge { .. }),
                ) => {
                    tracing::error!(
                        topic = %self.topic,
                        dead_letter_topic = %record.topic,
                        error = %e,
                        "cannot dead-letter (does the dead-letter topic exist? see topics_for)"
                    );
                    return Err(e);
                }
                Err(e) => {
                    tracing::warn!(
                        topic = %self.topic,
                        dead_letter_topic = %record.topic,
                        error = %e,
                        "dead-lettering failed; retrying"
                    );
                    if !sleep_unless_cancelled(backoff, self.shutdown).await {
                        return Ok(Outcome::Stopped);
                    }
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
            }
        }
        self.metrics.dead_lettered(self.topic, why.reason);
        Ok(Outcome::Commit)
    }
}

/// The headers [`run_consumer`] adds to a dead-lettered record.
const DLQ_HEADERS: [&str; 5] = [
    HEADER_DLQ_REASON,
    HEADER_DLQ_SOURCE,
    HEADER_DLQ_PARTITION,
    HEADER_DLQ_OFFSET,
    HEADER_DLQ_DETAIL,
];

/// Longest [`HEADER_DLQ_DETAIL`] value: a handler's reason can be anything.
const MAX_DETAIL_BYTES: usize = 1024;

fn truncate(detail: &str) -> Bytes {
    let mut end = detail.len().min(MAX_DETAIL_BYTES);
    while !detail.is_char_boundary(end) {
        end -= 1;
    }
    Bytes::copy_from_slice(&detail.as_bytes()[..end])
}

fn set_header(headers: &mut Vec<(String, Bytes)>, name: &str, value: Bytes) {
    headers.retain(|(k, _)| k != name);
    headers.push((name.to_owned(), value));
}

/// The dead-letter copy of `d`: same key, payload and headers (minus any dead-letter
/// headers of an earlier trip), plus why and where from.
fn dead_letter_record(d: &Delivery, why: &Parked) -> Record {
    let mut headers: Vec<(String, Bytes)> = d
        .headers
        .iter()
        .filter(|(k, _)| !DLQ_HEADERS.contains(&k.as_str()))
        .cloned()
        .collect();
    headers.extend([
        (
            HEADER_DLQ_REASON.to_owned(),
            Bytes::from_static(why.reason.as_bytes()),
        ),
        (HEADER_DLQ_SOURCE.to_owned(), Bytes::from(d.topic.clone())),
        (
            HEADER_DLQ_PARTITION.to_owned(),
            Bytes::from(d.partition.to_string()),
        ),
        (
            HEADER_DLQ_OFFSET.to_owned(),
            Bytes::from(d.offset.to_string()),
        ),
        (
            HEADER_DLQ_DETAIL.to_owned(),
            Bytes::from(why.detail.clone()),
        ),
    ]);
    Record {
        topic: dead_letter_topic(&d.topic),
        key: d.key.clone().unwrap_or_default(),
        payload: d.payload.clone(),
        headers,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detail_is_truncated_on_a_char_boundary() {
        let long = "é".repeat(MAX_DETAIL_BYTES);
        let t = truncate(&long);
        assert!(t.len() <= MAX_DETAIL_BYTES);
        assert!(std::str::from_utf8(&t).is_ok());
        assert_eq!(truncate("short").as_ref(), b"short");
    }

    #[test]
    fn dead_letter_record_keeps_the_original_and_replaces_old_dlq_headers() {
        let d = Delivery {
            topic: "calls".to_owned(),
            partition: 3,
            offset: 42,
            key: Some("call-1".to_owned()),
            payload: Bytes::from_static(b"\x01\x02"),
            headers: vec![
                ("origin".to_owned(), Bytes::from_static(b"x")),
                (HEADER_DLQ_REASON.to_owned(), Bytes::from_static(b"old")),
            ],
        };
        let why = Parked {
            reason: "malformed",
            detail: "bad bytes".to_owned(),
        };
        let r = dead_letter_record(&d, &why);
        assert_eq!(r.topic, "calls.dlq");
        assert_eq!(r.key, "call-1");
        assert_eq!(r.payload, d.payload);
        let get = |name: &str| {
            let values: Vec<&[u8]> = r
                .headers
                .iter()
                .filter(|(k, _)| k == name)
                .map(|(_, v)| v.as_ref())
                .collect();
            values
        };
        assert_eq!(get("origin"), vec![&b"x"[..]]);
        assert_eq!(get(HEADER_DLQ_REASON), vec![&b"malformed"[..]]);
        assert_eq!(get(HEADER_DLQ_SOURCE), vec![&b"calls"[..]]);
        assert_eq!(get(HEADER_DLQ_PARTITION), vec![&b"3"[..]]);
        assert_eq!(get(HEADER_DLQ_OFFSET), vec![&b"42"[..]]);
        assert_eq!(get(HEADER_DLQ_DETAIL), vec![&b"bad bytes"[..]]);
    }

    struct Never;

    #[async_trait]
    impl Handler for Never {
        async fn handle(&self, _: &Event) -> Result<(), HandlerError> {
            Err(HandlerError::Permanent("not expected".to_owned()))
        }
    }

    fn garbage(topic: &str, len: usize) -> Record {
        Record {
            topic: topic.to_owned(),
            key: "k".to_owned(),
            payload: Bytes::from(vec![0xff; len]),
            headers: vec![],
        }
    }

    async fn run(bus: &Arc<dyn EventBus>, topic: &str) -> tokio::task::JoinHandle<Result<()>> {
        tokio::spawn(run_consumer(
            Arc::clone(bus),
            "g".to_owned(),
            topic.to_owned(),
            Arc::new(Never),
            ConsumerMetrics::new(),
            CancellationToken::new(),
        ))
    }

    #[tokio::test]
    async fn a_missing_dead_letter_topic_stops_the_consumer_uncommitted() -> anyhow::Result<()> {
        let bus: Arc<dyn EventBus> = Arc::new(crate::MemoryBus::new());
        bus.ensure_topics(&[TopicSpec::new("calls", 1)]).await?;
        bus.publish(garbage("calls", 8)).await?;
        let result =
            tokio::time::timeout(Duration::from_secs(10), run(&bus, "calls").await).await??;
        assert!(matches!(result, Err(Error::UnknownTopic(t)) if t == "calls.dlq"));
        // Not committed: the group gets the record again.
        let mut sub = bus.subscribe("g", &["calls".to_owned()]).await?;
        assert_eq!(sub.next().await?.offset, 0);
        Ok(())
    }

    #[tokio::test]
    async fn a_record_too_large_to_park_whole_is_parked_as_a_stub() -> anyhow::Result<()> {
        let bus: Arc<dyn EventBus> = Arc::new(crate::MemoryBus::with_config(crate::MemoryConfig {
            max_record_bytes: 400,
            ..crate::MemoryConfig::default()
        }));
        bus.ensure_topics(&topics_for("calls", 1)).await?;
        bus.publish(garbage("calls", 390)).await?;
        let consumer = run(&bus, "calls").await;
        let mut dlq = bus.subscribe("reader", &["calls.dlq".to_owned()]).await?;
        let d = tokio::time::timeout(Duration::from_secs(10), dlq.next()).await??;
        consumer.abort();
        assert!(d.payload.is_empty());
        assert_eq!(d.header(HEADER_DLQ_REASON), Some(&b"malformed"[..]));
        assert_eq!(d.header(HEADER_DLQ_OFFSET), Some(&b"0"[..]));
        Ok(())
    }
}

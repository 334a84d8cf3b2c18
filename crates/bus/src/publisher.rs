//! [`Publisher`]: how a service puts a domain [`Event`] on the bus.
//!
//! It encodes the event in its envelope, keys it with [`Event::key`] (the call id, so one
//! call's events keep their order) and adds the headers consumers and tools rely on: the
//! event id, the tenant, the event type and the W3C trace context of the current
//! OpenTelemetry context, so one call is one trace across services.
//! [`extract_context`] is the other half, for consumers.

use std::sync::Arc;

use bytes::Bytes;
use hotline_core::Event;
use opentelemetry::propagation::{Extractor, Injector};

use crate::{
    Delivery, EventBus, HEADER_EVENT_ID, HEADER_EVENT_TYPE, HEADER_TENANT_ID, Record, Result,
};

/// Publishes domain events to one topic.
#[derive(Debug, Clone)]
pub struct Publisher {
    bus: Arc<dyn EventBus>,
    topic: String,
}

impl Publisher {
    /// A publisher to `topic` (which must exist: see [`EventBus::ensure_topics`]).
    pub fn new(bus: Arc<dyn EventBus>, topic: impl Into<String>) -> Self {
        Self {
            bus,
            topic: topic.into(),
        }
    }

    /// The topic this publisher writes to.
    pub fn topic(&self) -> &str {
        &self.topic
    }

    /// Publishes `event` and waits until the bus has accepted it, carrying the current
    /// OpenTelemetry context (with `tracing-opentelemetry`, the current span's).
    pub async fn publish(&self, event: &Event) -> Result<()> {
        self.publish_with_context(event, &opentelemetry::Context::current())
            .await
    }

    /// Like [`Publisher::publish`], with an explicit trace context.
    pub async fn publish_with_context(
        &self,
        event: &Event,
        cx: &opentelemetry::Context,
    ) -> Result<()> {
        let record = record_for(&self.topic, event, cx);
        tracing::debug!(
            topic = %self.topic,
            event_id = %event.id,
            tenant = %event.tenant,
            event_type = event.kind(),
            "publishing event"
        );
        self.bus.publish(record).await
    }
}

/// The record `event` travels in: key, envelope and headers.
pub fn record_for(topic: &str, event: &Event, cx: &opentelemetry::Context) -> Record {
    let mut headers = vec![
        (
            HEADER_EVENT_ID.to_owned(),
            Bytes::from(event.id.to_string()),
        ),
        (
            HEADER_TENANT_ID.to_owned(),
            Bytes::from(event.tenant.to_string()),
        ),
        (
            HEADER_EVENT_TYPE.to_owned(),
            Bytes::from_static(event.kind().as_bytes()),
        ),
    ];
    opentelemetry::global::get_text_map_propagator(|propagator| {
        propagator.inject_context(cx, &mut HeaderInjector(&mut headers));
    });
    Record {
        topic: topic.to_owned(),
        key: event.key(),
        payload: Bytes::from(event.encode_to_vec()),
        headers,
    }
}

/// The trace context a delivery carries (the parent for the consumer's work), from the
/// globally configured propagator; an empty context when there is none.
pub fn extract_context(d: &Delivery) -> opentelemetry::Context {
    opentelemetry::global::get_text_map_propagator(|propagator| {
        propagator.extract(&HeaderExtractor(&d.headers))
    })
}

/// Writes propagation fields (e.g. `traceparent`) as record headers.
struct HeaderInjector<'a>(&'a mut Vec<(String, Bytes)>);

impl Injector for HeaderInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        self.0.retain(|(k, _)| k != key);
        self.0.push((key.to_owned(), Bytes::from(value)));
    }
}

/// Reads propagation fields from record headers; values that are not UTF-8 are ignored.
struct HeaderExtractor<'a>(&'a [(String, Bytes)]);

impl Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .and_then(|(_, v)| std::str::from_utf8(v).ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.iter().map(|(k, _)| k.as_str()).collect()
    }
}

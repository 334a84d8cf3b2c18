//! The `analytics` service: consumes every event and turns it into KPIs.
//!
//! This first version consumes the events topic in its own consumer group, deduplicates
//! redeliveries by event id, and keeps live per-tenant counts by event type, served over
//! gRPC (`GetEventCounts`) and as `hotline_analytics_events_total{type}`. The KPI
//! formulas (ASA, AHT, service level, abandonment…) come with the analytics issue.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use hotline_backends::Backends;
use hotline_bus::{ConsumerMetrics, Handler, HandlerError, run_consumer};
use hotline_core::{Event, EventId, TenantId};
use hotline_proto::v1 as pb;
use hotline_runtime::config::{ConfigError, ListenConfig, Validate};
use hotline_runtime::{Listeners, ServiceHost, StartError, StartedService};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use serde::{Deserialize, Serialize};
use tonic::{Request, Response, Status};

/// `[analytics]` settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub grpc: ListenConfig,
    pub ops: ListenConfig,
    /// Consumer group on the events topic.
    pub consumer_group: String,
    /// How many recent event ids are remembered to drop redeliveries.
    pub dedup_window: usize,
}

impl Default for Config {
    fn default() -> Self {
        let l = Listeners::local(9105, 9205);
        Self {
            grpc: l.grpc,
            ops: l.ops,
            consumer_group: "hotline-analytics".into(),
            dedup_window: 100_000,
        }
    }
}

impl Validate for Config {
    fn validate(&self) -> Result<(), ConfigError> {
        if self.consumer_group.trim().is_empty() {
            return Err(ConfigError::invalid("analytics.consumer_group", "is empty"));
        }
        if self.dedup_window == 0 {
            return Err(ConfigError::invalid(
                "analytics.dedup_window",
                "must be at least 1",
            ));
        }
        Ok(())
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TypeLabel {
    r#type: &'static str,
}

/// Live counts, shared by the consumer and the gRPC API.
#[derive(Debug)]
struct Counts {
    by_tenant: Mutex<HashMap<TenantId, HashMap<&'static str, u64>>>,
    seen: Mutex<Seen>,
    events: Family<TypeLabel, Counter>,
    duplicates: Counter,
}

/// A bounded set of recently applied event ids.
#[derive(Debug)]
struct Seen {
    ids: HashSet<EventId>,
    order: VecDeque<EventId>,
    cap: usize,
}

impl Seen {
    /// Records `id`; `false` when it was already there.
    fn insert(&mut self, id: EventId) -> bool {
        if !self.ids.insert(id) {
            return false;
        }
        self.order.push_back(id);
        while self.order.len() > self.cap {
            if let Some(old) = self.order.pop_front() {
                self.ids.remove(&old);
            }
        }
        true
    }
}

#[async_trait]
impl Handler for Counts {
    async fn handle(&self, event: &Event) -> Result<(), HandlerError> {
        let fresh = self
            .seen
            .lock()
            .map_err(|_| HandlerError::Transient("dedup set poisoned".into()))?
            .insert(event.id);
        if !fresh {
            self.duplicates.inc();
            return Ok(());
        }
        let kind = event.kind();
        self.by_tenant
            .lock()
            .map_err(|_| HandlerError::Transient("counts poisoned".into()))?
            .entry(event.tenant.clone())
            .or_default()
            .entry(kind)
            .and_modify(|n| *n += 1)
            .or_insert(1);
        self.events.get_or_create(&TypeLabel { r#type: kind }).inc();
        Ok(())
    }
}

struct Api {
    counts: Arc<Counts>,
}

#[tonic::async_trait]
impl pb::analytics_service_server::AnalyticsService for Api {
    async fn get_kpis(
        &self,
        _req: Request<pb::GetKpisRequest>,
    ) -> Result<Response<pb::Kpis>, Status> {
        Err(Status::unimplemented(
            "kpis arrive with the analytics issue; this build only counts events",
        ))
    }

    async fn get_event_counts(
        &self,
        req: Request<pb::GetEventCountsRequest>,
    ) -> Result<Response<pb::EventCounts>, Status> {
        let tenant = TenantId::new(req.into_inner().tenant_id)
            .map_err(|e| Status::invalid_argument(format!("tenant_id: {e}")))?;
        let by_tenant = self
            .counts
            .by_tenant
            .lock()
            .map_err(|_| Status::internal("counts unavailable"))?;
        let by_type = by_tenant
            .get(&tenant)
            .map(|m| m.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect())
            .unwrap_or_default();
        Ok(Response::new(pb::EventCounts { by_type }))
    }
}

/// The analytics service, built and bound.
#[derive(Debug)]
pub struct App(StartedService);

impl App {
    /// Binds the listeners and wires the consumer; nothing is served until
    /// [`App::run_until_stopped`].
    pub async fn build(config: &Config, backends: &Backends) -> Result<Self, StartError> {
        config.validate()?;
        let mut host = ServiceHost::new("analytics");
        host.health().add_check(backends.bus_check());

        let counts = Arc::new(Counts {
            by_tenant: Mutex::default(),
            seen: Mutex::new(Seen {
                ids: HashSet::new(),
                order: VecDeque::new(),
                cap: config.dedup_window,
            }),
            events: Family::default(),
            duplicates: Counter::default(),
        });
        host.registry().register(
            "events",
            "Events applied, by type (redeliveries excluded)",
            counts.events.clone(),
        );
        host.registry().register(
            "events_duplicate",
            "Redelivered events dropped by id",
            counts.duplicates.clone(),
        );
        let consumer_metrics = ConsumerMetrics::new();
        consumer_metrics.register(host.registry());

        host.add_grpc(pb::analytics_service_server::AnalyticsServiceServer::new(
            Api {
                counts: counts.clone(),
            },
        ));

        let bus = backends.bus.clone();
        let topic = backends.topics.events.clone();
        let group = config.consumer_group.clone();
        host.spawn("events-consumer", move |token| async move {
            run_consumer(bus, group, topic, counts, consumer_metrics, token)
                .await
                .map_err(|e| e.to_string())
        });

        let listeners = Listeners {
            grpc: config.grpc.clone(),
            ops: config.ops.clone(),
        };
        Ok(Self(listeners.bind("analytics", host).await?))
    }
}

hotline_runtime::started_app!(App);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seen_set_is_bounded_and_detects_repeats() {
        let mut s = Seen {
            ids: HashSet::new(),
            order: VecDeque::new(),
            cap: 2,
        };
        let a = EventId::generate();
        assert!(s.insert(a));
        assert!(!s.insert(a));
        s.insert(EventId::generate());
        s.insert(EventId::generate());
        assert_eq!(s.ids.len(), 2);
        assert!(s.insert(a), "evicted ids are forgotten");
    }
}

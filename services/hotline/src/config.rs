//! The whole configuration of a Hotline process: one TOML file for every command, each
//! service reading its own section. See the README's configuration reference.

use std::path::PathBuf;

use hotline_backends::{BackendsConfig, BusConfig, ObjectsSettings, StateConfig, StoreConfig};
use hotline_runtime::config::{ConfigError, ListenConfig, Validate};
use hotline_runtime::telemetry::TelemetryConfig;
use serde::{Deserialize, Serialize};

/// Every setting, with its default.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HotlineConfig {
    /// Where all-in-one keeps its database file and objects.
    pub data_dir: String,
    /// How long draining may take after SIGTERM/SIGINT before the process exits anyway.
    pub grace_period_seconds: u64,
    /// The provider's admin token (creates and suspends tenants). Empty: generated on
    /// first start into `<data_dir>/admin-token` and printed once.
    pub admin_token: hotline_runtime::Secret,
    /// The public HTTP API (the api service). In all-in-one it also answers `/readyz`
    /// and `/metrics` for every service.
    pub http: ListenConfig,
    pub telemetry: TelemetryConfig,
    pub bus: BusConfig,
    pub state: StateConfig,
    pub store: StoreConfig,
    pub objects: ObjectsSettings,
    pub ingress: hotline_ingress::Config,
    pub routing: hotline_routing::Config,
    pub recording: hotline_recording::Config,
    pub crm: hotline_crm::Config,
    pub analytics: hotline_analytics::Config,
    pub api: hotline_api::Config,
    pub operator: hotline_operator::Config,
}

impl Default for HotlineConfig {
    fn default() -> Self {
        Self {
            data_dir: "./data".into(),
            grace_period_seconds: 20,
            admin_token: hotline_runtime::Secret::default(),
            http: ListenConfig::new("127.0.0.1", 8080),
            telemetry: TelemetryConfig::default(),
            bus: BusConfig::default(),
            state: StateConfig::default(),
            store: StoreConfig::default(),
            objects: ObjectsSettings::default(),
            ingress: Default::default(),
            routing: Default::default(),
            recording: Default::default(),
            crm: Default::default(),
            analytics: Default::default(),
            api: Default::default(),
            operator: Default::default(),
        }
    }
}

impl HotlineConfig {
    /// The backends' sections together.
    pub fn backends(&self) -> BackendsConfig {
        BackendsConfig {
            bus: self.bus.clone(),
            state: self.state.clone(),
            store: self.store.clone(),
            objects: self.objects.clone(),
        }
    }

    /// What the api service needs beyond its section.
    pub fn api_public(&self) -> hotline_api::Public {
        hotline_api::Public {
            http: self.http.clone(),
            admin_token: self.admin_token.clone(),
            data_dir: self.data_dir(),
            demo: false,
        }
    }

    /// The data directory.
    pub fn data_dir(&self) -> PathBuf {
        PathBuf::from(&self.data_dir)
    }
}

impl Validate for HotlineConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        if self.data_dir.trim().is_empty() {
            return Err(ConfigError::invalid("data_dir", "is empty"));
        }
        if !(1..=3600).contains(&self.grace_period_seconds) {
            return Err(ConfigError::invalid(
                "grace_period_seconds",
                "must be between 1 and 3600",
            ));
        }
        self.http.addr("http")?;
        self.telemetry.validate()?;
        self.backends().validate("")?;
        self.ingress.validate()?;
        self.routing.validate()?;
        self.recording.validate()?;
        self.crm.validate()?;
        self.analytics.validate()?;
        self.api.validate()?;
        self.operator.validate()?;
        for (name, l) in [
            ("ingress.grpc", &self.ingress.grpc),
            ("ingress.ops", &self.ingress.ops),
            ("routing.grpc", &self.routing.grpc),
            ("routing.ops", &self.routing.ops),
            ("recording.grpc", &self.recording.grpc),
            ("recording.ops", &self.recording.ops),
            ("crm.grpc", &self.crm.grpc),
            ("crm.ops", &self.crm.ops),
            ("analytics.grpc", &self.analytics.grpc),
            ("analytics.ops", &self.analytics.ops),
            ("api.grpc", &self.api.grpc),
            ("operator.grpc", &self.operator.grpc),
            ("operator.ops", &self.operator.ops),
        ] {
            l.addr(name)?;
        }
        Ok(())
    }
}

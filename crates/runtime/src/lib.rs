//! What every Hotline service shares at run time: layered configuration, telemetry,
//! health and readiness, Prometheus metrics, the gRPC and HTTP servers, and graceful
//! shutdown.
//!
//! A service describes itself with a [`service::ServiceHost`] (its name, gRPC routes,
//! readiness checks, metrics and background tasks); the host binds the listeners (port
//! 0 works, the bound ports are reported) and serves until the shutdown token fires.

pub mod config;
pub mod health;
pub mod metrics;
pub mod secret;
pub mod service;
pub mod shutdown;
pub mod telemetry;
pub mod tracecontext;

pub use config::{ConfigError, ListenConfig, Loaded};
pub use health::{Health, ReadinessCheck};
pub use metrics::MetricsRegistry;
pub use secret::Secret;
pub use service::{
    Listeners, ServiceHost, ServiceOps, StartError, StartedService, internal_status,
};

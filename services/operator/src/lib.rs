//! The `operator` service: a Kubernetes controller that turns `Tenant` custom resources
//! into calls on the api service, so a provider can onboard tenants with `kubectl`.
//!
//! This first version starts, serves gRPC health and `/metrics`, and is ready only when
//! the api service it drives answers gRPC health. The controller itself (kube-rs, the
//! `Tenant` CRD, reconcile) comes with the tenant-onboarding work: there is nothing to
//! reconcile into until the api manages tenants.

use hotline_runtime::config::{ConfigError, ListenConfig, Validate};
use hotline_runtime::health::check_fn;
use hotline_runtime::{Listeners, ServiceHost, StartError, StartedService};
use serde::{Deserialize, Serialize};

/// `[operator]` settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub grpc: ListenConfig,
    pub ops: ListenConfig,
    /// The api service's gRPC endpoint, e.g. `http://hotline-api:9106`.
    pub api_endpoint: String,
}

impl Default for Config {
    fn default() -> Self {
        let l = Listeners::local(9107, 9207);
        Self {
            grpc: l.grpc,
            ops: l.ops,
            api_endpoint: "http://127.0.0.1:9106".into(),
        }
    }
}

impl Validate for Config {
    fn validate(&self) -> Result<(), ConfigError> {
        tonic::transport::Endpoint::from_shared(self.api_endpoint.clone())
            .map(|_| ())
            .map_err(|e| ConfigError::invalid("operator.api_endpoint", e.to_string()))
    }
}

/// The operator, built and bound.
#[derive(Debug)]
pub struct App(StartedService);

impl App {
    /// Binds the listeners; nothing is served until [`App::run_until_stopped`].
    pub async fn build(config: &Config) -> Result<Self, StartError> {
        config.validate()?;
        let host = ServiceHost::new("operator");
        let endpoint = tonic::transport::Endpoint::from_shared(config.api_endpoint.clone())
            .map_err(|e| ConfigError::invalid("operator.api_endpoint", e.to_string()))?
            .connect_timeout(std::time::Duration::from_secs(2));
        host.health().add_check(check_fn("api", move || {
            let endpoint = endpoint.clone();
            Box::pin(async move {
                let channel = endpoint.connect().await.map_err(|e| e.to_string())?;
                let mut client = tonic_health::pb::health_client::HealthClient::new(channel);
                let resp = client
                    .check(tonic_health::pb::HealthCheckRequest {
                        service: String::new(),
                    })
                    .await
                    .map_err(|e| e.message().to_owned())?;
                if resp.into_inner().status
                    == tonic_health::pb::health_check_response::ServingStatus::Serving as i32
                {
                    Ok(())
                } else {
                    Err("api reports not serving".to_owned())
                }
            })
        }));
        let listeners = Listeners {
            grpc: config.grpc.clone(),
            ops: config.ops.clone(),
        };
        Ok(Self(listeners.bind("operator", host).await?))
    }
}

hotline_runtime::started_app!(App);

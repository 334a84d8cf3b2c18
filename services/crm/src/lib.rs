//! The `crm` service: who is calling — customers, their history, their owner agent —
//! answered fast, before routing. This first version starts, reports health on its
//! backends (store, bus) and serves the `CrmService` contract; lookups come with the
//! crm issue.

use hotline_backends::Backends;
use hotline_proto::v1 as pb;
use hotline_runtime::config::{ListenConfig, Validate};
use hotline_runtime::{Listeners, ServiceHost, StartError, StartedService};
use serde::{Deserialize, Serialize};
use tonic::{Request, Response, Status};

/// `[crm]` settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub grpc: ListenConfig,
    pub ops: ListenConfig,
}

impl Default for Config {
    fn default() -> Self {
        let l = Listeners::local(9104, 9204);
        Self {
            grpc: l.grpc,
            ops: l.ops,
        }
    }
}

impl Validate for Config {}

struct Api;

const LATER: &str = "customer lookup arrives with the crm issue";

#[tonic::async_trait]
impl pb::crm_service_server::CrmService for Api {
    async fn lookup(
        &self,
        _req: Request<pb::LookupRequest>,
    ) -> Result<Response<pb::LookupResponse>, Status> {
        Err(Status::unimplemented(LATER))
    }

    async fn upsert_customer(
        &self,
        _req: Request<pb::Customer>,
    ) -> Result<Response<pb::Customer>, Status> {
        Err(Status::unimplemented(LATER))
    }
}

/// The crm service, built and bound.
#[derive(Debug)]
pub struct App(StartedService);

impl App {
    /// Binds the listeners; nothing is served until [`App::run_until_stopped`].
    pub async fn build(config: &Config, backends: &Backends) -> Result<Self, StartError> {
        config.validate()?;
        let mut host = ServiceHost::new("crm");
        host.health().add_check(backends.store_check());
        host.health().add_check(backends.bus_check());
        host.add_grpc(pb::crm_service_server::CrmServiceServer::new(Api));
        let listeners = Listeners {
            grpc: config.grpc.clone(),
            ops: config.ops.clone(),
        };
        Ok(Self(listeners.bind("crm", host).await?))
    }
}

hotline_runtime::started_app!(App);

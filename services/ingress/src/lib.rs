//! The `ingress` service: the SIP edge and media — the calls themselves. This first
//! version starts, reports health on its backends (bus, queue state) and serves the
//! `IngressService` contract with no live calls; SIP on 5060 comes with the SIP issue.

use hotline_backends::Backends;
use hotline_proto::v1 as pb;
use hotline_runtime::config::{ListenConfig, Validate};
use hotline_runtime::{Listeners, ServiceHost, StartError, StartedService};
use serde::{Deserialize, Serialize};
use tonic::{Request, Response, Status};

/// `[ingress]` settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub grpc: ListenConfig,
    pub ops: ListenConfig,
}

impl Default for Config {
    fn default() -> Self {
        let l = Listeners::local(9101, 9201);
        Self {
            grpc: l.grpc,
            ops: l.ops,
        }
    }
}

impl Validate for Config {}

struct Api;

const LATER: &str = "live calls arrive with the sip issue";

#[tonic::async_trait]
impl pb::ingress_service_server::IngressService for Api {
    async fn get_call(
        &self,
        _req: Request<pb::GetCallRequest>,
    ) -> Result<Response<pb::Call>, Status> {
        Err(Status::unimplemented(LATER))
    }

    async fn list_calls(
        &self,
        _req: Request<pb::ListCallsRequest>,
    ) -> Result<Response<pb::ListCallsResponse>, Status> {
        Ok(Response::new(pb::ListCallsResponse::default()))
    }

    async fn hangup_call(
        &self,
        _req: Request<pb::HangupCallRequest>,
    ) -> Result<Response<pb::HangupCallResponse>, Status> {
        Err(Status::unimplemented(LATER))
    }

    async fn hold_call(
        &self,
        _req: Request<pb::HoldCallRequest>,
    ) -> Result<Response<pb::HoldCallResponse>, Status> {
        Err(Status::unimplemented(LATER))
    }

    async fn transfer_call(
        &self,
        _req: Request<pb::TransferCallRequest>,
    ) -> Result<Response<pb::TransferCallResponse>, Status> {
        Err(Status::unimplemented(LATER))
    }
}

/// The ingress service, built and bound.
#[derive(Debug)]
pub struct App(StartedService);

impl App {
    /// Binds the listeners; nothing is served until [`App::run_until_stopped`].
    pub async fn build(config: &Config, backends: &Backends) -> Result<Self, StartError> {
        config.validate()?;
        let mut host = ServiceHost::new("ingress");
        host.health().add_check(backends.bus_check());
        host.health().add_check(backends.state_check());
        host.add_grpc(pb::ingress_service_server::IngressServiceServer::new(Api));
        let listeners = Listeners {
            grpc: config.grpc.clone(),
            ops: config.ops.clone(),
        };
        Ok(Self(listeners.bind("ingress", host).await?))
    }
}

hotline_runtime::started_app!(App);

//! The `recording` service: call audio to encrypted objects, pause/resume, retention.
//! This first version starts, reports health on its backends (object store, store, bus)
//! and serves the `RecordingService` contract; recording comes with its issue.

use hotline_backends::Backends;
use hotline_proto::v1 as pb;
use hotline_runtime::config::{ListenConfig, Validate};
use hotline_runtime::{Listeners, ServiceHost, StartError, StartedService};
use serde::{Deserialize, Serialize};
use tonic::{Request, Response, Status};

/// `[recording]` settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub grpc: ListenConfig,
    pub ops: ListenConfig,
}

impl Default for Config {
    fn default() -> Self {
        let l = Listeners::local(9103, 9203);
        Self {
            grpc: l.grpc,
            ops: l.ops,
        }
    }
}

impl Validate for Config {}

struct Api;

const LATER: &str = "recording arrives with the recording issue";

#[tonic::async_trait]
impl pb::recording_service_server::RecordingService for Api {
    async fn record(
        &self,
        _req: Request<tonic::Streaming<pb::AudioChunk>>,
    ) -> Result<Response<pb::RecordResponse>, Status> {
        Err(Status::unimplemented(LATER))
    }

    async fn set_paused(
        &self,
        _req: Request<pb::SetPausedRequest>,
    ) -> Result<Response<pb::SetPausedResponse>, Status> {
        Err(Status::unimplemented(LATER))
    }

    async fn get_recording(
        &self,
        _req: Request<pb::GetRecordingRequest>,
    ) -> Result<Response<pb::Recording>, Status> {
        Err(Status::unimplemented(LATER))
    }
}

/// The recording service, built and bound.
#[derive(Debug)]
pub struct App(StartedService);

impl App {
    /// Binds the listeners; nothing is served until [`App::run_until_stopped`].
    pub async fn build(config: &Config, backends: &Backends) -> Result<Self, StartError> {
        config.validate()?;
        let mut host = ServiceHost::new("recording");
        host.health().add_check(backends.objects_check());
        host.health().add_check(backends.store_check());
        host.health().add_check(backends.bus_check());
        host.add_grpc(pb::recording_service_server::RecordingServiceServer::new(
            Api,
        ));
        let listeners = Listeners {
            grpc: config.grpc.clone(),
            ops: config.ops.clone(),
        };
        Ok(Self(listeners.bind("recording", host).await?))
    }
}

hotline_runtime::started_app!(App);

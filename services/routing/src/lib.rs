//! The `routing` service: the ACD. Waiting calls, agent states and reservations live in
//! the shared queue state (Redis in production), so any number of replicas can run.
//!
//! This first version serves the state operations the call flow needs of it — confirm a
//! reservation's fencing token before a bridge, set an agent's state, a queue's status —
//! on top of [`hotline_state::QueueState`]. Strategies and offering calls come with the
//! routing issue.

use std::time::{SystemTime, UNIX_EPOCH};

use hotline_backends::Backends;
use hotline_core::{AgentId, CallId, QueueId, TenantId};
use hotline_proto::v1 as pb;
use hotline_runtime::config::{ListenConfig, Validate};
use hotline_runtime::{Listeners, ServiceHost, StartError, StartedService, internal_status};
use hotline_state::{AgentStatus, QueueState};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use tonic::{Request, Response, Status};

/// `[routing]` settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub grpc: ListenConfig,
    pub ops: ListenConfig,
}

impl Default for Config {
    fn default() -> Self {
        let l = Listeners::local(9102, 9202);
        Self {
            grpc: l.grpc,
            ops: l.ops,
        }
    }
}

impl Validate for Config {}

fn parse<T, E: std::fmt::Display>(field: &str, r: Result<T, E>) -> Result<T, Status> {
    r.map_err(|e| Status::invalid_argument(format!("{field}: {e}")))
}

fn to_status(e: &hotline_state::Error) -> Status {
    internal_status("routing", e)
}

fn agent_status(s: i32) -> Result<AgentStatus, Status> {
    use pb::AgentState as S;
    match S::try_from(s) {
        Ok(S::LoggedOut) => Ok(AgentStatus::LoggedOut),
        Ok(S::Available) => Ok(AgentStatus::Available),
        Ok(S::Break) => Ok(AgentStatus::Break),
        Ok(S::WrapUp) => Ok(AgentStatus::WrapUp),
        Ok(other) => Err(Status::invalid_argument(format!(
            "state: {} is set by the call flow, not by request",
            other.as_str_name()
        ))),
        Err(_) => Err(Status::invalid_argument(format!(
            "state: unknown value {s}"
        ))),
    }
}

fn agent_state_pb(s: AgentStatus) -> pb::AgentState {
    match s {
        AgentStatus::LoggedOut => pb::AgentState::LoggedOut,
        AgentStatus::Available => pb::AgentState::Available,
        AgentStatus::Reserved => pb::AgentState::Reserved,
        AgentStatus::OnCall => pb::AgentState::OnCall,
        AgentStatus::WrapUp => pb::AgentState::WrapUp,
        AgentStatus::Break => pb::AgentState::Break,
    }
}

struct Api {
    state: Arc<dyn QueueState>,
}

#[tonic::async_trait]
impl pb::routing_service_server::RoutingService for Api {
    async fn confirm_reservation(
        &self,
        req: Request<pb::ConfirmReservationRequest>,
    ) -> Result<Response<pb::ConfirmReservationResponse>, Status> {
        let r = req.into_inner();
        let tenant = parse("tenant_id", TenantId::new(r.tenant_id))?;
        let call = parse("call_id", CallId::new(r.call_id))?;
        let agent = parse("agent_id", AgentId::new(r.agent_id))?;
        let ok = self
            .state
            .confirm(&tenant, &agent, &call, r.fencing_token)
            .await
            .map_err(|e| to_status(&e))?;
        if ok {
            Ok(Response::new(pb::ConfirmReservationResponse {}))
        } else {
            Err(Status::failed_precondition(
                "stale or unknown reservation: the fencing token is not the agent's current one",
            ))
        }
    }

    async fn set_agent_state(
        &self,
        req: Request<pb::SetAgentStateRequest>,
    ) -> Result<Response<pb::SetAgentStateResponse>, Status> {
        let r = req.into_inner();
        let tenant = parse("tenant_id", TenantId::new(r.tenant_id))?;
        let agent = parse("agent_id", AgentId::new(r.agent_id))?;
        let to = agent_status(r.state)?;
        let previous = self
            .state
            .agent(&tenant, &agent)
            .await
            .map_err(|e| to_status(&e))?;
        self.state
            .set_agent(&tenant, &agent, to)
            .await
            .map_err(|e| to_status(&e))?;
        Ok(Response::new(pb::SetAgentStateResponse {
            previous: agent_state_pb(previous) as i32,
        }))
    }

    async fn get_queue_status(
        &self,
        req: Request<pb::GetQueueStatusRequest>,
    ) -> Result<Response<pb::QueueStatus>, Status> {
        let r = req.into_inner();
        let tenant = parse("tenant_id", TenantId::new(r.tenant_id))?;
        let queue = parse("queue_id", QueueId::new(r.queue_id))?;
        let waiting = self
            .state
            .waiting(&tenant, &queue)
            .await
            .map_err(|e| to_status(&e))?;
        let now_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
            .unwrap_or(0);
        let longest = waiting
            .iter()
            .map(|w| now_ms.saturating_sub(w.joined_at_ms) / 1000)
            .max()
            .unwrap_or(0);
        Ok(Response::new(pb::QueueStatus {
            queue_id: queue.to_string(),
            waiting: u32::try_from(waiting.len()).unwrap_or(u32::MAX),
            longest_wait_seconds: u32::try_from(longest).unwrap_or(u32::MAX),
            ..Default::default()
        }))
    }

    type WatchPositionStream =
        std::pin::Pin<Box<dyn futures::Stream<Item = Result<pb::PositionUpdate, Status>> + Send>>;

    async fn watch_position(
        &self,
        _req: Request<pb::WatchPositionRequest>,
    ) -> Result<Response<Self::WatchPositionStream>, Status> {
        Err(Status::unimplemented(
            "position updates arrive with the routing issue",
        ))
    }
}

/// The routing service, built and bound.
#[derive(Debug)]
pub struct App(StartedService);

impl App {
    /// Binds the listeners; nothing is served until [`App::run_until_stopped`].
    pub async fn build(config: &Config, backends: &Backends) -> Result<Self, StartError> {
        config.validate()?;
        let mut host = ServiceHost::new("routing");
        host.health().add_check(backends.state_check());
        host.health().add_check(backends.bus_check());
        host.add_grpc(pb::routing_service_server::RoutingServiceServer::new(Api {
            state: backends.state.clone(),
        }));
        let listeners = Listeners {
            grpc: config.grpc.clone(),
            ops: config.ops.clone(),
        };
        Ok(Self(listeners.bind("routing", host).await?))
    }
}

hotline_runtime::started_app!(App);

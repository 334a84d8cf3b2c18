//! The `api` service: tenant onboarding and configuration, the public HTTP API, and the
//! configuration every other service reads over gRPC.
//!
//! Serves `ConfigService.ResolveNumber` (which tenant and entry flow a dialled number
//! starts) to the other services, and the public REST API ([`http`]) authenticated by the
//! provider's admin token or a tenant's API keys ([`auth`]), next to `/healthz`,
//! `/readyz` and `/metrics`.

use std::path::PathBuf;
use std::sync::Arc;

pub mod auth;
pub mod calls;
pub mod demo;
pub mod grpc;
pub mod http;
pub mod numbers;
pub mod openapi;
pub mod outbox;
pub mod prompts;
pub mod resources;

use hotline_backends::Backends;
use hotline_proto::v1 as pb;
use hotline_runtime::config::{ListenConfig, Validate};
use hotline_runtime::{Secret, ServiceHost, StartError, StartedService, internal_status};
use hotline_store::{Store, TenantStatus};
use serde::{Deserialize, Serialize};
use tonic::{Request, Response, Status};

/// `[api]` settings. The public HTTP listener is the top-level `[http]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub grpc: ListenConfig,
    /// Consumer group of the call-log projection on the events topic.
    pub consumer_group: String,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            grpc: ListenConfig::new("127.0.0.1", 9106),
            consumer_group: "hotline-api-call-log".into(),
        }
    }
}

impl Validate for Config {
    fn validate(&self) -> Result<(), hotline_runtime::config::ConfigError> {
        if self.consumer_group.trim().is_empty() {
            return Err(hotline_runtime::config::ConfigError::invalid(
                "api.consumer_group",
                "is empty",
            ));
        }
        Ok(())
    }
}

/// Longest dialled number accepted (E.164 allows 15 digits; leave room for a prefix).
const MAX_NUMBER_LEN: usize = 32;

struct ConfigApi {
    store: Arc<dyn Store>,
}

#[tonic::async_trait]
impl pb::config_service_server::ConfigService for ConfigApi {
    async fn resolve_number(
        &self,
        req: Request<pb::ResolveNumberRequest>,
    ) -> Result<Response<pb::ResolveNumberResponse>, Status> {
        let did = req.into_inner().did;
        if did.is_empty()
            || did.len() > MAX_NUMBER_LEN
            || !did
                .chars()
                .enumerate()
                .all(|(i, c)| c.is_ascii_digit() || (i == 0 && c == '+'))
        {
            return Err(Status::invalid_argument(
                "did: expected a phone number of up to 32 digits, optionally starting with '+'",
            ));
        }
        let number = self
            .store
            .resolve_number(&did)
            .await
            .map_err(|e| internal_status("api", &e))?
            .ok_or_else(|| Status::not_found(format!("number {did} belongs to no tenant")))?;
        let tenant = self
            .store
            .tenant(&number.tenant)
            .await
            .map_err(|e| internal_status("api", &e))?
            .ok_or_else(|| Status::not_found("the number's tenant no longer exists"))?;
        Ok(Response::new(pb::ResolveNumberResponse {
            tenant_id: number.tenant.to_string(),
            entry_flow_id: number.entry_flow,
            tenant_status: match tenant.status {
                TenantStatus::Active => pb::tenant::Status::Active,
                TenantStatus::Suspended => pb::tenant::Status::Suspended,
            } as i32,
        }))
    }
}

/// What the api needs beyond its own section: the public listener and the provider's
/// admin token (top-level `http` and `admin_token` settings).
#[derive(Debug, Clone)]
pub struct Public {
    pub http: ListenConfig,
    /// Empty: use (or create and print once) `<data_dir>/admin-token`.
    pub admin_token: Secret,
    pub data_dir: PathBuf,
    /// Create the demo tenant at start and write `<data_dir>/demo.json`.
    pub demo: bool,
}

/// The api service, built and bound.
#[derive(Debug)]
pub struct App(StartedService);

impl App {
    /// Binds gRPC on `config.grpc` and the public HTTP API on `public.http`.
    pub async fn build(
        config: &Config,
        public: &Public,
        backends: &Backends,
    ) -> Result<Self, StartError> {
        config.validate()?;
        let grpc = config.grpc.addr("api.grpc")?;
        let http = public.http.addr("http")?;
        let (admin, fresh) =
            auth::load_or_create_admin_token(&public.admin_token, &public.data_dir).map_err(
                |e| {
                    hotline_runtime::config::ConfigError::invalid(
                        "admin_token",
                        format!(
                            "unset, and {} cannot hold a generated one: {e}",
                            public.data_dir.join("admin-token").display()
                        ),
                    )
                },
            )?;
        if fresh {
            // Printed once, to the terminal rather than the log pipeline, as Jenkins and
            // Argo CD do with their first admin password.
            #[allow(clippy::print_stderr)]
            {
                eprintln!(
                    "\nhotline: generated the provider admin token (kept in {}):\n\n    {}\n",
                    public.data_dir.join("admin-token").display(),
                    admin.expose()
                );
            }
        }
        let mut host = ServiceHost::new("api");
        host.health().add_check(backends.store_check());
        host.health().add_check(backends.objects_check());
        host.health().add_check(backends.bus_check());
        host.add_grpc(pb::config_service_server::ConfigServiceServer::new(
            ConfigApi {
                store: backends.store.clone(),
            },
        ));
        let store = backends.store.clone();
        let publisher =
            hotline_bus::Publisher::new(backends.bus.clone(), backends.topics.events.clone());
        host.spawn("outbox-relay", move |token| {
            outbox::relay(store, publisher, token)
        });
        let consumer_metrics = hotline_bus::ConsumerMetrics::new();
        consumer_metrics.register(host.registry());
        let (store, bus, topic, group) = (
            backends.store.clone(),
            backends.bus.clone(),
            backends.topics.events.clone(),
            config.consumer_group.clone(),
        );
        host.spawn("call-log", move |token| {
            calls::run_projection(store, bus, topic, group, consumer_metrics, token)
        });
        let state = Arc::new(http::ApiState {
            store: backends.store.clone(),
            auth: auth::Authenticator::new(admin, backends.store.clone()),
            objects: backends.objects.clone(),
        });
        if public.demo {
            let info = demo::ensure(&state, &public.data_dir, &public.http.host)
                .await
                .map_err(|e| {
                    hotline_runtime::config::ConfigError::invalid(
                        "demo",
                        format!("cannot create the demo tenant: {}", e.message),
                    )
                })?;
            print_demo(&info, &public.http.addr("http")?, &public.data_dir);
        }
        host.add_grpc(pb::tenant_service_server::TenantServiceServer::new(
            grpc::TenantApi {
                state: state.clone(),
            },
        ));
        host.add_grpc(pb::resource_service_server::ResourceServiceServer::new(
            grpc::ResourceApi {
                state: state.clone(),
            },
        ));
        host.merge_http(http::router(state));
        Ok(Self(host.bind(grpc, Some(http)).await?))
    }
}

/// Tells a newcomer how to use the demo tenant (stderr, once at start).
#[allow(clippy::print_stderr)]
fn print_demo(info: &demo::DemoInfo, http: &std::net::SocketAddr, data_dir: &std::path::Path) {
    let agent = info.agents.first();
    eprintln!(
        "\nhotline: demo tenant {tenant:?} is ready (details in {file})\n\
         \n  number:     {number} (SIP on {domain}:5060 arrives with the SIP work)\n\
         \n  agent:      {user} / {pass} (register a softphone to {domain})\n\
         \n  API:        curl -H 'Authorization: Bearer {key}' http://{http}/v1/queues\n",
        tenant = info.tenant_id,
        file = data_dir.join("demo.json").display(),
        number = info.number,
        domain = info.sip_domain,
        user = agent.map_or("", |a| a.sip_username.as_str()),
        pass = agent.map_or("", |a| a.sip_password.as_str()),
        key = info.api_key,
    );
}

hotline_runtime::started_app!(App);

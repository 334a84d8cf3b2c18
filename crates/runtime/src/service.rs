//! The host every service runs in: a gRPC server (the service's own APIs plus standard
//! health and reflection, so `grpcurl` works), an HTTP server (`/healthz`, `/readyz`,
//! `/metrics`, and any routes the service adds), and the service's background tasks
//! (event consumers), all stopped by one shutdown token.
//!
//! [`ServiceHost::bind`] binds both listeners before anything is served, so a test can
//! bind port 0 and read the ports it got from [`StartedService`].

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use futures::future::BoxFuture;
use prometheus_client::registry::Registry;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tonic::server::NamedService;
use tonic::service::RoutesBuilder;

use crate::health::{Health, Readiness};
use crate::metrics::{self, MetricsRegistry};

/// How often gRPC health is refreshed from the readiness checks.
const HEALTH_REFRESH: Duration = Duration::from_secs(2);

/// What the all-in-one binary needs of a service to aggregate `/readyz` and `/metrics`.
#[derive(Debug, Clone)]
pub struct ServiceOps {
    pub name: String,
    pub health: Health,
    pub metrics: MetricsRegistry,
}

type TaskFn = Box<dyn FnOnce(CancellationToken) -> BoxFuture<'static, Result<(), String>> + Send>;

/// Errors of serving.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("cannot bind {what} listener on {addr}: {source}")]
    Bind {
        what: &'static str,
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("grpc server: {0}")]
    Grpc(#[from] tonic::transport::Error),
    #[error("http server: {0}")]
    Http(std::io::Error),
    #[error("grpc reflection: {0}")]
    Reflection(#[from] tonic_reflection::server::Error),
    #[error("background task {name} failed: {message}")]
    Task { name: String, message: String },
}

/// A service being assembled: its APIs, checks, metrics and tasks.
pub struct ServiceHost {
    name: String,
    health: Health,
    registry: Registry,
    routes: RoutesBuilder,
    grpc_names: Vec<&'static str>,
    descriptor_sets: Vec<&'static [u8]>,
    http: Router,
    tasks: Vec<(String, TaskFn)>,
}

impl std::fmt::Debug for ServiceHost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceHost")
            .field("name", &self.name)
            .field("grpc", &self.grpc_names)
            .finish_non_exhaustive()
    }
}

impl ServiceHost {
    /// A host for service `name` (`routing`, `crm`…); its metrics are `hotline_<name>_…`.
    pub fn new(name: &str) -> Self {
        let mut registry = metrics::registry_for(name);
        registry.register(
            "build",
            "Build information of the running service",
            prometheus_client::metrics::info::Info::new(vec![(
                "version",
                env!("CARGO_PKG_VERSION"),
            )]),
        );
        Self {
            name: name.to_owned(),
            health: Health::new(name),
            registry,
            routes: RoutesBuilder::default(),
            grpc_names: Vec::new(),
            descriptor_sets: vec![hotline_descriptor()],
            http: Router::new(),
            tasks: Vec::new(),
        }
    }

    /// The service's health, to add readiness checks to.
    pub fn health(&self) -> &Health {
        &self.health
    }

    /// The service's metric registry (prefixed `hotline_<name>`).
    pub fn registry(&mut self) -> &mut Registry {
        &mut self.registry
    }

    /// Serves a gRPC service; its health is reported under its full name.
    pub fn add_grpc<S>(&mut self, svc: S)
    where
        S: tower::Service<
                http::Request<tonic::body::Body>,
                Response = http::Response<tonic::body::Body>,
                Error = Infallible,
            > + NamedService
            + Clone
            + Send
            + Sync
            + 'static,
        S::Future: Send + 'static,
    {
        self.grpc_names.push(S::NAME);
        self.routes.add_service(svc);
    }

    /// Adds HTTP routes next to the operational ones (the API's REST endpoints).
    pub fn merge_http(&mut self, router: Router) {
        self.http = std::mem::take(&mut self.http).merge(router);
    }

    /// Runs `task` while the service runs; it gets a token cancelled at shutdown and
    /// should return promptly after it fires. A task that fails stops the service.
    pub fn spawn<F, Fut>(&mut self, name: &str, task: F)
    where
        F: FnOnce(CancellationToken) -> Fut + Send + 'static,
        Fut: std::future::Future<Output = Result<(), String>> + Send + 'static,
    {
        self.tasks
            .push((name.to_owned(), Box::new(move |t| Box::pin(task(t)))));
    }

    /// Binds the gRPC and (optionally) HTTP listeners.
    pub async fn bind(
        self,
        grpc: SocketAddr,
        http: Option<SocketAddr>,
    ) -> Result<StartedService, ServeError> {
        let grpc_listener = TcpListener::bind(grpc)
            .await
            .map_err(|source| ServeError::Bind {
                what: "grpc",
                addr: grpc,
                source,
            })?;
        let http_listener = match http {
            Some(addr) => {
                Some(
                    TcpListener::bind(addr)
                        .await
                        .map_err(|source| ServeError::Bind {
                            what: "http",
                            addr,
                            source,
                        })?,
                )
            }
            None => None,
        };
        let grpc_addr = grpc_listener
            .local_addr()
            .map_err(|source| ServeError::Bind {
                what: "grpc",
                addr: grpc,
                source,
            })?;
        let http_addr = match &http_listener {
            Some(l) => Some(l.local_addr().map_err(ServeError::Http)?),
            None => None,
        };
        let ops = ServiceOps {
            name: self.name.clone(),
            health: self.health.clone(),
            metrics: Arc::new(self.registry),
        };
        Ok(StartedService {
            grpc_listener,
            http_listener,
            grpc_addr,
            http_addr,
            ops,
            peers: Vec::new(),
            routes: self.routes,
            grpc_names: self.grpc_names,
            descriptor_sets: self.descriptor_sets,
            http: self.http,
            tasks: self.tasks,
        })
    }
}

fn hotline_descriptor() -> &'static [u8] {
    hotline_proto::FILE_DESCRIPTOR_SET
}

/// A service with its listeners bound, ready to serve.
pub struct StartedService {
    grpc_listener: TcpListener,
    http_listener: Option<TcpListener>,
    grpc_addr: SocketAddr,
    http_addr: Option<SocketAddr>,
    ops: ServiceOps,
    peers: Vec<ServiceOps>,
    routes: RoutesBuilder,
    grpc_names: Vec<&'static str>,
    descriptor_sets: Vec<&'static [u8]>,
    http: Router,
    tasks: Vec<(String, TaskFn)>,
}

impl std::fmt::Debug for StartedService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StartedService")
            .field("name", &self.ops.name)
            .field("grpc_addr", &self.grpc_addr)
            .field("http_addr", &self.http_addr)
            .finish_non_exhaustive()
    }
}

#[derive(Clone)]
struct OpsState {
    all: Arc<Vec<ServiceOps>>,
}

impl StartedService {
    /// Where gRPC is served.
    pub fn grpc_addr(&self) -> SocketAddr {
        self.grpc_addr
    }

    /// Where HTTP is served, when it is.
    pub fn http_addr(&self) -> Option<SocketAddr> {
        self.http_addr
    }

    /// The service's health and metrics, for aggregation.
    pub fn ops(&self) -> ServiceOps {
        self.ops.clone()
    }

    /// Makes this service's `/readyz` and `/metrics` also cover `peers` (the all-in-one
    /// binary's public HTTP port answers for every service).
    pub fn aggregate(&mut self, peers: Vec<ServiceOps>) {
        self.peers.extend(peers);
    }

    /// Serves until `shutdown` fires, then reports not-serving, stops accepting, lets
    /// in-flight requests and background tasks finish, and returns. Bound the drain from
    /// outside with [`crate::shutdown::drain_within`].
    pub async fn run_until_stopped(self, shutdown: CancellationToken) -> Result<(), ServeError> {
        let Self {
            grpc_listener,
            http_listener,
            ops,
            peers,
            mut routes,
            grpc_names,
            descriptor_sets,
            http,
            tasks,
            ..
        } = self;

        let (reporter, health_svc) = tonic_health::server::health_reporter();
        routes.add_service(health_svc);
        let mut reflection = tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET);
        for fds in descriptor_sets {
            reflection = reflection.register_encoded_file_descriptor_set(fds);
        }
        routes.add_service(reflection.build_v1()?);

        let health_task = tokio::spawn(report_grpc_health(
            reporter,
            ops.health.clone(),
            grpc_names,
            shutdown.clone(),
        ));

        let service_name = ops.name.clone();
        let grpc = tonic::transport::Server::builder()
            .layer(
                tower_http::trace::TraceLayer::new_for_grpc().make_span_with(
                    move |req: &http::Request<tonic::body::Body>| {
                        crate::tracecontext::server_span(&service_name, req)
                    },
                ),
            )
            .add_routes(routes.routes())
            .serve_with_incoming_shutdown(
                tokio_stream::wrappers::TcpListenerStream::new(grpc_listener),
                shutdown.clone().cancelled_owned(),
            );

        let mut all = vec![ops.clone()];
        all.extend(peers);
        let router = http.merge(ops_router(all));
        let http_fut = async {
            match http_listener {
                Some(l) => axum::serve(l, router)
                    .with_graceful_shutdown(shutdown.clone().cancelled_owned())
                    .await
                    .map_err(ServeError::Http),
                None => Ok(()),
            }
        };

        let mut handles = Vec::new();
        for (name, task) in tasks {
            let token = shutdown.child_token();
            handles.push((name, tokio::spawn(task(token))));
        }
        // A failed background task stops the whole service: a consumer that cannot
        // consume must not leave a process that looks healthy.
        let tasks_fut = async {
            let mut first_err = None;
            let mut pending: futures::stream::FuturesUnordered<_> = handles
                .into_iter()
                .map(|(name, h)| async move { (name, h.await) })
                .collect();
            use futures::StreamExt;
            while let Some((name, res)) = pending.next().await {
                let err = match res {
                    Ok(Ok(())) => None,
                    Ok(Err(message)) => Some(ServeError::Task { name, message }),
                    Err(join) => Some(ServeError::Task {
                        name,
                        message: join.to_string(),
                    }),
                };
                if let Some(e) = err {
                    tracing::error!(service = %ops.name, error = %e, "background task failed");
                    if !shutdown.is_cancelled() {
                        shutdown.cancel();
                    }
                    first_err.get_or_insert(e);
                }
            }
            first_err.map_or(Ok(()), Err)
        };

        let mark = async {
            shutdown.cancelled().await;
            ops.health.set_shutting_down();
        };
        let (grpc_res, http_res, tasks_res, ()) = tokio::join!(grpc, http_fut, tasks_fut, mark);
        health_task.abort();
        tracing::info!(service = %ops.name, "stopped");
        tasks_res?;
        grpc_res?;
        http_res
    }
}

async fn report_grpc_health(
    reporter: tonic_health::server::HealthReporter,
    health: Health,
    names: Vec<&'static str>,
    shutdown: CancellationToken,
) {
    use tonic_health::ServingStatus;
    loop {
        let ready = health.readiness().await.ready;
        let status = if ready {
            ServingStatus::Serving
        } else {
            ServingStatus::NotServing
        };
        reporter.set_service_status("", status).await;
        for n in &names {
            reporter.set_service_status(*n, status).await;
        }
        tokio::select! {
            () = tokio::time::sleep(HEALTH_REFRESH) => {}
            () = shutdown.cancelled() => {
                reporter.set_service_status("", ServingStatus::NotServing).await;
                for n in &names {
                    reporter.set_service_status(*n, ServingStatus::NotServing).await;
                }
                return;
            }
        }
    }
}

fn ops_router(all: Vec<ServiceOps>) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics_handler))
        .with_state(OpsState { all: Arc::new(all) })
}

async fn readyz(State(s): State<OpsState>) -> Response {
    let results: Vec<Readiness> =
        futures::future::join_all(s.all.iter().map(|o| o.health.readiness())).await;
    let ready = results.iter().all(|r| r.ready);
    let body = serde_json::json!({
        "status": if ready { "ready" } else { "not ready" },
        "services": results.iter().map(|r| serde_json::json!({
            "service": r.service,
            "ready": r.ready,
            "shutting_down": r.shutting_down,
            "checks": r.checks.iter().map(|(n, o)| (n.clone(), serde_json::Value::String(o.clone()))).collect::<serde_json::Map<_, _>>(),
        })).collect::<Vec<_>>(),
    });
    let code = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (code, axum::Json(body)).into_response()
}

async fn metrics_handler(State(s): State<OpsState>) -> Response {
    let regs: Vec<&Registry> = s.all.iter().map(|o| o.metrics.as_ref()).collect();
    (
        [(
            http::header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        metrics::encode(&regs),
    )
        .into_response()
}

/// Why a service could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    #[error(transparent)]
    Serve(#[from] ServeError),
}

/// The two listeners of a service: gRPC (its API) and ops (health, readiness, metrics).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Listeners {
    pub grpc: crate::config::ListenConfig,
    pub ops: crate::config::ListenConfig,
}

impl Listeners {
    /// Both on loopback with the given ports.
    pub fn local(grpc_port: u16, ops_port: u16) -> Self {
        Self {
            grpc: crate::config::ListenConfig::new("127.0.0.1", grpc_port),
            ops: crate::config::ListenConfig::new("127.0.0.1", ops_port),
        }
    }

    /// Both on loopback, port 0 (tests).
    pub fn ephemeral() -> Self {
        Self::local(0, 0)
    }

    /// Binds `host` for `service` (`[<service>.grpc]`, `[<service>.ops]`).
    pub async fn bind(
        &self,
        service: &str,
        host: ServiceHost,
    ) -> Result<StartedService, StartError> {
        let grpc = self.grpc.addr(&format!("{service}.grpc"))?;
        let ops = self.ops.addr(&format!("{service}.ops"))?;
        Ok(host.bind(grpc, Some(ops)).await?)
    }
}

/// Logs an internal error with its cause chain and turns it into an opaque gRPC status;
/// the one place a service's unexpected failures become `INTERNAL`.
pub fn internal_status(service: &str, err: &(dyn std::error::Error + 'static)) -> tonic::Status {
    let mut chain = err.to_string();
    let mut cur = err.source();
    while let Some(c) = cur {
        chain.push_str(": ");
        chain.push_str(&c.to_string());
        cur = c.source();
    }
    tracing::error!(service, error = %chain, "internal error");
    tonic::Status::internal("internal error")
}

/// Gives a service's `App(StartedService)` newtype its common surface: `Deref` to the
/// [`StartedService`] (ports, ops, aggregation) and `run_until_stopped`.
#[macro_export]
macro_rules! started_app {
    ($app:ident) => {
        impl $app {
            /// Serves until `shutdown` fires, then drains and returns.
            pub async fn run_until_stopped(
                self,
                shutdown: $crate::shutdown::CancellationToken,
            ) -> Result<(), $crate::StartError> {
                Ok(self.0.run_until_stopped(shutdown).await?)
            }
        }

        impl ::std::ops::Deref for $app {
            type Target = $crate::StartedService;
            fn deref(&self) -> &$crate::StartedService {
                &self.0
            }
        }

        impl ::std::ops::DerefMut for $app {
            fn deref_mut(&mut self) -> &mut $crate::StartedService {
                &mut self.0
            }
        }
    };
}

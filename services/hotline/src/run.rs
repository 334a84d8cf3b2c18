//! Starting one service, or all of them, and stopping them within the grace period.

use std::time::Duration;

use anyhow::Context;
use futures::future::BoxFuture;
use hotline_backends::Backends;
use hotline_runtime::StartError;
use hotline_runtime::shutdown::{self, CancellationToken};

use crate::Command;
use crate::config::HotlineConfig;

/// The process name of a command, for logs and traces.
pub fn name(cmd: &Command) -> &'static str {
    match cmd {
        Command::AllInOne { .. } => "all-in-one",
        Command::Ingress => "ingress",
        Command::Routing => "routing",
        Command::Recording => "recording",
        Command::Crm => "crm",
        Command::Analytics => "analytics",
        Command::Api => "api",
        Command::Operator => "operator",
        Command::CheckConfig => "check-config",
        Command::DefaultConfig => "default-config",
    }
}

/// Whether `cmd` runs one service on shared backends (so in-process ones cannot serve).
pub fn is_standalone(cmd: &Command) -> bool {
    matches!(
        cmd,
        Command::Ingress
            | Command::Routing
            | Command::Recording
            | Command::Crm
            | Command::Analytics
            | Command::Api
    )
}

type Running = BoxFuture<'static, Result<(), StartError>>;

/// Runs `cmd` until SIGTERM/SIGINT, then drains within the grace period.
pub async fn run(cmd: Command, cfg: HotlineConfig) -> anyhow::Result<()> {
    let shutdown = shutdown::on_signal();
    let grace = Duration::from_secs(cfg.grace_period_seconds);
    let services = match cmd {
        Command::AllInOne { demo, .. } => all_in_one(&cfg, demo, &shutdown).await?,
        Command::Operator => {
            let app = hotline_operator::App::build(&cfg.operator).await?;
            tracing::info!(grpc = %app.grpc_addr(), ops = ?app.http_addr(), "operator started");
            vec![Box::pin(app.run_until_stopped(shutdown.clone())) as Running]
        }
        one => standalone(one, &cfg, &shutdown).await?,
    };
    let all = futures::future::try_join_all(services);
    match shutdown::drain_within(&shutdown, grace, all).await {
        Some(Ok(_)) => {
            tracing::info!("stopped cleanly");
            Ok(())
        }
        Some(Err(e)) => Err(e.into()),
        None => anyhow::bail!("services did not drain within {grace:?}; exiting anyway"),
    }
}

async fn standalone(
    cmd: Command,
    cfg: &HotlineConfig,
    shutdown: &CancellationToken,
) -> anyhow::Result<Vec<Running>> {
    let backends_cfg = cfg.backends();
    backends_cfg.validate_for_standalone("")?;
    let client_id = format!("hotline-{}", name(&cmd));
    let backends = Backends::connect(&backends_cfg, &cfg.data_dir(), &client_id)
        .await
        .context("connecting backends")?;
    let s = shutdown.clone();
    let running: Running = match cmd {
        Command::Ingress => Box::pin(
            hotline_ingress::App::build(&cfg.ingress, &backends)
                .await?
                .run_until_stopped(s),
        ),
        Command::Routing => Box::pin(
            hotline_routing::App::build(&cfg.routing, &backends)
                .await?
                .run_until_stopped(s),
        ),
        Command::Recording => Box::pin(
            hotline_recording::App::build(&cfg.recording, &backends)
                .await?
                .run_until_stopped(s),
        ),
        Command::Crm => Box::pin(
            hotline_crm::App::build(&cfg.crm, &backends)
                .await?
                .run_until_stopped(s),
        ),
        Command::Analytics => Box::pin(
            hotline_analytics::App::build(&cfg.analytics, &backends)
                .await?
                .run_until_stopped(s),
        ),
        Command::Api => Box::pin(
            hotline_api::App::build(&cfg.api, &cfg.api_public(), &backends)
                .await?
                .run_until_stopped(s),
        ),
        Command::AllInOne { .. }
        | Command::Operator
        | Command::CheckConfig
        | Command::DefaultConfig => {
            anyhow::bail!("{} is not a standalone service", name(&cmd))
        }
    };
    tracing::info!(service = name(&cmd), "started");
    Ok(vec![running])
}

/// Every service in this process, sharing one set of backends; the api's public HTTP
/// port answers `/readyz` and `/metrics` for all of them.
async fn all_in_one(
    cfg: &HotlineConfig,
    demo: bool,
    shutdown: &CancellationToken,
) -> anyhow::Result<Vec<Running>> {
    let data_dir = cfg.data_dir();
    std::fs::create_dir_all(&data_dir)
        .with_context(|| format!("creating data directory {}", data_dir.display()))?;
    let backends = Backends::connect(&cfg.backends(), &data_dir, "hotline-all-in-one")
        .await
        .context("connecting backends")?;

    let mut public = cfg.api_public();
    public.demo = demo;
    let mut api = hotline_api::App::build(&cfg.api, &public, &backends).await?;
    let mut operator_cfg = cfg.operator.clone();
    operator_cfg.api_endpoint = format!("http://{}", api.grpc_addr());
    let ingress = hotline_ingress::App::build(&cfg.ingress, &backends).await?;
    let routing = hotline_routing::App::build(&cfg.routing, &backends).await?;
    let recording = hotline_recording::App::build(&cfg.recording, &backends).await?;
    let crm = hotline_crm::App::build(&cfg.crm, &backends).await?;
    let analytics = hotline_analytics::App::build(&cfg.analytics, &backends).await?;
    let operator = hotline_operator::App::build(&operator_cfg).await?;
    api.aggregate(vec![
        ingress.ops(),
        routing.ops(),
        recording.ops(),
        crm.ops(),
        analytics.ops(),
        operator.ops(),
    ]);
    tracing::info!(
        http = ?api.http_addr(),
        api = %api.grpc_addr(),
        ingress = %ingress.grpc_addr(),
        routing = %routing.grpc_addr(),
        recording = %recording.grpc_addr(),
        crm = %crm.grpc_addr(),
        analytics = %analytics.grpc_addr(),
        operator = %operator.grpc_addr(),
        data_dir = %data_dir.display(),
        "hotline all-in-one started"
    );
    let s = shutdown;
    Ok(vec![
        Box::pin(api.run_until_stopped(s.clone())),
        Box::pin(ingress.run_until_stopped(s.clone())),
        Box::pin(routing.run_until_stopped(s.clone())),
        Box::pin(recording.run_until_stopped(s.clone())),
        Box::pin(crm.run_until_stopped(s.clone())),
        Box::pin(analytics.run_until_stopped(s.clone())),
        Box::pin(operator.run_until_stopped(s.clone())),
    ])
}

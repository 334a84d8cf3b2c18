//! Every service started on port 0 on real backends and called with its real client.

use std::net::SocketAddr;
use std::time::Duration;

use hotline_core::events::payload::CallOffered;
use hotline_core::{AgentId, CallId, Event, Payload, QueueId, TenantId};
use hotline_proto::v1 as pb;
use hotline_runtime::Listeners;
use hotline_runtime::config::ListenConfig;
use hotline_state::{AgentStatus, ReserveOutcome, Waiting};
use hotline_tests::TestBackends;
use tokio_util::sync::CancellationToken;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

type Running = tokio::task::JoinHandle<Result<(), hotline_runtime::StartError>>;

struct Started {
    name: &'static str,
    grpc: SocketAddr,
    ops: SocketAddr,
    handle: Running,
}

fn eph() -> ListenConfig {
    ListenConfig::new("127.0.0.1", 0)
}

/// The api's public side on port 0, with a known admin token.
fn public(b: &TestBackends) -> hotline_api::Public {
    hotline_api::Public {
        http: eph(),
        admin_token: hotline_runtime::Secret::new("test-admin-token"),
        data_dir: b.dir.path().to_owned(),
        demo: false,
    }
}

/// Builds and runs all seven services on `b`, every listener on port 0.
async fn start_all(b: &TestBackends, token: &CancellationToken) -> anyhow::Result<Vec<Started>> {
    let bk = &b.backends;
    let l = Listeners::ephemeral();
    let mut out = Vec::new();
    let api = hotline_api::App::build(
        &hotline_api::Config {
            grpc: eph(),
            consumer_group: format!("api-{}", hotline_tests::unique()),
        },
        &public(b),
        bk,
    )
    .await?;
    let api_grpc = api.grpc_addr();
    macro_rules! start {
        ($name:literal, $app:expr) => {{
            let app = $app;
            out.push(Started {
                name: $name,
                grpc: app.grpc_addr(),
                ops: app.http_addr().expect("ops listener"),
                handle: tokio::spawn(app.run_until_stopped(token.clone())),
            });
        }};
    }
    start!("api", api);
    start!(
        "ingress",
        hotline_ingress::App::build(
            &hotline_ingress::Config {
                grpc: l.grpc.clone(),
                ops: l.ops.clone()
            },
            bk
        )
        .await?
    );
    start!(
        "routing",
        hotline_routing::App::build(
            &hotline_routing::Config {
                grpc: l.grpc.clone(),
                ops: l.ops.clone()
            },
            bk
        )
        .await?
    );
    start!(
        "recording",
        hotline_recording::App::build(
            &hotline_recording::Config {
                grpc: l.grpc.clone(),
                ops: l.ops.clone()
            },
            bk
        )
        .await?
    );
    start!(
        "crm",
        hotline_crm::App::build(
            &hotline_crm::Config {
                grpc: l.grpc.clone(),
                ops: l.ops.clone()
            },
            bk
        )
        .await?
    );
    start!(
        "analytics",
        hotline_analytics::App::build(
            &hotline_analytics::Config {
                grpc: l.grpc.clone(),
                ops: l.ops.clone(),
                consumer_group: format!("analytics-{}", hotline_tests::unique()),
                dedup_window: 1000,
            },
            bk
        )
        .await?
    );
    start!(
        "operator",
        hotline_operator::App::build(&hotline_operator::Config {
            grpc: l.grpc.clone(),
            ops: l.ops.clone(),
            api_endpoint: format!("http://{api_grpc}"),
        })
        .await?
    );
    Ok(out)
}

async fn grpc_status(addr: SocketAddr, service: &str) -> anyhow::Result<i32> {
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))?
        .connect()
        .await?;
    let mut client = HealthClient::new(channel);
    let resp = client
        .check(tonic_health::pb::HealthCheckRequest {
            service: service.to_owned(),
        })
        .await?;
    Ok(resp.into_inner().status)
}

/// Polls until `f` holds or 15 s pass.
async fn eventually<F, Fut>(what: &str, mut f: F) -> anyhow::Result<()>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..150 {
        if f().await {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    anyhow::bail!("timed out waiting for {what}")
}

async fn get(addr: SocketAddr, path: &str) -> anyhow::Result<(u16, String)> {
    let resp = reqwest::get(format!("http://{addr}{path}")).await?;
    Ok((resp.status().as_u16(), resp.text().await?))
}

async fn check_all_serve(b: TestBackends) -> anyhow::Result<()> {
    let token = CancellationToken::new();
    let started = start_all(&b, &token).await?;
    for s in &started {
        eventually(&format!("{} gRPC health SERVING", s.name), || async {
            grpc_status(s.grpc, "").await.ok() == Some(ServingStatus::Serving as i32)
        })
        .await?;
        let (code, body) = get(s.ops, "/readyz").await?;
        assert_eq!(code, 200, "{} /readyz: {body}", s.name);
        let (code, _) = get(s.ops, "/healthz").await?;
        assert_eq!(code, 200);
        let (code, metrics) = get(s.ops, "/metrics").await?;
        assert_eq!(code, 200);
        let want = format!("hotline_{}_build_info{{version=", s.name);
        assert!(
            metrics.contains(&want),
            "{} metrics lack {want}: {metrics}",
            s.name
        );
        assert!(metrics.ends_with("# EOF\n"));
    }
    // Reflection works, so grpcurl can list the services.
    let routing = started
        .iter()
        .find(|s| s.name == "routing")
        .expect("routing");
    assert_eq!(
        grpc_status(routing.grpc, "hotline.v1.RoutingService").await?,
        ServingStatus::Serving as i32
    );

    token.cancel();
    for s in started {
        let r = tokio::time::timeout(Duration::from_secs(15), s.handle).await;
        assert!(
            matches!(r, Ok(Ok(Ok(())))),
            "{} did not stop cleanly: {r:?}",
            s.name
        );
    }
    b.cleanup().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_service_answers_health_readiness_and_metrics_on_real_backends() -> anyhow::Result<()>
{
    check_all_serve(TestBackends::real().await?).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_service_answers_health_readiness_and_metrics_on_embedded_backends()
-> anyhow::Result<()> {
    check_all_serve(TestBackends::embedded().await?).await
}

#[tokio::test]
async fn readiness_names_the_dependency_that_does_not_answer() -> anyhow::Result<()> {
    // Nothing listens on a port we bound and released.
    let dead = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?;
    let l = Listeners::ephemeral();
    let app = hotline_operator::App::build(&hotline_operator::Config {
        grpc: l.grpc,
        ops: l.ops,
        api_endpoint: format!("http://{dead}"),
    })
    .await?;
    let ops = app.http_addr().expect("ops");
    let grpc = app.grpc_addr();
    let token = CancellationToken::new();
    let h = tokio::spawn(app.run_until_stopped(token.clone()));
    let (code, body) = get(ops, "/readyz").await?;
    assert_eq!(code, 503, "{body}");
    assert!(body.contains("\"api\""), "{body}");
    eventually("gRPC health NOT_SERVING", || async {
        grpc_status(grpc, "").await.ok() == Some(ServingStatus::NotServing as i32)
    })
    .await?;
    token.cancel();
    h.await??;
    Ok(())
}

fn offered(tenant: &TenantId) -> Event {
    Event::new(
        tenant.clone(),
        Some(CallId::generate()),
        Payload::CallOffered(CallOffered {
            caller: "+15550001".into(),
            did: "+15550100".into(),
            entry_flow_id: "main".into(),
            ..Default::default()
        }),
    )
}

async fn counts(addr: SocketAddr, tenant: &TenantId) -> anyhow::Result<pb::EventCounts> {
    let mut c =
        pb::analytics_service_client::AnalyticsServiceClient::connect(format!("http://{addr}"))
            .await?;
    Ok(c.get_event_counts(pb::GetEventCountsRequest {
        tenant_id: tenant.to_string(),
    })
    .await?
    .into_inner())
}

/// analytics consumes from Kafka, drops a redelivered event, keeps tenants apart, and
/// parks broken records on the dead-letter topic without stopping.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn analytics_consumes_events_dedups_isolates_tenants_and_parks_bad_records()
-> anyhow::Result<()> {
    let b = TestBackends::real().await?;
    let bk = &b.backends;
    let l = Listeners::ephemeral();
    let app = hotline_analytics::App::build(
        &hotline_analytics::Config {
            grpc: l.grpc,
            ops: l.ops,
            consumer_group: format!("analytics-{}", hotline_tests::unique()),
            dedup_window: 1000,
        },
        bk,
    )
    .await?;
    let (grpc, ops): (SocketAddr, SocketAddr) = (app.grpc_addr(), app.http_addr().expect("ops"));
    let token = CancellationToken::new();
    let h = tokio::spawn(app.run_until_stopped(token.clone()));

    let a = TenantId::new(format!("a-{}", hotline_tests::unique()))?;
    let bt = TenantId::new(format!("b-{}", hotline_tests::unique()))?;
    let publisher = hotline_bus::Publisher::new(bk.bus.clone(), bk.topics.events.clone());
    let e1 = offered(&a);
    publisher.publish(&e1).await?;
    publisher.publish(&e1).await?; // a redelivery: same event id
    publisher.publish(&offered(&a)).await?;
    publisher.publish(&offered(&bt)).await?;

    // Garbage bytes, and a well-formed envelope of a schema this build does not know.
    bk.bus
        .publish(hotline_bus::Record {
            topic: bk.topics.events.clone(),
            key: "junk".into(),
            payload: bytes::Bytes::from_static(b"\xff\x00not protobuf"),
            headers: vec![],
        })
        .await?;
    let mut future = pb::Envelope::from(offered(&a));
    future.schema_version = 99;
    bk.bus
        .publish(hotline_bus::Record {
            topic: bk.topics.events.clone(),
            key: "future".into(),
            payload: prost::Message::encode_to_vec(&future).into(),
            headers: vec![],
        })
        .await?;
    // The consumer goes on after them.
    publisher.publish(&offered(&a)).await?;

    eventually("tenant A's three distinct events counted", || async {
        counts(grpc, &a)
            .await
            .map(|c| c.by_type.get("CallOffered") == Some(&3))
            .unwrap_or(false)
    })
    .await?;
    // Records travel on several partitions: B's may come after all of A's.
    eventually("tenant B's event counted", || async {
        counts(grpc, &bt)
            .await
            .map(|c| c.by_type.get("CallOffered") == Some(&1))
            .unwrap_or(false)
    })
    .await?;
    let stranger = TenantId::new("c-nobody")?;
    assert!(counts(grpc, &stranger).await?.by_type.is_empty());

    let parked_of = |metrics: &str| -> u64 {
        metrics
            .lines()
            .filter(|l| l.starts_with("hotline_analytics_bus_events_dead_lettered_total"))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
            .sum()
    };
    eventually(
        "both bad records parked and the redelivery dropped",
        || async {
            get(ops, "/metrics").await.is_ok_and(|(_, m)| {
                parked_of(&m) == 2 && m.contains("hotline_analytics_events_duplicate_total 1")
            })
        },
    )
    .await?;
    let (_, metrics) = get(ops, "/metrics").await?;
    let parked: u64 = metrics
        .lines()
        .filter(|l| l.starts_with("hotline_analytics_bus_events_dead_lettered_total"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        .sum();
    assert_eq!(parked, 2, "{metrics}");
    assert!(
        metrics.contains("hotline_analytics_events_duplicate_total 1"),
        "{metrics}"
    );

    // The parked records are on the dead-letter topic, with their original bytes.
    let dlq = hotline_bus::dead_letter_topic(&bk.topics.events);
    let mut sub = bk
        .bus
        .subscribe(&format!("dlq-reader-{}", hotline_tests::unique()), &[dlq])
        .await?;
    let mut payloads = Vec::new();
    for _ in 0..2 {
        let d = tokio::time::timeout(Duration::from_secs(20), sub.next()).await??;
        assert!(d.header(hotline_bus::HEADER_DLQ_REASON).is_some());
        payloads.push(d.payload.to_vec());
    }
    assert!(payloads.contains(&b"\xff\x00not protobuf".to_vec()));

    // Bad input over gRPC gets a specific error.
    let mut c =
        pb::analytics_service_client::AnalyticsServiceClient::connect(format!("http://{grpc}"))
            .await?;
    let err = c
        .get_event_counts(pb::GetEventCountsRequest {
            tenant_id: "{bad}".into(),
        })
        .await
        .expect_err("bad tenant id");
    assert_eq!(err.code(), tonic::Code::InvalidArgument);
    assert!(err.message().contains("tenant_id"));

    token.cancel();
    h.await??;
    drop(sub);
    b.cleanup().await
}

/// routing's fencing check over gRPC, on Redis: only the current token of the tenant's
/// own reservation confirms.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn routing_confirms_only_the_current_fencing_token_of_the_same_tenant() -> anyhow::Result<()>
{
    let b = TestBackends::real().await?;
    let bk = &b.backends;
    let l = Listeners::ephemeral();
    let app = hotline_routing::App::build(
        &hotline_routing::Config {
            grpc: l.grpc,
            ops: l.ops,
        },
        bk,
    )
    .await?;
    let grpc = app.grpc_addr();
    let token = CancellationToken::new();
    let h = tokio::spawn(app.run_until_stopped(token.clone()));
    let mut client =
        pb::routing_service_client::RoutingServiceClient::connect(format!("http://{grpc}")).await?;

    let a = TenantId::new(format!("a-{}", hotline_tests::unique()))?;
    let other = TenantId::new(format!("b-{}", hotline_tests::unique()))?;
    let agent = AgentId::new("agent-1")?;
    let queue = QueueId::new("support")?;
    let call = CallId::generate();

    let prev = client
        .set_agent_state(pb::SetAgentStateRequest {
            tenant_id: a.to_string(),
            agent_id: agent.to_string(),
            state: pb::AgentState::Available as i32,
            reason: String::new(),
        })
        .await?
        .into_inner();
    assert_eq!(prev.previous, pb::AgentState::LoggedOut as i32);
    bk.state
        .enqueue(
            &a,
            &queue,
            Waiting {
                call: call.clone(),
                priority: 0,
                joined_at_ms: 0,
            },
        )
        .await?;
    let status = client
        .get_queue_status(pb::GetQueueStatusRequest {
            tenant_id: a.to_string(),
            queue_id: queue.to_string(),
        })
        .await?
        .into_inner();
    assert_eq!(status.waiting, 1);
    let ReserveOutcome::Reserved(fence) =
        bk.state.reserve(&a, &queue, &call, &agent, 30_000).await?
    else {
        anyhow::bail!("reservation not taken");
    };

    let confirm = |tenant: &TenantId, token: u64| pb::ConfirmReservationRequest {
        tenant_id: tenant.to_string(),
        call_id: call.to_string(),
        reservation_id: "r1".into(),
        fencing_token: token,
        agent_id: agent.to_string(),
    };
    let stale = client.confirm_reservation(confirm(&a, fence - 1)).await;
    assert_eq!(
        stale.expect_err("stale").code(),
        tonic::Code::FailedPrecondition
    );
    let foreign = client.confirm_reservation(confirm(&other, fence)).await;
    assert_eq!(
        foreign.expect_err("other tenant").code(),
        tonic::Code::FailedPrecondition
    );
    client.confirm_reservation(confirm(&a, fence)).await?;
    assert_eq!(bk.state.agent(&a, &agent).await?, AgentStatus::OnCall);

    let bad = client
        .set_agent_state(pb::SetAgentStateRequest {
            tenant_id: a.to_string(),
            agent_id: agent.to_string(),
            state: pb::AgentState::OnCall as i32,
            reason: String::new(),
        })
        .await
        .expect_err("on-call is not settable");
    assert_eq!(bad.code(), tonic::Code::InvalidArgument);

    token.cancel();
    h.await??;
    b.cleanup().await
}

/// api resolves a dialled number to its tenant from PostgreSQL.
#[tokio::test]
async fn api_resolves_numbers_to_their_tenant() -> anyhow::Result<()> {
    let b = TestBackends::real().await?;
    let bk = &b.backends;
    let app = hotline_api::App::build(
        &hotline_api::Config {
            grpc: eph(),
            consumer_group: format!("api-{}", hotline_tests::unique()),
        },
        &public(&b),
        bk,
    )
    .await?;
    let grpc = app.grpc_addr();
    let token = CancellationToken::new();
    let h = tokio::spawn(app.run_until_stopped(token.clone()));

    let t = TenantId::new(format!("t-{}", hotline_tests::unique()))?;
    bk.store
        .create_tenant(hotline_store::NewTenant {
            id: t.clone(),
            name: "Acme".into(),
            time_zone: "Europe/Moscow".into(),
            locale: "ru".into(),
        })
        .await?;
    bk.store
        .add_number(hotline_store::PhoneNumber {
            tenant: t.clone(),
            number: "+78005550100".into(),
            entry_flow: "main".into(),
        })
        .await?;
    let mut c =
        pb::config_service_client::ConfigServiceClient::connect(format!("http://{grpc}")).await?;
    let r = c
        .resolve_number(pb::ResolveNumberRequest {
            did: "+78005550100".into(),
        })
        .await?
        .into_inner();
    assert_eq!(r.tenant_id, t.to_string());
    assert_eq!(r.entry_flow_id, "main");
    assert_eq!(r.tenant_status, pb::tenant::Status::Active as i32);
    let missing = c
        .resolve_number(pb::ResolveNumberRequest {
            did: "+78005550199".into(),
        })
        .await
        .expect_err("unknown number");
    assert_eq!(missing.code(), tonic::Code::NotFound);
    let bad = c
        .resolve_number(pb::ResolveNumberRequest {
            did: "'; drop table".into(),
        })
        .await
        .expect_err("bad number");
    assert_eq!(bad.code(), tonic::Code::InvalidArgument);

    token.cancel();
    h.await??;
    b.cleanup().await
}

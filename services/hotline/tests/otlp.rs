//! Traces leave the process over OTLP when an endpoint is configured, and a served RPC
//! continues the caller's trace: a real OTLP/gRPC receiver runs in the test.

use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::any_value::Value;

#[derive(Default, Clone)]
struct Collector {
    got: Arc<Mutex<Vec<ExportTraceServiceRequest>>>,
}

#[tonic::async_trait]
impl TraceService for Collector {
    async fn export(
        &self,
        req: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        self.got.lock().expect("lock").push(req.into_inner());
        Ok(tonic::Response::new(ExportTraceServiceResponse {
            partial_success: None,
        }))
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rpc_spans_are_exported_over_otlp_and_continue_the_callers_trace() {
    let collector = Collector::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let otlp = listener.local_addr().expect("addr");
    let server = tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(TraceServiceServer::new(collector.clone()))
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener)),
    );

    let dir = tempfile::tempdir().expect("tempdir");
    let (http, routing) = (free_port(), free_port());
    let mut c = Command::new(env!("CARGO_BIN_EXE_hotline"));
    for (k, _) in std::env::vars() {
        if k.starts_with("HOTLINE_") {
            c.env_remove(k);
        }
    }
    c.args(["all-in-one", "--data-dir"])
        .arg(dir.path())
        .env("HOTLINE_TELEMETRY_OTLP_ENDPOINT", format!("http://{otlp}"))
        .env("HOTLINE_HTTP_PORT", http.to_string())
        .env("HOTLINE_ROUTING_GRPC_PORT", routing.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    for svc in [
        "ingress",
        "recording",
        "crm",
        "analytics",
        "api",
        "operator",
    ] {
        c.env(format!("HOTLINE_{}_GRPC_PORT", svc.to_uppercase()), "0");
    }
    for svc in [
        "ingress",
        "routing",
        "recording",
        "crm",
        "analytics",
        "operator",
    ] {
        c.env(format!("HOTLINE_{}_OPS_PORT", svc.to_uppercase()), "0");
    }
    let mut child = c.spawn().expect("spawn");

    let trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
    let parent_span = "00f067aa0ba902b7";
    let start = Instant::now();
    let mut client = loop {
        if let Ok(c) = hotline_proto::v1::routing_service_client::RoutingServiceClient::connect(
            format!("http://127.0.0.1:{routing}"),
        )
        .await
        {
            break c;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "routing never came up"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let mut req = tonic::Request::new(hotline_proto::v1::GetQueueStatusRequest {
        tenant_id: "acme".into(),
        queue_id: "support".into(),
    });
    req.metadata_mut().insert(
        "traceparent",
        format!("00-{trace_id}-{parent_span}-01")
            .parse()
            .expect("header"),
    );
    client.get_queue_status(req).await.expect("rpc");

    // SIGTERM flushes the batch exporter on the way out.
    assert!(
        Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .expect("kill")
            .success()
    );
    let start = Instant::now();
    while child.try_wait().expect("wait").is_none() {
        assert!(start.elapsed() < Duration::from_secs(20), "did not stop");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let got = collector.got.lock().expect("lock").clone();
    server.abort();
    let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
    let mut found = false;
    for export in &got {
        for rs in &export.resource_spans {
            let service = rs
                .resource
                .as_ref()
                .and_then(|r| r.attributes.iter().find(|a| a.key == "service.name"))
                .and_then(|a| a.value.as_ref()?.value.clone());
            for ss in &rs.scope_spans {
                for span in &ss.spans {
                    if span.name == "routing.GetQueueStatus" {
                        assert_eq!(
                            hex(&span.trace_id),
                            trace_id,
                            "continues the caller's trace"
                        );
                        assert_eq!(hex(&span.parent_span_id), parent_span);
                        assert_eq!(
                            service,
                            Some(Value::StringValue("hotline-all-in-one".into()))
                        );
                        found = true;
                    }
                }
            }
        }
    }
    assert!(
        found,
        "no routing.GetQueueStatus span among {} exports",
        got.len()
    );
}

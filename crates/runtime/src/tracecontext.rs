//! Trace context across gRPC: every served RPC gets a span that continues the caller's
//! trace (W3C `traceparent` in the request metadata), and outgoing requests carry the
//! current context, so one call is one trace across services.

use opentelemetry::propagation::{Extractor, Injector};
use tracing_opentelemetry::OpenTelemetrySpanExt;

struct HeaderExtractor<'a>(&'a http::HeaderMap);

impl Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }
    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(http::HeaderName::as_str).collect()
    }
}

struct MetadataInjector<'a>(&'a mut tonic::metadata::MetadataMap);

impl Injector for MetadataInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        if let (Ok(k), Ok(v)) = (
            tonic::metadata::MetadataKey::from_bytes(key.as_bytes()),
            tonic::metadata::MetadataValue::try_from(value.as_str()),
        ) {
            self.0.insert(k, v);
        }
    }
}

/// The span of one served RPC, named `<service>.<Method>` (e.g. `routing.GetQueueStatus`)
/// and parented on the caller's trace when the request carries one.
pub fn server_span<B>(service: &str, req: &http::Request<B>) -> tracing::Span {
    let path = req.uri().path();
    let method = path.rsplit('/').next().unwrap_or(path);
    let span = tracing::info_span!(
        "grpc.server",
        otel.name = %format!("{service}.{method}"),
        otel.kind = "server",
        rpc.service = %path.trim_start_matches('/').split('/').next().unwrap_or(""),
        rpc.method = %method,
    );
    let parent = opentelemetry::global::get_text_map_propagator(|p| {
        p.extract(&HeaderExtractor(req.headers()))
    });
    // Fails only when no OpenTelemetry layer is installed, i.e. tracing is not exported.
    let _ = span.set_parent(parent);
    span
}

/// A request carrying the current trace context, for calls to other services.
pub fn traced_request<T>(message: T) -> tonic::Request<T> {
    let mut req = tonic::Request::new(message);
    let cx = tracing::Span::current().context();
    opentelemetry::global::get_text_map_propagator(|p| {
        p.inject_context(&cx, &mut MetadataInjector(req.metadata_mut()));
    });
    req
}

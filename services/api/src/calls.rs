//! Being written.

use std::sync::Arc;

/// The routes of this module.
pub fn routes() -> axum::Router<Arc<crate::http::ApiState>> {
    axum::Router::new()
}

/// Projects call events into the call log.
pub async fn run_projection(
    _store: Arc<dyn hotline_store::Store>,
    _bus: Arc<dyn hotline_bus::EventBus>,
    _topic: String,
    _group: String,
    _metrics: hotline_bus::ConsumerMetrics,
    shutdown: tokio_util::sync::CancellationToken,
) -> Result<(), String> {
    shutdown.cancelled().await;
    Ok(())
}

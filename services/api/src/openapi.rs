//! Being written.

use std::sync::Arc;

/// The routes of this module.
pub fn routes() -> axum::Router<Arc<crate::http::ApiState>> {
    axum::Router::new()
}

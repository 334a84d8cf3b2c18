//! Graceful shutdown: one [`CancellationToken`] fired by SIGTERM or SIGINT, and a bound
//! on how long draining may take.

use std::future::Future;
use std::time::Duration;

pub use tokio_util::sync::CancellationToken;

/// A token cancelled on the first SIGTERM or SIGINT (Ctrl-C).
pub fn on_signal() -> CancellationToken {
    let token = CancellationToken::new();
    let fire = token.clone();
    tokio::spawn(async move {
        wait_for_signal().await;
        tracing::info!("shutdown signal received, draining");
        fire.cancel();
    });
    token
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for SIGTERM; only Ctrl-C stops");
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// Runs `work` to completion, but once `shutdown` fires gives it at most `grace` more.
/// Returns `None` when the grace period ran out.
pub async fn drain_within<F: Future>(
    shutdown: &CancellationToken,
    grace: Duration,
    work: F,
) -> Option<F::Output> {
    tokio::pin!(work);
    tokio::select! {
        out = &mut work => return Some(out),
        () = shutdown.cancelled() => {}
    }
    tokio::time::timeout(grace, work).await.ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn grace_period_bounds_the_drain() {
        let token = CancellationToken::new();
        token.cancel();
        let slow = tokio::time::sleep(Duration::from_secs(60));
        assert!(
            drain_within(&token, Duration::from_secs(5), slow)
                .await
                .is_none()
        );
        let quick = tokio::time::sleep(Duration::from_secs(1));
        assert!(
            drain_within(&token, Duration::from_secs(5), quick)
                .await
                .is_some()
        );
    }
}

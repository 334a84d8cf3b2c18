//! Liveness and readiness. A service is *live* while its process serves HTTP, and *ready*
//! when every backend it needs answers and it is not shutting down.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use futures::future::BoxFuture;

/// How long one readiness check may take before it counts as failed.
pub const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

/// One thing a service needs in order to be ready (a backend, a peer).
#[async_trait]
pub trait ReadinessCheck: Send + Sync {
    /// A short, fixed name (`redis`, `kafka`, `postgres`…).
    fn name(&self) -> &str;
    /// `Ok` when the dependency answers; otherwise why not.
    async fn check(&self) -> Result<(), String>;
}

struct FnCheck<F> {
    name: String,
    f: F,
}

#[async_trait]
impl<F> ReadinessCheck for FnCheck<F>
where
    F: Fn() -> BoxFuture<'static, Result<(), String>> + Send + Sync,
{
    fn name(&self) -> &str {
        &self.name
    }
    async fn check(&self) -> Result<(), String> {
        (self.f)().await
    }
}

/// A readiness check from a closure returning a boxed future.
pub fn check_fn<F>(name: impl Into<String>, f: F) -> Arc<dyn ReadinessCheck>
where
    F: Fn() -> BoxFuture<'static, Result<(), String>> + Send + Sync + 'static,
{
    Arc::new(FnCheck {
        name: name.into(),
        f,
    })
}

/// The result of one readiness round.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Readiness {
    pub service: String,
    pub ready: bool,
    pub shutting_down: bool,
    /// Each check by name: `"ok"` or why it failed.
    pub checks: Vec<(String, String)>,
}

/// A service's health: its readiness checks and whether it is shutting down.
#[derive(Clone)]
pub struct Health {
    inner: Arc<Inner>,
}

struct Inner {
    service: String,
    checks: std::sync::RwLock<Vec<Arc<dyn ReadinessCheck>>>,
    shutting_down: AtomicBool,
}

impl std::fmt::Debug for Health {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Health")
            .field("service", &self.inner.service)
            .field("shutting_down", &self.is_shutting_down())
            .finish()
    }
}

impl Health {
    /// Health of the named service, with no checks yet.
    pub fn new(service: impl Into<String>) -> Self {
        Self {
            inner: Arc::new(Inner {
                service: service.into(),
                checks: std::sync::RwLock::new(Vec::new()),
                shutting_down: AtomicBool::new(false),
            }),
        }
    }

    /// The service's name.
    pub fn service(&self) -> &str {
        &self.inner.service
    }

    /// Adds a readiness check.
    pub fn add_check(&self, check: Arc<dyn ReadinessCheck>) {
        if let Ok(mut checks) = self.inner.checks.write() {
            checks.push(check);
        }
    }

    /// Marks the service as shutting down: from now on it reports not ready.
    pub fn set_shutting_down(&self) {
        self.inner.shutting_down.store(true, Ordering::SeqCst);
    }

    /// Whether shutdown has begun.
    pub fn is_shutting_down(&self) -> bool {
        self.inner.shutting_down.load(Ordering::SeqCst)
    }

    /// Runs every check concurrently, each bounded by [`CHECK_TIMEOUT`].
    pub async fn readiness(&self) -> Readiness {
        let checks: Vec<_> = self
            .inner
            .checks
            .read()
            .map(|c| c.clone())
            .unwrap_or_default();
        let results = futures::future::join_all(checks.iter().map(|c| async move {
            let outcome = match tokio::time::timeout(CHECK_TIMEOUT, c.check()).await {
                Ok(Ok(())) => "ok".to_owned(),
                Ok(Err(e)) => e,
                Err(_) => format!("no answer within {CHECK_TIMEOUT:?}"),
            };
            (c.name().to_owned(), outcome)
        }))
        .await;
        let shutting_down = self.is_shutting_down();
        Readiness {
            service: self.inner.service.clone(),
            ready: !shutting_down && results.iter().all(|(_, r)| r == "ok"),
            shutting_down,
            checks: results,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn ready_only_when_every_check_passes_and_not_shutting_down() {
        let h = Health::new("demo");
        h.add_check(check_fn("ok", || Box::pin(async { Ok(()) })));
        assert!(h.readiness().await.ready);
        h.add_check(check_fn("db", || {
            Box::pin(async { Err("connection refused".to_owned()) })
        }));
        let r = h.readiness().await;
        assert!(!r.ready);
        assert_eq!(r.checks[1], ("db".into(), "connection refused".into()));

        let h = Health::new("demo");
        h.set_shutting_down();
        assert!(!h.readiness().await.ready);
    }
}

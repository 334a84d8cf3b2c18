//! Keys and the admin token never reach the logs: every log line of a session that
//! creates, uses, rotates and revokes keys (and fails to authenticate) is captured.

use std::io::Write;
use std::sync::{Arc, Mutex};

use hotline_tests::api::{ADMIN, Api};
use reqwest::Method;
use serde_json::json;

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if let Ok(mut v) = self.0.lock() {
            v.extend_from_slice(buf);
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_never_appear_in_logs() -> anyhow::Result<()> {
    let capture = Capture::default();
    let writer = capture.clone();
    tracing_subscriber::fmt()
        .with_env_filter("trace")
        .with_writer(move || writer.clone())
        .json()
        .init();

    let b = hotline_tests::TestBackends::embedded().await?;
    let api = Api::start(&b).await?;
    let (_, key) = api.tenant("Acme").await?;
    let (_, made) = api
        .call(
            Method::POST,
            "/v1/api-keys",
            Some(&key),
            Some(json!({"role": "agent"})),
        )
        .await?;
    let agent_key = made["api_key"].as_str().unwrap_or_default().to_owned();
    let id = made["id"].as_str().unwrap_or_default().to_owned();
    api.call(Method::GET, "/v1/tenants", Some(&agent_key), None)
        .await?;
    api.call(
        Method::DELETE,
        &format!("/v1/api-keys/{id}"),
        Some(&key),
        None,
    )
    .await?;
    api.call(Method::GET, "/v1/tenants", Some(&agent_key), None)
        .await?;
    api.call(Method::GET, "/v1/tenants", Some("hlk_guess"), None)
        .await?;
    api.stop().await?;

    let logs = String::from_utf8_lossy(&capture.0.lock().map(|v| v.clone()).unwrap_or_default())
        .into_owned();
    assert!(logs.len() > 100, "the test must capture real logs: {logs}");
    for secret in [key.as_str(), agent_key.as_str(), ADMIN, "hlk_guess"] {
        assert!(!logs.contains(secret), "a secret reached the logs");
    }
    b.cleanup().await
}

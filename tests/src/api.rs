//! A running api service and an HTTP client for it, for the REST tests.

use std::net::SocketAddr;

use reqwest::{Method, StatusCode};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use crate::TestBackends;

/// The provider admin token the test api runs with.
pub const ADMIN: &str = "test-admin-token";

/// An api service on port 0.
#[derive(Debug)]
pub struct Api {
    pub http: SocketAddr,
    pub grpc: SocketAddr,
    token: CancellationToken,
    handle: tokio::task::JoinHandle<Result<(), hotline_runtime::StartError>>,
}

impl Api {
    /// Starts an api on the test's backends.
    pub async fn start(b: &TestBackends) -> anyhow::Result<Self> {
        let eph = hotline_runtime::config::ListenConfig::new("127.0.0.1", 0);
        let app = hotline_api::App::build(
            &hotline_api::Config {
                grpc: eph.clone(),
                consumer_group: format!("api-{}", crate::unique()),
            },
            &hotline_api::Public {
                http: eph,
                admin_token: hotline_runtime::Secret::new(ADMIN),
                data_dir: b.dir.path().to_owned(),
                demo: false,
            },
            &b.backends,
        )
        .await?;
        let http = app.http_addr().ok_or_else(|| anyhow::anyhow!("no http"))?;
        let grpc = app.grpc_addr();
        let token = CancellationToken::new();
        let handle = tokio::spawn(app.run_until_stopped(token.clone()));
        Ok(Self {
            http,
            grpc,
            token,
            handle,
        })
    }

    /// Sends a request with an optional bearer key and JSON body.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        key: Option<&str>,
        body: Option<Value>,
    ) -> anyhow::Result<(StatusCode, Value)> {
        let client = reqwest::Client::new();
        let mut req = client.request(method, format!("http://{}{path}", self.http));
        if let Some(k) = key {
            req = req.bearer_auth(k);
        }
        if let Some(b) = body {
            req = req
                .header("content-type", "application/json")
                .body(serde_json::to_vec(&b)?);
        }
        let resp = req.send().await?;
        let status = resp.status();
        let text = resp.text().await?;
        let value = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        Ok((status, value))
    }

    /// Sends a request with extra headers; returns status, headers and JSON (a body
    /// that is not JSON comes back as a string, an empty one as null).
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        key: &str,
        headers: &[(&str, &str)],
        body: Option<Value>,
    ) -> anyhow::Result<(StatusCode, reqwest::header::HeaderMap, Value)> {
        let mut req = reqwest::Client::new()
            .request(method, format!("http://{}{path}", self.http))
            .bearer_auth(key);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        if let Some(b) = body {
            req = req
                .header("content-type", "application/json")
                .body(b.to_string());
        }
        let resp = req.send().await?;
        let (status, h) = (resp.status(), resp.headers().clone());
        let text = resp.text().await?;
        let value = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        Ok((status, h, value))
    }

    /// Sends raw bytes as the body.
    pub async fn call_raw(
        &self,
        method: Method,
        path: &str,
        key: Option<&str>,
        content_type: &str,
        body: Vec<u8>,
    ) -> anyhow::Result<(StatusCode, Value)> {
        let client = reqwest::Client::new();
        let mut req = client
            .request(method, format!("http://{}{path}", self.http))
            .header("content-type", content_type)
            .body(body);
        if let Some(k) = key {
            req = req.bearer_auth(k);
        }
        let resp = req.send().await?;
        let status = resp.status();
        let text = resp.text().await?;
        Ok((
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        ))
    }

    /// Creates a tenant as the provider; returns its id and first (admin) key.
    pub async fn tenant(&self, name: &str) -> anyhow::Result<(String, String)> {
        let (status, body) = self
            .call(
                Method::POST,
                "/v1/tenants",
                Some(ADMIN),
                Some(serde_json::json!({ "name": name, "time_zone": "Europe/Moscow" })),
            )
            .await?;
        anyhow::ensure!(
            status == StatusCode::CREATED,
            "create tenant: {status} {body}"
        );
        let id = body["tenant"]["id"]
            .as_str()
            .ok_or_else(|| anyhow::anyhow!("no id in {body}"))?;
        let key = body["api_key"]
            .as_str()
            .ok_or_else(|| anyhow::anyhow!("no key in {body}"))?;
        Ok((id.to_owned(), key.to_owned()))
    }

    /// Stops the service.
    pub async fn stop(self) -> anyhow::Result<()> {
        self.token.cancel();
        self.handle.await??;
        Ok(())
    }
}

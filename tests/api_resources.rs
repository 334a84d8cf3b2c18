//! Every configuration resource through the real HTTP client: create, read, replace with
//! ETags, list, delete; validation; references; roles; idempotency keys; tenant
//! isolation; and the `ConfigChanged` event each change publishes.

use std::time::Duration;

use hotline_core::Event;
use hotline_tests::TestBackends;
use hotline_tests::api::{ADMIN, Api};
use hotline_tests::both;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

async fn create(api: &Api, key: &str, path: &str, body: Value) -> anyhow::Result<String> {
    let (s, v) = api.call(Method::POST, path, Some(key), Some(body)).await?;
    anyhow::ensure!(s == StatusCode::CREATED, "POST {path}: {s} {v}");
    Ok(v["id"].as_str().unwrap_or_default().to_owned())
}

both!(every_resource_kind_supports_crud_with_etags_and_references);
async fn every_resource_kind_supports_crud_with_etags_and_references(
    b: &TestBackends,
) -> anyhow::Result<()> {
    let api = Api::start(b).await?;
    let (_, key) = api.tenant("Acme").await?;
    let bh = create(
        &api,
        &key,
        "/v1/business-hours",
        json!({"name": "Office", "schedule": {"monday": [{"start": "09:00", "end": "18:00"}]}}),
    )
    .await?;
    let q = create(
        &api,
        &key,
        "/v1/queues",
        json!({"name": "Support", "strategy": "least-recent"}),
    )
    .await?;
    let agent = create(
        &api,
        &key,
        "/v1/agents",
        json!({"name": "Anna", "extension": "101", "sip_username": "anna",
               "sip_password": "s3cret-Passw0rd", "queues": [{"queue": q, "penalty": 0}]}),
    )
    .await?;
    let ivr = create(
        &api,
        &key,
        "/v1/ivr-menus",
        json!({"name": "Main", "choices": [{"digit": "1", "action": {"type": "queue", "id": q}}]}),
    )
    .await?;
    let flow = create(
        &api,
        &key,
        "/v1/entry-flows",
        json!({"name": "Main line", "business_hours": bh, "start": {"type": "ivr-menu", "id": ivr}}),
    )
    .await?;
    let hook = create(
        &api,
        &key,
        "/v1/webhooks",
        json!({"name": "CRM", "url": "https://crm.example/hook", "secret": "0123456789abcdef", "events": "all"}),
    )
    .await?;

    // Read with ETag; secrets never come back.
    let (s, h, v) = api
        .send(Method::GET, &format!("/v1/agents/{agent}"), &key, &[], None)
        .await?;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(h.get("etag").and_then(|v| v.to_str().ok()), Some("\"1\""));
    assert_eq!(v["name"], "Anna");
    assert!(v.get("sip_password").is_none_or(Value::is_null), "{v}");
    let (_, _, w) = api
        .send(
            Method::GET,
            &format!("/v1/webhooks/{hook}"),
            &key,
            &[],
            None,
        )
        .await?;
    assert!(w.get("secret").is_none_or(Value::is_null), "{w}");

    // Replace with If-Match; the password left out is kept; a stale ETag is refused.
    let renamed = json!({"name": "Anna P.", "extension": "101", "sip_username": "anna",
                         "queues": [{"queue": q, "penalty": 1}]});
    let (s, h, v) = api
        .send(
            Method::PUT,
            &format!("/v1/agents/{agent}"),
            &key,
            &[("if-match", "\"1\"")],
            Some(renamed.clone()),
        )
        .await?;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(h.get("etag").and_then(|v| v.to_str().ok()), Some("\"2\""));
    let (s, _, v) = api
        .send(
            Method::PUT,
            &format!("/v1/agents/{agent}"),
            &key,
            &[("if-match", "\"1\"")],
            Some(renamed),
        )
        .await?;
    assert_eq!(s, StatusCode::PRECONDITION_FAILED, "{v}");
    // A new agent must have a password.
    let (s, _, v) = api
        .send(
            Method::PUT,
            "/v1/agents/boris",
            &key,
            &[],
            Some(json!({"name": "Boris", "extension": "102", "sip_username": "boris"})),
        )
        .await?;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(v["error"]["fields"][0]["field"], "sip_password", "{v}");
    // PUT creates at a chosen id; If-None-Match: * refuses to overwrite.
    let q2 = json!({"name": "Sales"});
    let (s, _, _) = api
        .send(
            Method::PUT,
            "/v1/queues/sales",
            &key,
            &[("if-none-match", "*")],
            Some(q2.clone()),
        )
        .await?;
    assert_eq!(s, StatusCode::CREATED);
    let (s, _, _) = api
        .send(
            Method::PUT,
            "/v1/queues/sales",
            &key,
            &[("if-none-match", "*")],
            Some(q2),
        )
        .await?;
    assert_eq!(s, StatusCode::PRECONDITION_FAILED);

    // List, with a name filter and a cursor.
    let (_, list) = api
        .call(Method::GET, "/v1/queues?limit=1", Some(&key), None)
        .await?;
    assert_eq!(list["items"].as_array().map(Vec::len), Some(1));
    let next = list["next"].as_str().unwrap_or_default().to_owned();
    let (_, rest) = api
        .call(
            Method::GET,
            &format!("/v1/queues?limit=1&after={next}"),
            Some(&key),
            None,
        )
        .await?;
    assert_eq!(rest["items"].as_array().map(Vec::len), Some(1));
    assert_ne!(rest["items"][0]["id"], list["items"][0]["id"]);
    let (_, named) = api
        .call(Method::GET, "/v1/queues?name=Sal", Some(&key), None)
        .await?;
    assert_eq!(named["items"][0]["id"], "sales");

    // A referenced resource cannot be deleted; deleting in order works.
    let (s, v) = api
        .call(Method::DELETE, &format!("/v1/queues/{q}"), Some(&key), None)
        .await?;
    assert_eq!(s, StatusCode::CONFLICT, "{v}");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("still used"),
        "{v}"
    );
    for path in [
        format!("/v1/entry-flows/{flow}"),
        format!("/v1/ivr-menus/{ivr}"),
        format!("/v1/agents/{agent}"),
        format!("/v1/queues/{q}"),
        format!("/v1/business-hours/{bh}"),
        format!("/v1/webhooks/{hook}"),
    ] {
        let (s, v) = api.call(Method::DELETE, &path, Some(&key), None).await?;
        assert_eq!(s, StatusCode::NO_CONTENT, "DELETE {path}: {v}");
        let (s, _) = api.call(Method::GET, &path, Some(&key), None).await?;
        assert_eq!(s, StatusCode::NOT_FOUND, "{path}");
    }
    api.stop().await
}

both!(invalid_bodies_name_the_field_and_store_nothing);
async fn invalid_bodies_name_the_field_and_store_nothing(b: &TestBackends) -> anyhow::Result<()> {
    let api = Api::start(b).await?;
    let (_, key) = api.tenant("Acme").await?;
    let cases = [
        (
            "/v1/queues",
            json!({"name": "Q", "strategy": "fastest"}),
            "strategy",
        ),
        (
            "/v1/queues",
            json!({"name": "Q", "ring_timeout_seconds": -5}),
            "ring_timeout_seconds",
        ),
        ("/v1/queues", json!({"name": "Q", "bogus": 1}), "bogus"),
        (
            "/v1/agents",
            json!({"name": "A", "extension": "1", "sip_username": "a",
                               "sip_password": "s3cret-Passw0rd", "queues": [{"queue": "ghost"}]}),
            "queues[0].queue",
        ),
        (
            "/v1/ivr-menus",
            json!({"name": "M", "choices": [{"digit": "x", "action": {"type": "hangup"}}]}),
            "choices[0].digit",
        ),
        (
            "/v1/business-hours",
            json!({"name": "B", "schedule": {"monday": [{"start": "18:00", "end": "09:00"}]}}),
            "schedule.monday[0]",
        ),
        (
            "/v1/webhooks",
            json!({"name": "W", "url": "http://evil.example/x", "secret": "0123456789abcdef", "events": "all"}),
            "url",
        ),
    ];
    for (path, body, field) in cases {
        let (s, v) = api.call(Method::POST, path, Some(&key), Some(body)).await?;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{path}: {v}");
        let fields: Vec<String> = v["error"]["fields"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|f| f["field"].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        assert!(
            fields.iter().any(|f| f.starts_with(field)),
            "{path}: want {field} in {v}"
        );
    }
    // An IVR submenu cycle without prompts is refused as a graph.
    let (s, _, _) = api
        .send(
            Method::PUT,
            "/v1/ivr-menus/a",
            &key,
            &[],
            Some(json!({"name": "A", "choices": [{"digit": "1", "action": {"type": "hangup"}}]})),
        )
        .await?;
    assert_eq!(s, StatusCode::CREATED);
    let (s, _, _) = api.send(Method::PUT, "/v1/ivr-menus/b", &key, &[],
        Some(json!({"name": "B", "choices": [{"digit": "1", "action": {"type": "submenu", "id": "a"}}]}))).await?;
    assert_eq!(s, StatusCode::CREATED);
    let (s, _, v) = api.send(Method::PUT, "/v1/ivr-menus/a", &key, &[],
        Some(json!({"name": "A", "choices": [{"digit": "1", "action": {"type": "submenu", "id": "b"}}]}))).await?;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert!(v.to_string().contains("cycle"), "{v}");
    // Garbage bodies and ids.
    for (method, path, body) in [
        (Method::POST, "/v1/queues", b"{".to_vec()),
        (Method::POST, "/v1/queues", vec![0xff; 8]),
        (Method::PUT, "/v1/queues/..", b"{\"name\":\"x\"}".to_vec()),
        (
            Method::PUT,
            "/v1/queues/a%7Bb",
            b"{\"name\":\"x\"}".to_vec(),
        ),
        (Method::GET, "/v1/queues?limit=0", vec![]),
        (Method::GET, "/v1/queues?limit=abc", vec![]),
    ] {
        let (s, v) = api
            .call_raw(method.clone(), path, Some(&key), "application/json", body)
            .await?;
        assert!(s.is_client_error(), "{method} {path}: {s} {v}");
    }
    let (_, list) = api
        .call(Method::GET, "/v1/queues", Some(&key), None)
        .await?;
    assert_eq!(list["items"].as_array().map(Vec::len), Some(0), "{list}");
    api.stop().await
}

both!(tenant_b_cannot_see_or_touch_tenant_a_resources);
async fn tenant_b_cannot_see_or_touch_tenant_a_resources(b: &TestBackends) -> anyhow::Result<()> {
    let api = Api::start(b).await?;
    let (_, key_a) = api.tenant("Acme").await?;
    let (_, key_b) = api.tenant("Bravo").await?;
    for path in [
        "/v1/queues",
        "/v1/agents",
        "/v1/business-hours",
        "/v1/ivr-menus",
        "/v1/entry-flows",
        "/v1/webhooks",
    ] {
        let (s, v) = api.call(Method::GET, path, Some(&key_b), None).await?;
        assert_eq!(s, StatusCode::OK, "{path}: {v}");
    }
    let (s, _, _) = api
        .send(
            Method::PUT,
            "/v1/queues/support",
            &key_a,
            &[],
            Some(json!({"name": "A's"})),
        )
        .await?;
    assert_eq!(s, StatusCode::CREATED);
    let (s, _) = api
        .call(Method::GET, "/v1/queues/support", Some(&key_b), None)
        .await?;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = api
        .call(Method::DELETE, "/v1/queues/support", Some(&key_b), None)
        .await?;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _, _) = api
        .send(
            Method::PUT,
            "/v1/queues/support",
            &key_b,
            &[("if-match", "\"1\"")],
            Some(json!({"name": "B's"})),
        )
        .await?;
    assert_eq!(
        s,
        StatusCode::PRECONDITION_FAILED,
        "B's If-Match names nothing of B's"
    );
    let (_, list) = api
        .call(Method::GET, "/v1/queues", Some(&key_b), None)
        .await?;
    assert_eq!(list["items"].as_array().map(Vec::len), Some(0));
    // B cannot reference A's queue either.
    let (s, v) = api
        .call(
            Method::POST,
            "/v1/agents",
            Some(&key_b),
            Some(json!({
        "name": "Spy", "extension": "1", "sip_username": "spy", "sip_password": "s3cret-Passw0rd",
        "queues": [{"queue": "support"}]})),
        )
        .await?;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    let (_, a) = api
        .call(Method::GET, "/v1/queues/support", Some(&key_a), None)
        .await?;
    assert_eq!(
        (a["name"].clone(), a["version"].clone()),
        (json!("A's"), json!(1))
    );
    // The provider token is not a tenant.
    let (s, _) = api
        .call(Method::GET, "/v1/queues", Some(ADMIN), None)
        .await?;
    assert_eq!(s, StatusCode::FORBIDDEN);
    api.stop().await
}

both!(roles_limit_what_a_key_may_do);
async fn roles_limit_what_a_key_may_do(b: &TestBackends) -> anyhow::Result<()> {
    let api = Api::start(b).await?;
    let (_, admin) = api.tenant("Acme").await?;
    let mut keys = std::collections::HashMap::new();
    for role in ["supervisor", "agent", "readonly"] {
        let (_, v) = api
            .call(
                Method::POST,
                "/v1/api-keys",
                Some(&admin),
                Some(json!({"role": role})),
            )
            .await?;
        keys.insert(role, v["api_key"].as_str().unwrap_or_default().to_owned());
    }
    let (s, _, _) = api
        .send(
            Method::PUT,
            "/v1/queues/q1",
            &keys["supervisor"],
            &[],
            Some(json!({"name": "Q"})),
        )
        .await?;
    assert_eq!(s, StatusCode::CREATED);
    for role in ["agent", "readonly"] {
        let (s, _) = api
            .call(Method::GET, "/v1/queues/q1", Some(&keys[role]), None)
            .await?;
        assert_eq!(s, StatusCode::OK, "{role} reads");
        let (s, _, _) = api
            .send(
                Method::PUT,
                "/v1/queues/q1",
                &keys[role],
                &[],
                Some(json!({"name": "X"})),
            )
            .await?;
        assert_eq!(s, StatusCode::FORBIDDEN, "{role} may not write");
    }
    let (s, _) = api
        .call(Method::GET, "/v1/webhooks", Some(&keys["supervisor"]), None)
        .await?;
    assert_eq!(s, StatusCode::FORBIDDEN, "webhooks are the admin's");
    api.stop().await
}

both!(idempotency_keys_replay_a_retried_create);
async fn idempotency_keys_replay_a_retried_create(b: &TestBackends) -> anyhow::Result<()> {
    let api = Api::start(b).await?;
    let (_, key) = api.tenant("Acme").await?;
    let body = json!({"name": "Support"});
    let (s1, _, v1) = api
        .send(
            Method::POST,
            "/v1/queues",
            &key,
            &[("idempotency-key", "abc")],
            Some(body.clone()),
        )
        .await?;
    let (s2, h2, v2) = api
        .send(
            Method::POST,
            "/v1/queues",
            &key,
            &[("idempotency-key", "abc")],
            Some(body),
        )
        .await?;
    assert_eq!((s1, s2), (StatusCode::CREATED, StatusCode::CREATED));
    assert_eq!(v1["id"], v2["id"]);
    assert_eq!(
        h2.get("idempotent-replayed").and_then(|v| v.to_str().ok()),
        Some("true")
    );
    let (s3, _, v3) = api
        .send(
            Method::POST,
            "/v1/queues",
            &key,
            &[("idempotency-key", "abc")],
            Some(json!({"name": "Other"})),
        )
        .await?;
    assert_eq!(s3, StatusCode::UNPROCESSABLE_ENTITY, "{v3}");
    let (_, list) = api
        .call(Method::GET, "/v1/queues", Some(&key), None)
        .await?;
    assert_eq!(list["items"].as_array().map(Vec::len), Some(1));
    api.stop().await
}

/// Every change reaches the bus as a `ConfigChanged` event, through the outbox.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changes_are_published_as_config_changed_events() -> anyhow::Result<()> {
    let b = TestBackends::real().await?;
    let api = Api::start(&b).await?;
    let (tenant, key) = api.tenant("Acme").await?;
    let mut sub = b
        .backends
        .bus
        .subscribe(
            &format!("cfg-{}", hotline_tests::unique()),
            std::slice::from_ref(&b.backends.topics.events),
        )
        .await?;
    let (s, _, _) = api
        .send(
            Method::PUT,
            "/v1/queues/support",
            &key,
            &[],
            Some(json!({"name": "Support"})),
        )
        .await?;
    assert_eq!(s, StatusCode::CREATED);
    let (s, _) = api
        .call(Method::DELETE, "/v1/queues/support", Some(&key), None)
        .await?;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let mut seen = Vec::new();
    while seen.len() < 2 {
        let d = tokio::time::timeout(Duration::from_secs(20), sub.next()).await??;
        let e = Event::decode(&d.payload)?;
        if let hotline_core::Payload::ConfigChanged(c) = e.payload {
            assert_eq!(e.tenant.as_str(), tenant);
            assert_eq!(d.key.as_deref(), Some(tenant.as_str()), "keyed by tenant");
            seen.push((c.kind, c.id, c.version, c.deleted));
        }
    }
    assert_eq!(
        seen,
        vec![
            ("queue".to_owned(), "support".to_owned(), 1, false),
            ("queue".to_owned(), "support".to_owned(), 0, true)
        ]
    );
    drop(sub);
    api.stop().await?;
    b.cleanup().await
}

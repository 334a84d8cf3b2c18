//! The public REST API through a real HTTP client: tenants, API keys, authentication,
//! roles, isolation and bad input, on PostgreSQL and on the embedded SQLite store.

use std::time::{Duration, Instant};

use hotline_tests::TestBackends;
use hotline_tests::api::{ADMIN, Api};
use hotline_tests::both;
use reqwest::{Method, StatusCode};
use serde_json::json;

both!(provider_creates_tenants_and_only_the_provider_can);
async fn provider_creates_tenants_and_only_the_provider_can(
    b: &TestBackends,
) -> anyhow::Result<()> {
    let api = Api::start(b).await?;
    let body = json!({"name": "Acme"});
    let (s, e) = api
        .call(Method::POST, "/v1/tenants", None, Some(body.clone()))
        .await?;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "{e}");
    assert_eq!(e["error"]["code"], "unauthenticated");
    let (s, _) = api
        .call(
            Method::POST,
            "/v1/tenants",
            Some("hlk_nope"),
            Some(body.clone()),
        )
        .await?;
    assert_eq!(s, StatusCode::UNAUTHORIZED);

    let (a, key_a) = api.tenant("Acme").await?;
    assert!(key_a.starts_with("hlk_"));
    let (s, e) = api
        .call(Method::POST, "/v1/tenants", Some(&key_a), Some(body))
        .await?;
    assert_eq!(s, StatusCode::FORBIDDEN, "{e}");

    let (s, t) = api
        .call(Method::GET, &format!("/v1/tenants/{a}"), Some(&key_a), None)
        .await?;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(t["name"], "Acme");
    assert_eq!(t["time_zone"], "Europe/Moscow");
    assert_eq!(t["status"], "active");
    assert!(t["created_at"].as_str().is_some_and(|s| s.ends_with('Z')));

    // The provider sees every tenant; a tenant sees only itself.
    let (b_id, key_b) = api.tenant("Bravo").await?;
    let (_, all) = api
        .call(Method::GET, "/v1/tenants", Some(ADMIN), None)
        .await?;
    let ids: Vec<&str> = all["tenants"]
        .as_array()
        .map(|v| v.iter().filter_map(|t| t["id"].as_str()).collect())
        .unwrap_or_default();
    assert!(ids.contains(&a.as_str()) && ids.contains(&b_id.as_str()));
    let (_, own) = api
        .call(Method::GET, "/v1/tenants", Some(&key_b), None)
        .await?;
    assert_eq!(own["tenants"].as_array().map(Vec::len), Some(1));
    assert_eq!(own["tenants"][0]["id"], b_id.as_str());

    // Settings: the tenant's admin (or the provider) changes them, validated.
    let (s, t) = api
        .call(
            Method::PATCH,
            &format!("/v1/tenants/{a}"),
            Some(&key_a),
            Some(json!({"name": "Acme Ltd", "time_zone": "Asia/Tokyo"})),
        )
        .await?;
    assert_eq!(s, StatusCode::OK, "{t}");
    assert_eq!(
        (
            t["name"].clone(),
            t["time_zone"].clone(),
            t["locale"].clone()
        ),
        (json!("Acme Ltd"), json!("Asia/Tokyo"), json!("en"))
    );
    let (s, e) = api
        .call(
            Method::PATCH,
            &format!("/v1/tenants/{a}"),
            Some(&key_a),
            Some(json!({"time_zone": "Atlantis/Capital"})),
        )
        .await?;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
    assert_eq!(e["error"]["fields"][0]["field"], "time_zone");
    let (s, _) = api
        .call(
            Method::PATCH,
            &format!("/v1/tenants/{a}"),
            Some(&key_b),
            Some(json!({"name": "pwned"})),
        )
        .await?;
    assert_eq!(s, StatusCode::NOT_FOUND, "B cannot touch A");
    let (_, t) = api
        .call(Method::GET, &format!("/v1/tenants/{a}"), Some(&key_a), None)
        .await?;
    assert_eq!(t["name"], "Acme Ltd");

    // Suspend and resume are the provider's.
    let (s, _) = api
        .call(
            Method::POST,
            &format!("/v1/tenants/{a}/suspend"),
            Some(&key_a),
            None,
        )
        .await?;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, t) = api
        .call(
            Method::POST,
            &format!("/v1/tenants/{a}/suspend"),
            Some(ADMIN),
            None,
        )
        .await?;
    assert_eq!(
        (s, t["status"].clone()),
        (StatusCode::OK, json!("suspended"))
    );
    let (_, t) = api
        .call(
            Method::POST,
            &format!("/v1/tenants/{a}/resume"),
            Some(ADMIN),
            None,
        )
        .await?;
    assert_eq!(t["status"], "active");

    // Deleting a tenant ends its keys.
    let (s, _) = api
        .call(
            Method::DELETE,
            &format!("/v1/tenants/{b_id}"),
            Some(ADMIN),
            None,
        )
        .await?;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, _) = api
        .call(Method::GET, "/v1/tenants", Some(&key_b), None)
        .await?;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let (s, _) = api
        .call(
            Method::GET,
            &format!("/v1/tenants/{b_id}"),
            Some(ADMIN),
            None,
        )
        .await?;
    assert_eq!(s, StatusCode::NOT_FOUND);
    api.stop().await
}

both!(tenant_b_gets_404_for_everything_of_tenant_a);
async fn tenant_b_gets_404_for_everything_of_tenant_a(b: &TestBackends) -> anyhow::Result<()> {
    let api = Api::start(b).await?;
    let (a, key_a) = api.tenant("Acme").await?;
    let (_, key_b) = api.tenant("Bravo").await?;
    let (_, made) = api
        .call(
            Method::POST,
            "/v1/api-keys",
            Some(&key_a),
            Some(json!({"role": "readonly"})),
        )
        .await?;
    let a_key_id = made["id"].as_str().unwrap_or_default().to_owned();

    for (method, path) in [
        (Method::GET, format!("/v1/tenants/{a}")),
        (Method::DELETE, format!("/v1/tenants/{a}")),
        (Method::POST, format!("/v1/tenants/{a}/suspend")),
        (Method::POST, format!("/v1/tenants/{a}/resume")),
        (Method::DELETE, format!("/v1/api-keys/{a_key_id}")),
        (Method::POST, format!("/v1/api-keys/{a_key_id}/rotate")),
    ] {
        let (s, e) = api.call(method.clone(), &path, Some(&key_b), None).await?;
        assert_eq!(s, StatusCode::NOT_FOUND, "{method} {path}: {e}");
    }
    let (_, list) = api
        .call(Method::GET, "/v1/api-keys", Some(&key_b), None)
        .await?;
    let text = list.to_string();
    assert!(!text.contains(&a_key_id), "B lists A's key: {text}");
    // A's key still works after B's attempts.
    let (s, _) = api
        .call(Method::GET, &format!("/v1/tenants/{a}"), Some(&key_a), None)
        .await?;
    assert_eq!(s, StatusCode::OK);
    api.stop().await
}

both!(keys_have_roles_are_shown_once_and_revocation_is_prompt_everywhere);
async fn keys_have_roles_are_shown_once_and_revocation_is_prompt_everywhere(
    b: &TestBackends,
) -> anyhow::Result<()> {
    let api = Api::start(b).await?;
    let other_replica = Api::start(b).await?;
    let (_, admin_key) = api.tenant("Acme").await?;

    let (s, made) = api
        .call(
            Method::POST,
            "/v1/api-keys",
            Some(&admin_key),
            Some(json!({"role": "readonly", "label": "wallboard"})),
        )
        .await?;
    assert_eq!(s, StatusCode::CREATED, "{made}");
    let ro_key = made["api_key"].as_str().unwrap_or_default().to_owned();
    let ro_id = made["id"].as_str().unwrap_or_default().to_owned();
    assert_eq!(made["role"], "readonly");

    // Listing never shows a secret.
    let (_, list) = api
        .call(Method::GET, "/v1/api-keys", Some(&admin_key), None)
        .await?;
    let text = list.to_string();
    assert!(!text.contains(&ro_key) && !text.contains("hlk_"), "{text}");
    assert_eq!(list["api_keys"].as_array().map(Vec::len), Some(2));

    // A readonly key reads but cannot manage keys.
    let (s, _) = api
        .call(
            Method::POST,
            "/v1/api-keys",
            Some(&ro_key),
            Some(json!({"role": "admin"})),
        )
        .await?;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = api
        .call(Method::GET, "/v1/tenants", Some(&ro_key), None)
        .await?;
    assert_eq!(s, StatusCode::OK);

    // Warm the other replica's cache, then revoke through the first.
    let (s, _) = other_replica
        .call(Method::GET, "/v1/tenants", Some(&ro_key), None)
        .await?;
    assert_eq!(s, StatusCode::OK);
    let (s, _) = api
        .call(
            Method::DELETE,
            &format!("/v1/api-keys/{ro_id}"),
            Some(&admin_key),
            None,
        )
        .await?;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, e) = api
        .call(Method::GET, "/v1/tenants", Some(&ro_key), None)
        .await?;
    assert_eq!(
        s,
        StatusCode::UNAUTHORIZED,
        "immediately on the replica that revoked"
    );
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("revoked")
    );
    let revoked_at = Instant::now();
    loop {
        let (s, _) = other_replica
            .call(Method::GET, "/v1/tenants", Some(&ro_key), None)
            .await?;
        if s == StatusCode::UNAUTHORIZED {
            break;
        }
        assert!(
            revoked_at.elapsed() < Duration::from_secs(1),
            "the other replica still accepts a revoked key after 1 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // Rotation: a new key with the same role; the old one stops working.
    let (s, rotated) = api
        .call(
            Method::POST,
            &format!(
                "/v1/api-keys/{}/rotate",
                list["api_keys"][0]["id"].as_str().unwrap_or("")
            ),
            Some(&admin_key),
            None,
        )
        .await?;
    assert_eq!(s, StatusCode::CREATED, "{rotated}");
    let new_key = rotated["api_key"].as_str().unwrap_or_default().to_owned();
    assert_ne!(new_key, admin_key);
    let (s, _) = api
        .call(Method::GET, "/v1/api-keys", Some(&new_key), None)
        .await?;
    assert_eq!(s, StatusCode::OK);
    let (s, _) = api
        .call(Method::GET, "/v1/api-keys", Some(&admin_key), None)
        .await?;
    assert_eq!(s, StatusCode::UNAUTHORIZED);

    other_replica.stop().await?;
    api.stop().await
}

both!(bad_input_gets_a_specific_4xx_and_changes_nothing);
async fn bad_input_gets_a_specific_4xx_and_changes_nothing(b: &TestBackends) -> anyhow::Result<()> {
    let api = Api::start(b).await?;
    let (_, before) = api
        .call(Method::GET, "/v1/tenants", Some(ADMIN), None)
        .await?;
    let cases: Vec<(&str, Vec<u8>, StatusCode, &str)> = vec![
        (
            "application/json",
            b"{not json".to_vec(),
            StatusCode::BAD_REQUEST,
            "",
        ),
        (
            "text/plain",
            br#"{"name":"x"}"#.to_vec(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "",
        ),
        (
            "application/json",
            br#"{"name": 5}"#.to_vec(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "name",
        ),
        (
            "application/json",
            br#"{"nme": "x"}"#.to_vec(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "",
        ),
        (
            "application/json",
            br#"{"name": ""}"#.to_vec(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "name",
        ),
        (
            "application/json",
            br#"{"name": "x", "id": "../etc"}"#.to_vec(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "id",
        ),
        (
            "application/json",
            b"[]".to_vec(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "",
        ),
        (
            "application/json",
            br#"{"name": "x", "time_zone": "Mars/Olympus"}"#.to_vec(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "time_zone",
        ),
        (
            "application/json",
            br#"{"name": "x", "locale": "not a locale!"}"#.to_vec(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "locale",
        ),
        (
            "application/json",
            vec![0xff, 0xfe],
            StatusCode::BAD_REQUEST,
            "",
        ),
    ];
    for (ct, body, want, field) in cases {
        let (s, e) = api
            .call_raw(Method::POST, "/v1/tenants", Some(ADMIN), ct, body.clone())
            .await?;
        assert_eq!(s, want, "{}: {e}", String::from_utf8_lossy(&body));
        assert!(e["error"]["message"].as_str().is_some(), "{e}");
        if !field.is_empty() {
            assert_eq!(e["error"]["fields"][0]["field"], field, "{e}");
        }
    }
    let (_, after) = api
        .call(Method::GET, "/v1/tenants", Some(ADMIN), None)
        .await?;
    assert_eq!(before, after, "nothing was stored");

    let (_, key) = api.tenant("Acme").await?;
    let (s, e) = api
        .call(
            Method::POST,
            "/v1/api-keys",
            Some(&key),
            Some(json!({"role": "root"})),
        )
        .await?;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(e["error"]["fields"][0]["field"], "role");
    let (s, _) = api
        .call_raw(
            Method::GET,
            "/v1/tenants",
            Some("x"),
            "application/json",
            vec![],
        )
        .await?;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let (s, _) = api.call(Method::GET, "/v1/nope", Some(&key), None).await?;
    assert_eq!(s, StatusCode::NOT_FOUND);
    api.stop().await
}

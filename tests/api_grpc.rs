//! The configuration API over gRPC with the real tonic client: the same keys, bodies,
//! versions, errors and tenant scoping as REST.

use hotline_proto::v1 as pb;
use hotline_tests::TestBackends;
use hotline_tests::api::{ADMIN, Api};
use hotline_tests::both;
use pb::resource_service_client::ResourceServiceClient;
use pb::tenant_service_client::TenantServiceClient;
use reqwest::Method;
use serde_json::json;
use tonic::Code;

fn authed<T>(msg: T, key: &str) -> tonic::Request<T> {
    let mut r = tonic::Request::new(msg);
    if let Ok(v) = format!("Bearer {key}").parse() {
        r.metadata_mut().insert("authorization", v);
    }
    r
}

both!(grpc_matches_rest_and_keeps_tenants_apart);
async fn grpc_matches_rest_and_keeps_tenants_apart(b: &TestBackends) -> anyhow::Result<()> {
    let api = Api::start(b).await?;
    let url = format!("http://{}", api.grpc);
    let mut tenants = TenantServiceClient::connect(url.clone()).await?;
    let mut res = ResourceServiceClient::connect(url).await?;

    // Tenants: the provider creates, a tenant key may not, nobody anonymous.
    let anon = tenants
        .list_tenants(pb::ListTenantsRequest::default())
        .await;
    assert_eq!(anon.expect_err("anonymous").code(), Code::Unauthenticated);
    let created = tenants
        .create_tenant(authed(
            pb::CreateTenantRequest {
                name: "Acme".into(),
                time_zone: "Europe/Moscow".into(),
                locale: "ru".into(),
            },
            ADMIN,
        ))
        .await?
        .into_inner();
    let a = created.tenant.clone().unwrap_or_default().tenant_id;
    let key_a = created.api_key;
    assert!(key_a.starts_with("hlk_"));
    let bad_tz = tenants
        .create_tenant(authed(
            pb::CreateTenantRequest {
                name: "X".into(),
                time_zone: "Nowhere/Else".into(),
                locale: String::new(),
            },
            ADMIN,
        ))
        .await
        .expect_err("bad time zone");
    assert_eq!(bad_tz.code(), Code::InvalidArgument);
    assert!(
        bad_tz.message().contains("time_zone"),
        "{}",
        bad_tz.message()
    );
    let denied = tenants
        .create_tenant(authed(
            pb::CreateTenantRequest {
                name: "Y".into(),
                ..Default::default()
            },
            &key_a,
        ))
        .await
        .expect_err("tenant key");
    assert_eq!(denied.code(), Code::PermissionDenied);
    let (_, key_b) = api.tenant("Bravo").await?;

    // Resources: create over gRPC, read over REST, and the other way round.
    let q = res
        .put_resource(authed(
            pb::PutResourceRequest {
                kind: "queue".into(),
                id: "support".into(),
                json: json!({"name": "Support", "strategy": "fewest-calls"}).to_string(),
                create_only: true,
                ..Default::default()
            },
            &key_a,
        ))
        .await?
        .into_inner();
    assert_eq!((q.version, q.id.as_str()), (1, "support"));
    let (_, rest) = api
        .call(Method::GET, "/v1/queues/support", Some(&key_a), None)
        .await?;
    assert_eq!(rest["strategy"], "fewest-calls");
    let from_grpc: serde_json::Value = serde_json::from_str(&q.json)?;
    assert_eq!(from_grpc, rest, "one view over both transports");

    let stale = res
        .put_resource(authed(
            pb::PutResourceRequest {
                kind: "queue".into(),
                id: "support".into(),
                json: json!({"name": "Support 2"}).to_string(),
                if_match: 7,
                ..Default::default()
            },
            &key_a,
        ))
        .await
        .expect_err("stale version");
    assert_eq!(stale.code(), Code::FailedPrecondition);
    let invalid = res
        .put_resource(authed(
            pb::PutResourceRequest {
                kind: "queue".into(),
                id: "q2".into(),
                json: json!({"name": "Q", "strategy": "psychic"}).to_string(),
                ..Default::default()
            },
            &key_a,
        ))
        .await
        .expect_err("bad strategy");
    assert_eq!(invalid.code(), Code::InvalidArgument);
    assert!(
        invalid.message().contains("strategy"),
        "{}",
        invalid.message()
    );
    for (kind, json) in [("nonsense", "{}"), ("queue", "{not json")] {
        let e = res
            .put_resource(authed(
                pb::PutResourceRequest {
                    kind: kind.into(),
                    id: "x".into(),
                    json: json.into(),
                    ..Default::default()
                },
                &key_a,
            ))
            .await
            .expect_err("bad request");
        assert_eq!(e.code(), Code::InvalidArgument, "{kind}: {}", e.message());
    }

    // Tenant B sees nothing of A's and touches nothing.
    let get = |key: &str| {
        authed(
            pb::GetResourceRequest {
                kind: "queue".into(),
                id: "support".into(),
            },
            key,
        )
    };
    assert_eq!(
        res.get_resource(get(&key_b)).await.expect_err("B").code(),
        Code::NotFound
    );
    let del = res
        .delete_resource(authed(
            pb::DeleteResourceRequest {
                kind: "queue".into(),
                id: "support".into(),
                if_match: 0,
            },
            &key_b,
        ))
        .await
        .expect_err("B deletes");
    assert_eq!(del.code(), Code::NotFound);
    let listed = res
        .list_resources(authed(
            pb::ListResourcesRequest {
                kind: "queue".into(),
                ..Default::default()
            },
            &key_b,
        ))
        .await?
        .into_inner();
    assert!(listed.items.is_empty());
    let other = tenants
        .get_tenant(authed(
            pb::GetTenantRequest {
                tenant_id: a.clone(),
            },
            &key_b,
        ))
        .await
        .expect_err("B reads A");
    assert_eq!(other.code(), Code::NotFound);
    assert_eq!(res.get_resource(get(&key_a)).await?.into_inner().version, 1);

    // A deletes its own.
    res.delete_resource(authed(
        pb::DeleteResourceRequest {
            kind: "queue".into(),
            id: "support".into(),
            if_match: 1,
        },
        &key_a,
    ))
    .await?;
    assert_eq!(
        res.get_resource(get(&key_a))
            .await
            .expect_err("gone")
            .code(),
        Code::NotFound
    );
    api.stop().await
}

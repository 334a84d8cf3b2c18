//! The configuration API over gRPC: `ResourceService` (every configuration resource, the
//! REST API's JSON bodies) and `TenantService`, authenticated by the same keys (metadata
//! `authorization: Bearer <key>`) and running the same code as the REST routes, so the
//! two can never disagree on validation, versions or tenant scoping.

use std::sync::Arc;

use axum::http::StatusCode;
use hotline_config::Resource;
use hotline_core::TenantId;
use hotline_proto::v1 as pb;
use hotline_store::Expect;
use tonic::{Request, Response, Status};

use crate::auth::Principal;
use crate::http::{ApiError, ApiState, Caller};
use crate::resources::{delete_doc, get_doc, list_page, roles, save, view};

impl From<ApiError> for Status {
    fn from(e: ApiError) -> Self {
        let mut message = e.message;
        if !e.fields.is_empty() {
            let fields: Vec<String> = e
                .fields
                .iter()
                .map(|f| format!("{} ({})", f.field, f.rule))
                .collect();
            message = format!("{message} [fields: {}]", fields.join(", "));
        }
        match e.status {
            StatusCode::NOT_FOUND => Status::not_found(message),
            StatusCode::UNAUTHORIZED => Status::unauthenticated(message),
            StatusCode::FORBIDDEN => Status::permission_denied(message),
            StatusCode::PRECONDITION_FAILED | StatusCode::CONFLICT => {
                Status::failed_precondition(message)
            }
            StatusCode::SERVICE_UNAVAILABLE => Status::unavailable(message),
            s if s.is_client_error() => Status::invalid_argument(message),
            _ => Status::internal(message),
        }
    }
}

async fn caller<T>(s: &ApiState, req: &Request<T>) -> Result<Caller, Status> {
    let header = req
        .metadata()
        .get("authorization")
        .map(|v| {
            v.to_str()
                .map_err(|_| Status::unauthenticated("malformed authorization metadata"))
        })
        .transpose()?;
    s.auth
        .authenticate(header)
        .await
        .map(Caller)
        .map_err(|e| ApiError::from(e).into())
}

/// Runs `$body` with `R` bound to the resource type of `$kind`.
macro_rules! by_kind {
    ($kind:expr, $r:ident => $body:expr) => {{
        use hotline_config as c;
        match $kind {
            "queue" => {
                type $r = c::Queue;
                $body
            }
            "agent" => {
                type $r = c::Agent;
                $body
            }
            "ivr-menu" => {
                type $r = c::IvrMenu;
                $body
            }
            "business-hours" => {
                type $r = c::BusinessHours;
                $body
            }
            "entry-flow" => {
                type $r = c::EntryFlow;
                $body
            }
            "webhook" => {
                type $r = c::Webhook;
                $body
            }
            other => Err(Status::invalid_argument(format!(
                "kind: unknown resource kind {other:?}; expected queue, agent, ivr-menu, business-hours, entry-flow or webhook"
            ))),
        }
    }};
}

fn to_pb<R: Resource>(doc: &hotline_store::Document) -> Result<pb::Resource, Status> {
    Ok(pb::Resource {
        kind: R::KIND.to_owned(),
        id: doc.id.clone(),
        version: doc.version,
        json: view::<R>(doc)?.to_string(),
    })
}

fn tenant_of(c: &Caller, kind: &str, write: bool) -> Result<TenantId, Status> {
    Ok(c.tenant(write, roles(kind, write))?.clone())
}

/// `hotline.v1.ResourceService`.
#[derive(Debug)]
pub struct ResourceApi {
    pub state: Arc<ApiState>,
}

#[tonic::async_trait]
impl pb::resource_service_server::ResourceService for ResourceApi {
    async fn get_resource(
        &self,
        req: Request<pb::GetResourceRequest>,
    ) -> Result<Response<pb::Resource>, Status> {
        let c = caller(&self.state, &req).await?;
        let r = req.into_inner();
        let s = &self.state;
        by_kind!(r.kind.as_str(), R => {
            let tenant = tenant_of(&c, R::KIND, false)?;
            let doc = get_doc::<R>(s, &tenant, &r.id).await?;
            to_pb::<R>(&doc).map(Response::new)
        })
    }

    async fn list_resources(
        &self,
        req: Request<pb::ListResourcesRequest>,
    ) -> Result<Response<pb::ListResourcesResponse>, Status> {
        let c = caller(&self.state, &req).await?;
        let r = req.into_inner();
        let s = &self.state;
        let limit = if r.limit == 0 { 100 } else { r.limit };
        let after = (!r.after.is_empty()).then_some(r.after);
        let name = (!r.name_prefix.is_empty()).then_some(r.name_prefix);
        by_kind!(r.kind.as_str(), R => {
            let tenant = tenant_of(&c, R::KIND, false)?;
            let (docs, next) = list_page::<R>(s, &tenant, limit, after, name).await?;
            let items = docs.iter().map(to_pb::<R>).collect::<Result<Vec<_>, _>>()?;
            Ok(Response::new(pb::ListResourcesResponse {
                items,
                next: next.unwrap_or_default(),
            }))
        })
    }

    async fn put_resource(
        &self,
        req: Request<pb::PutResourceRequest>,
    ) -> Result<Response<pb::Resource>, Status> {
        let c = caller(&self.state, &req).await?;
        let r = req.into_inner();
        let s = &self.state;
        let expect = match (r.if_match, r.create_only) {
            (v, _) if v < 0 => {
                return Err(Status::invalid_argument("if_match: must not be negative"));
            }
            (0, false) => None,
            (0, true) => Some(Expect::Absent),
            (_, true) => {
                return Err(Status::invalid_argument(
                    "create_only and if_match exclude each other",
                ));
            }
            (v, false) => Some(Expect::Version(v)),
        };
        by_kind!(r.kind.as_str(), R => {
            let tenant = tenant_of(&c, R::KIND, true)?;
            let (doc, _) = save::<R>(s, &tenant, &r.id, r.json.as_bytes(), expect).await?;
            to_pb::<R>(&doc).map(Response::new)
        })
    }

    async fn delete_resource(
        &self,
        req: Request<pb::DeleteResourceRequest>,
    ) -> Result<Response<pb::DeleteResourceResponse>, Status> {
        let c = caller(&self.state, &req).await?;
        let r = req.into_inner();
        let s = &self.state;
        let expected = (r.if_match != 0).then_some(r.if_match);
        by_kind!(r.kind.as_str(), R => {
            let tenant = tenant_of(&c, R::KIND, true)?;
            delete_doc::<R>(s, &tenant, &r.id, expected).await?;
            Ok(Response::new(pb::DeleteResourceResponse {}))
        })
    }
}

/// `hotline.v1.TenantService`: what the REST tenant routes do.
#[derive(Debug)]
pub struct TenantApi {
    pub state: Arc<ApiState>,
}

fn tenant_pb(t: &hotline_store::Tenant) -> pb::Tenant {
    let secs = t
        .created_at
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0);
    pb::Tenant {
        tenant_id: t.id.to_string(),
        name: t.name.clone(),
        time_zone: t.time_zone.clone(),
        locale: t.locale.clone(),
        status: match t.status {
            hotline_store::TenantStatus::Active => pb::tenant::Status::Active,
            hotline_store::TenantStatus::Suspended => pb::tenant::Status::Suspended,
        } as i32,
        created_at: Some(prost_types::Timestamp {
            seconds: secs,
            nanos: 0,
        }),
    }
}

#[tonic::async_trait]
impl pb::tenant_service_server::TenantService for TenantApi {
    async fn create_tenant(
        &self,
        req: Request<pb::CreateTenantRequest>,
    ) -> Result<Response<pb::CreateTenantResponse>, Status> {
        let c = caller(&self.state, &req).await?;
        let r = req.into_inner();
        let body = serde_json::json!({
            "name": r.name,
            "time_zone": if r.time_zone.is_empty() { "UTC".to_owned() } else { r.time_zone },
            "locale": if r.locale.is_empty() { "en".to_owned() } else { r.locale },
        });
        let (tenant, key) = crate::http::create_tenant_core(&self.state, &c, body).await?;
        Ok(Response::new(pb::CreateTenantResponse {
            tenant: Some(tenant_pb(&tenant)),
            api_key: key.expose().to_owned(),
        }))
    }

    async fn get_tenant(
        &self,
        req: Request<pb::GetTenantRequest>,
    ) -> Result<Response<pb::Tenant>, Status> {
        let c = caller(&self.state, &req).await?;
        let id = req.into_inner().tenant_id;
        let t = crate::http::visible_tenant(&self.state, &c, &id).await?;
        Ok(Response::new(tenant_pb(&t)))
    }

    async fn list_tenants(
        &self,
        req: Request<pb::ListTenantsRequest>,
    ) -> Result<Response<pb::ListTenantsResponse>, Status> {
        let c = caller(&self.state, &req).await?;
        let tenants = match &c.0 {
            Principal::Provider => self.state.store.tenants().await.map_err(ApiError::from)?,
            Principal::Tenant { tenant, .. } => self
                .state
                .store
                .tenant(tenant)
                .await
                .map_err(ApiError::from)?
                .into_iter()
                .collect(),
        };
        Ok(Response::new(pb::ListTenantsResponse {
            tenants: tenants.iter().map(tenant_pb).collect(),
            next_page_token: String::new(),
        }))
    }
}

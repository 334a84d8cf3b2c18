//! The public REST/JSON API: the error shape every route shares, authentication, and the
//! routes for tenants and API keys.
//!
//! Every error is `{"error": {"code", "message", "fields": [{"field", "rule", "message"}]}}`
//! with a 4xx status naming what was wrong; internal failures are a bare 500 whose cause
//! is logged, never sent. A tenant key that names another tenant's resource gets 404,
//! exactly as for a resource that does not exist, so nothing leaks across tenants.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use hotline_core::TenantId;
use hotline_store::{NewTenant, Store, Tenant, TenantStatus};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::auth::{AuthError, Authenticator, Principal, Role};

/// What every handler shares.
#[derive(Debug)]
pub struct ApiState {
    pub store: Arc<dyn Store>,
    pub auth: Authenticator,
    pub objects: hotline_objects::Objects,
}

type AppState = Arc<ApiState>;

/// One field that failed validation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    pub field: String,
    pub rule: String,
    pub message: String,
}

/// An API error: its status, a stable machine code, a message, and failed fields.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub fields: Vec<FieldError>,
}

impl ApiError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            fields: Vec::new(),
        }
    }

    /// 404: also what a tenant gets for another tenant's resource.
    pub fn not_found(what: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("{what} not found"),
        )
    }

    /// 403: authenticated, but the role or principal may not do this.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", message)
    }

    /// 409.
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, "conflict", message)
    }

    /// 422 naming one field.
    pub fn invalid(field: &str, rule: &str, message: impl Into<String>) -> Self {
        let message = message.into();
        Self {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            code: "validation_failed",
            message: format!("{field}: {message}"),
            fields: vec![FieldError {
                field: field.to_owned(),
                rule: rule.to_owned(),
                message,
            }],
        }
    }

    /// 500; the cause is logged here and not sent.
    pub fn internal(err: &(dyn std::error::Error + 'static)) -> Self {
        let _ = hotline_runtime::internal_status("api", err);
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "internal error",
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut body = json!({"code": self.code, "message": self.message});
        if !self.fields.is_empty() {
            body["fields"] = json!(self.fields);
        }
        let mut resp = (self.status, Json(json!({ "error": body }))).into_response();
        if self.status == StatusCode::UNAUTHORIZED
            && let Ok(v) = "Bearer".parse()
        {
            resp.headers_mut().insert("www-authenticate", v);
        }
        resp
    }
}

impl From<AuthError> for ApiError {
    fn from(e: AuthError) -> Self {
        match e {
            AuthError::Unavailable => Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "authentication is unavailable; retry",
            ),
            other => Self::new(
                StatusCode::UNAUTHORIZED,
                "unauthenticated",
                other.to_string(),
            ),
        }
    }
}

impl From<hotline_store::Error> for ApiError {
    fn from(e: hotline_store::Error) -> Self {
        match e {
            hotline_store::Error::Conflict { what } => {
                Self::conflict(format!("{what} already exists"))
            }
            hotline_store::Error::NotFound { what } => Self::not_found(&what),
            hotline_store::Error::Invalid { what, reason } => {
                Self::invalid(what, "invalid", reason)
            }
            hotline_store::Error::VersionMismatch { current, .. } => Self {
                status: StatusCode::PRECONDITION_FAILED,
                code: "precondition_failed",
                message: format!("the resource changed; its current version is {current}"),
                fields: Vec::new(),
            },
            other => Self::internal(&other),
        }
    }
}

impl From<JsonRejection> for ApiError {
    fn from(e: JsonRejection) -> Self {
        let status = match e {
            JsonRejection::MissingJsonContentType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            JsonRejection::BytesRejection(_) => StatusCode::BAD_REQUEST,
            JsonRejection::JsonSyntaxError(_) => StatusCode::BAD_REQUEST,
            _ => StatusCode::UNPROCESSABLE_ENTITY,
        };
        Self::new(status, "bad_request", e.body_text())
    }
}

/// A JSON request body taken as bytes: refuses another content type (415) and a body
/// over the limit (413) with the API's error shape, as the `Json` extractor does.
pub(crate) fn json_body(
    headers: &HeaderMap,
    body: Result<axum::body::Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<axum::body::Bytes, ApiError> {
    let is_json = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|m| {
            let m = m.trim().to_ascii_lowercase();
            m == "application/json" || (m.starts_with("application/") && m.ends_with("+json"))
        })
        .unwrap_or(false);
    if !is_json {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "expected Content-Type: application/json",
        ));
    }
    body.map_err(|e| {
        let status = e.status();
        let code = if status == StatusCode::PAYLOAD_TOO_LARGE {
            "payload_too_large"
        } else {
            "bad_request"
        };
        ApiError::new(status, code, e.body_text())
    })
}

/// The authenticated caller of a request.
#[derive(Debug, Clone)]
pub struct Caller(pub Principal);

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let header = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .map(|v| v.to_str().map_err(|_| AuthError::Malformed))
            .transpose()?;
        Ok(Caller(state.auth.authenticate(header).await?))
    }
}

impl Caller {
    pub(crate) fn provider(&self) -> Result<(), ApiError> {
        match self.0 {
            Principal::Provider => Ok(()),
            Principal::Tenant { .. } => Err(ApiError::forbidden(
                "only the provider's admin token may do this",
            )),
        }
    }

    /// The caller's tenant, when its role allows `write`s or only reads.
    pub(crate) fn tenant(&self, write: bool, allowed: &[Role]) -> Result<&TenantId, ApiError> {
        match &self.0 {
            Principal::Provider => Err(ApiError::forbidden(
                "the provider token manages tenants; use a tenant API key",
            )),
            Principal::Tenant { tenant, role, .. } => {
                if allowed.contains(role) {
                    Ok(tenant)
                } else {
                    Err(ApiError::forbidden(format!(
                        "role {} may not {} this resource",
                        role.as_str(),
                        if write { "change" } else { "read" }
                    )))
                }
            }
        }
    }
}

/// RFC 3339 in UTC, second precision.
pub fn rfc3339(t: SystemTime) -> String {
    let secs = t
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let days = secs / 86_400;
    let rem = secs % 86_400;
    let (y, m, d) = civil_from_days(i64::try_from(days).unwrap_or(0));
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

/// Days since 1970-01-01 to a civil date (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = u32::try_from(doy - (153 * mp + 2) / 5 + 1).unwrap_or(1);
    let m = u32::try_from(if mp < 10 { mp + 3 } else { mp - 9 }).unwrap_or(1);
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[derive(Debug, Serialize)]
struct TenantView {
    id: String,
    name: String,
    time_zone: String,
    locale: String,
    status: &'static str,
    created_at: String,
}

impl From<&Tenant> for TenantView {
    fn from(t: &Tenant) -> Self {
        Self {
            id: t.id.to_string(),
            name: t.name.clone(),
            time_zone: t.time_zone.clone(),
            locale: t.locale.clone(),
            status: t.status.as_str(),
            created_at: rfc3339(t.created_at),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateTenant {
    /// Chosen by the provider, or generated.
    #[serde(default)]
    id: Option<String>,
    name: String,
    #[serde(default = "default_tz")]
    time_zone: String,
    #[serde(default = "default_locale")]
    locale: String,
}

fn default_tz() -> String {
    "UTC".into()
}

fn default_locale() -> String {
    "en".into()
}

fn parse_json<T: serde::de::DeserializeOwned>(
    body: Result<Json<serde_json::Value>, JsonRejection>,
) -> Result<T, ApiError> {
    let Json(value) = body?;
    from_value(value)
}

fn from_value<T: serde::de::DeserializeOwned>(value: serde_json::Value) -> Result<T, ApiError> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let field = if path == "." { "body".to_owned() } else { path };
        ApiError::invalid(&field, "format", e.into_inner().to_string())
    })
}

/// Creates a tenant and its first admin key (REST and gRPC share this).
pub(crate) async fn create_tenant_core(
    s: &ApiState,
    caller: &Caller,
    body: serde_json::Value,
) -> Result<(Tenant, hotline_runtime::Secret), ApiError> {
    caller.provider()?;
    let req: CreateTenant = from_value(body)?;
    let id = match req.id {
        Some(id) => {
            TenantId::new(id).map_err(|e| ApiError::invalid("id", "format", e.to_string()))?
        }
        None => TenantId::new(uuid::Uuid::now_v7().simple().to_string())
            .map_err(|e| ApiError::internal(&e))?,
    };
    let mut settings = hotline_config::TenantSettings {
        name: req.name,
        time_zone: req.time_zone,
        locale: req.locale,
    };
    hotline_config::Validate::normalize(&mut settings);
    hotline_config::Validate::validate(&settings)?;
    let tenant = s
        .store
        .create_tenant(NewTenant {
            id: id.clone(),
            name: settings.name,
            time_zone: settings.time_zone,
            locale: settings.locale,
        })
        .await?;
    let (record, key) = issue_key(s, &id, Role::Admin, "initial".to_owned()).await?;
    tracing::info!(tenant = %tenant.id, key_id = %record.id, "tenant created");
    Ok((tenant, key))
}

async fn create_tenant(
    State(s): State<AppState>,
    caller: Caller,
    body: Result<Json<serde_json::Value>, JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(value) = body?;
    let (tenant, key) = create_tenant_core(&s, &caller, value).await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({
            "tenant": TenantView::from(&tenant),
            "api_key": key.expose(),
        })),
    )
        .into_response())
}

async fn list_tenants(State(s): State<AppState>, caller: Caller) -> Result<Response, ApiError> {
    let tenants = match &caller.0 {
        Principal::Provider => s.store.tenants().await?,
        Principal::Tenant { tenant, .. } => s.store.tenant(tenant).await?.into_iter().collect(),
    };
    let views: Vec<TenantView> = tenants.iter().map(TenantView::from).collect();
    Ok(Json(json!({ "tenants": views })).into_response())
}

/// The tenant named in the path, if the caller may see it; otherwise 404.
pub(crate) async fn visible_tenant(
    s: &ApiState,
    caller: &Caller,
    id: &str,
) -> Result<Tenant, ApiError> {
    let id = TenantId::new(id).map_err(|_| ApiError::not_found("tenant"))?;
    if let Principal::Tenant { tenant, .. } = &caller.0
        && *tenant != id
    {
        return Err(ApiError::not_found("tenant"));
    }
    s.store
        .tenant(&id)
        .await?
        .ok_or_else(|| ApiError::not_found("tenant"))
}

async fn get_tenant(
    State(s): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let t = visible_tenant(&s, &caller, &id).await?;
    Ok(Json(TenantView::from(&t)).into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PatchTenant {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    time_zone: Option<String>,
    #[serde(default)]
    locale: Option<String>,
}

/// Changes a tenant's name, time zone or locale: the provider, or the tenant's admin.
async fn patch_tenant(
    State(s): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    body: Result<Json<serde_json::Value>, JsonRejection>,
) -> Result<Response, ApiError> {
    let t = visible_tenant(&s, &caller, &id).await?;
    if let Principal::Tenant { role, .. } = &caller.0
        && *role != Role::Admin
    {
        return Err(ApiError::forbidden(format!(
            "role {} may not change tenant settings",
            role.as_str()
        )));
    }
    let patch: PatchTenant = parse_json(body)?;
    let mut settings = hotline_config::TenantSettings {
        name: patch.name.unwrap_or(t.name),
        time_zone: patch.time_zone.unwrap_or(t.time_zone),
        locale: patch.locale.unwrap_or(t.locale),
    };
    hotline_config::Validate::normalize(&mut settings);
    hotline_config::Validate::validate(&settings)?;
    let updated = s
        .store
        .update_tenant_with(
            NewTenant {
                id: t.id.clone(),
                name: settings.name,
                time_zone: settings.time_zone,
                locale: settings.locale,
            },
            Some(crate::resources::changed(&t.id, "tenant", t.id.as_str(), 1)),
        )
        .await?;
    Ok(Json(TenantView::from(&updated)).into_response())
}

async fn set_status(
    s: &ApiState,
    caller: &Caller,
    id: &str,
    status: TenantStatus,
) -> Result<Response, ApiError> {
    let t = visible_tenant(s, caller, id).await?;
    caller.provider()?;
    s.store.set_tenant_status(&t.id, status).await?;
    let t = s
        .store
        .tenant(&t.id)
        .await?
        .ok_or_else(|| ApiError::not_found("tenant"))?;
    Ok(Json(TenantView::from(&t)).into_response())
}

async fn suspend_tenant(
    State(s): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    set_status(&s, &caller, &id, TenantStatus::Suspended).await
}

async fn resume_tenant(
    State(s): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    set_status(&s, &caller, &id, TenantStatus::Active).await
}

async fn delete_tenant(
    State(s): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let t = visible_tenant(&s, &caller, &id).await?;
    caller.provider()?;
    if !s.store.delete_tenant(&t.id).await? {
        return Err(ApiError::not_found("tenant"));
    }
    s.auth.forget_all();
    tracing::info!(tenant = %t.id, "tenant deleted");
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateKey {
    role: String,
    #[serde(default)]
    label: String,
}

#[derive(Debug, Serialize)]
struct KeyView {
    id: String,
    role: String,
    label: String,
    created_at: String,
    revoked_at: Option<String>,
}

impl From<&hotline_store::ApiKey> for KeyView {
    fn from(k: &hotline_store::ApiKey) -> Self {
        Self {
            id: k.id.clone(),
            role: k.role.clone(),
            label: k.label.clone(),
            created_at: rfc3339(k.created_at),
            revoked_at: k.revoked_at.map(rfc3339),
        }
    }
}

async fn issue_key(
    s: &ApiState,
    tenant: &TenantId,
    role: Role,
    label: String,
) -> Result<(hotline_store::ApiKey, hotline_runtime::Secret), ApiError> {
    let key = crate::auth::new_key().map_err(|e| ApiError::internal(&e))?;
    let record = s
        .store
        .create_api_key(hotline_store::ApiKeyNew {
            id: format!("key-{}", uuid::Uuid::now_v7().simple()),
            tenant: tenant.clone(),
            role: role.as_str().to_owned(),
            label,
            hash: key.hash,
        })
        .await?;
    Ok((record, key.plaintext))
}

async fn create_key(
    State(s): State<AppState>,
    caller: Caller,
    body: Result<Json<serde_json::Value>, JsonRejection>,
) -> Result<Response, ApiError> {
    let tenant = caller.tenant(true, &[Role::Admin])?.clone();
    let req: CreateKey = parse_json(body)?;
    let role = Role::parse(&req.role).ok_or_else(|| {
        ApiError::invalid(
            "role",
            "enum",
            "expected admin, supervisor, agent or readonly",
        )
    })?;
    if req.label.len() > 200 {
        return Err(ApiError::invalid(
            "label",
            "length",
            "at most 200 characters",
        ));
    }
    let (record, plaintext) = issue_key(&s, &tenant, role, req.label).await?;
    let mut view = json!(KeyView::from(&record));
    view["api_key"] = json!(plaintext.expose());
    Ok((StatusCode::CREATED, Json(view)).into_response())
}

async fn list_keys(State(s): State<AppState>, caller: Caller) -> Result<Response, ApiError> {
    let tenant = caller.tenant(false, &[Role::Admin])?;
    let keys = s.store.api_keys(tenant).await?;
    let views: Vec<KeyView> = keys.iter().map(KeyView::from).collect();
    Ok(Json(json!({ "api_keys": views })).into_response())
}

async fn revoke_key(
    State(s): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let tenant = caller.tenant(true, &[Role::Admin])?;
    if !s.store.revoke_api_key(tenant, &id).await? {
        return Err(ApiError::not_found("api key"));
    }
    s.auth.forget_all();
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn rotate_key(
    State(s): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let tenant = caller.tenant(true, &[Role::Admin])?.clone();
    let old = s
        .store
        .api_keys(&tenant)
        .await?
        .into_iter()
        .find(|k| k.id == id && k.revoked_at.is_none())
        .ok_or_else(|| ApiError::not_found("api key"))?;
    let role = Role::parse(&old.role).ok_or_else(|| ApiError::not_found("api key"))?;
    let (record, plaintext) = issue_key(&s, &tenant, role, old.label.clone()).await?;
    s.store.revoke_api_key(&tenant, &old.id).await?;
    s.auth.forget_all();
    let mut view = json!(KeyView::from(&record));
    view["api_key"] = json!(plaintext.expose());
    view["replaces"] = json!(old.id);
    Ok((StatusCode::CREATED, Json(view)).into_response())
}

async fn fallback(caller: Result<Caller, ApiError>, headers: HeaderMap) -> ApiError {
    let _ = headers;
    match caller {
        Err(e) => e,
        Ok(_) => ApiError::not_found("route"),
    }
}

/// The REST routes.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/v1/tenants", post(create_tenant).get(list_tenants))
        .route(
            "/v1/tenants/{id}",
            get(get_tenant).delete(delete_tenant).patch(patch_tenant),
        )
        .route("/v1/tenants/{id}/suspend", post(suspend_tenant))
        .route("/v1/tenants/{id}/resume", post(resume_tenant))
        .route("/v1/api-keys", post(create_key).get(list_keys))
        .route("/v1/api-keys/{id}", axum::routing::delete(revoke_key))
        .route("/v1/api-keys/{id}/rotate", post(rotate_key))
        .merge(crate::resources::routes())
        .merge(crate::calls::routes())
        .merge(crate::numbers::routes())
        .merge(crate::prompts::routes())
        .merge(crate::openapi::routes())
        .fallback(fallback)
        .with_state(state)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_formats_utc() {
        assert_eq!(rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00Z");
        let t = UNIX_EPOCH + std::time::Duration::from_secs(1_764_028_800 + 3661);
        assert_eq!(rfc3339(t), "2025-11-25T01:01:01Z");
        let leap = UNIX_EPOCH + std::time::Duration::from_secs(951_782_400);
        assert_eq!(rfc3339(leap), "2000-02-29T00:00:00Z");
    }
}

//! The tenant's configuration resources over REST, one generic implementation for every
//! kind (`/v1/queues`, `/v1/agents`, `/v1/ivr-menus`…):
//!
//! - `GET /v1/<kind>?limit=&after=&name=` lists (ordered by id, `next` is the cursor);
//! - `POST /v1/<kind>` creates with a generated id (`Idempotency-Key` replays the first
//!   answer to a retried create);
//! - `GET /v1/<kind>/{id}` reads, with `ETag: "<version>"`;
//! - `PUT /v1/<kind>/{id}` creates or replaces (`If-Match` for optimistic concurrency,
//!   `If-None-Match: *` for create-only); write-only secrets left out are kept;
//! - `DELETE /v1/<kind>/{id}` deletes, refused with 409 while another resource refers
//!   to it.
//!
//! Every body is validated by `hotline-config` before anything is stored (422 naming each
//! field and rule), references must name existing resources of the same tenant, IVR
//! menus and overflow chains are checked as a graph, and every change appends a
//! `ConfigChanged` event to the outbox in the same transaction.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::SystemTime;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use hotline_config::{Resource, ValidationError};
use hotline_core::events::payload::ConfigChanged;
use hotline_core::{Event, Payload, TenantId};
use hotline_store::{Document, DocumentWrite, Expect, OutboxEntry, Page};
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::auth::Role;
use crate::http::{ApiError, ApiState, Caller, FieldError};

type AppState = Arc<ApiState>;

/// Longest request body accepted for a configuration resource.
pub const MAX_BODY: usize = 256 * 1024;

const READ_ROLES: &[Role] = &[Role::Admin, Role::Supervisor, Role::Agent, Role::Readonly];
const WRITE_ROLES: &[Role] = &[Role::Admin, Role::Supervisor];
const ADMIN_ONLY: &[Role] = &[Role::Admin];

/// Who may read and write a kind.
pub(crate) fn roles(kind: &str, write: bool) -> &'static [Role] {
    match (kind, write) {
        // Webhooks carry delivery URLs and signing secrets.
        ("webhook", _) => ADMIN_ONLY,
        (_, true) => WRITE_ROLES,
        (_, false) => READ_ROLES,
    }
}

impl From<Vec<ValidationError>> for ApiError {
    fn from(errors: Vec<ValidationError>) -> Self {
        let message = errors
            .iter()
            .map(|e| format!("{}: {}", e.field, e.message))
            .collect::<Vec<_>>()
            .join("; ");
        ApiError {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            code: "validation_failed",
            message,
            fields: errors
                .into_iter()
                .map(|e| FieldError {
                    field: e.field,
                    rule: e.rule.to_string(),
                    message: e.message,
                })
                .collect(),
        }
    }
}

fn millis(t: SystemTime) -> String {
    crate::http::rfc3339(t)
}

fn etag(version: i64) -> HeaderValue {
    HeaderValue::from_str(&format!("\"{version}\"")).unwrap_or(HeaderValue::from_static("\"0\""))
}

/// The public view of a stored document: its body without secrets, plus id and version.
pub(crate) fn view<R: Resource>(doc: &Document) -> Result<Value, ApiError> {
    let r: R = hotline_config::parse_stored(doc.body.as_bytes()).map_err(|e| {
        ApiError::internal(&std::io::Error::other(format!(
            "stored {} {} does not parse: {e}",
            doc.kind, doc.id
        )))
    })?;
    let mut v = serde_json::to_value(&r).map_err(|e| ApiError::internal(&e))?;
    if let Value::Object(m) = &mut v {
        m.insert("id".into(), json!(doc.id));
        m.insert("version".into(), json!(doc.version));
        m.insert("created_at".into(), json!(millis(doc.created_at)));
        m.insert("updated_at".into(), json!(millis(doc.updated_at)));
    }
    Ok(v)
}

pub(crate) fn changed(tenant: &TenantId, kind: &str, id: &str, version: i64) -> OutboxEntry {
    let event = Event::new(
        tenant.clone(),
        None,
        Payload::ConfigChanged(ConfigChanged {
            kind: kind.to_owned(),
            id: id.to_owned(),
            version,
            deleted: version == 0,
        }),
    );
    OutboxEntry {
        key: event.key(),
        payload: event.encode_to_vec(),
    }
}

fn check_id(id: &str) -> Result<(), ApiError> {
    if hotline_config::is_valid_id(id) {
        Ok(())
    } else {
        Err(ApiError::invalid(
            "id",
            "format",
            "expected 1 to 64 ASCII letters, digits, '-', '_' or '.', starting with a letter or digit",
        ))
    }
}

/// The version named by `If-Match`, if any. `*` means "any existing one".
pub(crate) fn if_match(headers: &HeaderMap) -> Result<Option<Option<i64>>, ApiError> {
    let Some(v) = headers.get(header::IF_MATCH) else {
        return Ok(None);
    };
    let s = v
        .to_str()
        .map_err(|_| ApiError::invalid("If-Match", "format", "not text"))?;
    if s.trim() == "*" {
        return Ok(Some(None));
    }
    let n = s
        .trim()
        .trim_start_matches("W/")
        .trim_matches('"')
        .parse::<i64>()
        .map_err(|_| ApiError::invalid("If-Match", "format", "expected an ETag like \"3\""))?;
    Ok(Some(Some(n)))
}

pub(crate) fn precondition_failed(current: Option<i64>) -> ApiError {
    ApiError {
        status: StatusCode::PRECONDITION_FAILED,
        code: "precondition_failed",
        message: match current {
            Some(v) => format!("the resource changed; its current version is {v}"),
            None => "the resource does not exist".to_owned(),
        },
        fields: Vec::new(),
    }
}

/// Checks every resource `r` refers to exists in the tenant, and the cross-resource
/// graphs its kind takes part in.
async fn check_graph<R: Resource>(
    s: &ApiState,
    tenant: &TenantId,
    id: &str,
    r: &R,
) -> Result<(), ApiError> {
    let refs = r.references();
    let mut existing = BTreeSet::new();
    for reference in &refs {
        if reference.kind == R::KIND && reference.id == id {
            existing.insert((reference.kind, reference.id.clone()));
            continue;
        }
        if s.store
            .document(tenant, reference.kind, &reference.id)
            .await?
            .is_some()
        {
            existing.insert((reference.kind, reference.id.clone()));
        }
    }
    hotline_config::check_references(r, |kind, rid| {
        existing.iter().any(|(k, i)| *k == kind && i == rid)
    })?;

    if R::KIND == hotline_config::IvrMenu::KIND {
        let mut menus: BTreeMap<String, hotline_config::IvrMenu> = all(s, tenant).await?;
        let this = serde_json::to_value(r)
            .and_then(serde_json::from_value)
            .map_err(|e| ApiError::internal(&e))?;
        menus.insert(id.to_owned(), this);
        let queues: BTreeSet<String> = all::<hotline_config::Queue>(s, tenant)
            .await?
            .into_keys()
            .collect();
        hotline_config::validate_ivr_graph(&menus, &queues)?;
    }
    if R::KIND == hotline_config::Queue::KIND {
        let mut queues: BTreeMap<String, hotline_config::Queue> = all(s, tenant).await?;
        let this = serde_json::to_value(r)
            .and_then(serde_json::from_value)
            .map_err(|e| ApiError::internal(&e))?;
        queues.insert(id.to_owned(), this);
        hotline_config::validate_overflow_graph(&queues)?;
    }
    Ok(())
}

/// Every resource of one kind of a tenant.
async fn all<R: Resource>(
    s: &ApiState,
    tenant: &TenantId,
) -> Result<BTreeMap<String, R>, ApiError> {
    let mut out = BTreeMap::new();
    let mut after = None;
    loop {
        let page = s
            .store
            .documents(
                tenant,
                R::KIND,
                Page {
                    after_id: after.clone(),
                    limit: hotline_store::MAX_PAGE_LIMIT,
                    name_prefix: None,
                },
            )
            .await?;
        let full = page.len() >= hotline_store::MAX_PAGE_LIMIT as usize;
        for doc in page {
            after = Some(doc.id.clone());
            if let Ok(r) = hotline_config::parse_stored::<R>(doc.body.as_bytes()) {
                out.insert(doc.id, r);
            }
        }
        if !full {
            return Ok(out);
        }
    }
}

/// The first resource (kind, id, field) that refers to `kind`/`id`, if any.
async fn referrer(
    s: &ApiState,
    tenant: &TenantId,
    kind: &str,
    id: &str,
) -> Result<Option<(String, String, String)>, ApiError> {
    async fn scan<R: Resource>(
        s: &ApiState,
        tenant: &TenantId,
        kind: &str,
        id: &str,
    ) -> Result<Option<(String, String, String)>, ApiError> {
        for (rid, r) in all::<R>(s, tenant).await? {
            if R::KIND == kind && rid == id {
                continue;
            }
            if let Some(reference) = r
                .references()
                .into_iter()
                .find(|x| x.kind == kind && x.id == id)
            {
                return Ok(Some((R::KIND.to_owned(), rid, reference.field)));
            }
        }
        Ok(None)
    }
    use hotline_config as c;
    // Numbers live in their own table (what ingress resolves), not as documents.
    if kind == c::EntryFlow::KIND
        && let Some(number) = crate::numbers::using_entry_flow(s, tenant, id).await?
    {
        return Ok(Some((
            c::PhoneNumber::KIND.to_owned(),
            number,
            "entry_flow".to_owned(),
        )));
    }
    for found in [
        scan::<c::Queue>(s, tenant, kind, id).await?,
        scan::<c::Agent>(s, tenant, kind, id).await?,
        scan::<c::IvrMenu>(s, tenant, kind, id).await?,
        scan::<c::EntryFlow>(s, tenant, kind, id).await?,
        scan::<c::BusinessHours>(s, tenant, kind, id).await?,
        scan::<c::Webhook>(s, tenant, kind, id).await?,
    ] {
        if found.is_some() {
            return Ok(found);
        }
    }
    Ok(None)
}

/// Validates `body` as an `R` and stores it under `id`; the shared core of PUT and POST
/// over REST and of `PutResource` over gRPC.
pub(crate) async fn save<R: Resource>(
    s: &ApiState,
    tenant: &TenantId,
    id: &str,
    body: &[u8],
    client: Option<Expect>,
) -> Result<(Document, bool), ApiError> {
    check_id(id)?;
    if body.len() > MAX_BODY {
        return Err(ApiError::invalid(
            "body",
            "length",
            format!("at most {MAX_BODY} bytes"),
        ));
    }
    let mut r: R = hotline_config::parse(body)?;
    let stored = s.store.document(tenant, R::KIND, id).await?;
    let previous: Option<R> = match &stored {
        Some(doc) => hotline_config::parse_stored(doc.body.as_bytes()).ok(),
        None => None,
    };
    match (&client, &stored) {
        (Some(Expect::Version(v)), Some(doc)) if *v != doc.version => {
            return Err(precondition_failed(Some(doc.version)));
        }
        (Some(Expect::Version(_)), None) => return Err(precondition_failed(None)),
        (Some(Expect::Absent), Some(doc)) => return Err(precondition_failed(Some(doc.version))),
        _ => {}
    }
    hotline_config::carry_secrets(&mut r, previous.as_ref())?;
    check_graph(s, tenant, id, &r).await?;
    // Even without If-Match, write against what was read, so the version in the
    // ConfigChanged event is exact and a concurrent writer is not silently overwritten.
    let (expect, version) = match &stored {
        Some(doc) => (Expect::Version(doc.version), doc.version + 1),
        None => (Expect::Absent, 1),
    };
    let stored_json = hotline_config::to_stored_json(&r).map_err(|e| ApiError::internal(&e))?;
    let doc = s
        .store
        .put_document(
            DocumentWrite {
                tenant: tenant.clone(),
                kind: R::KIND.to_owned(),
                id: id.to_owned(),
                name: r.name().to_owned(),
                body: stored_json.to_string(),
                outbox: Some(changed(tenant, R::KIND, id, version)),
            },
            expect,
        )
        .await
        .map_err(|e| match e {
            hotline_store::Error::VersionMismatch { current, .. } => {
                precondition_failed(Some(current))
            }
            hotline_store::Error::Conflict { .. } => precondition_failed(None),
            other => other.into(),
        })?;
    Ok((doc, stored.is_none()))
}

pub(crate) fn with_etag(status: StatusCode, doc: &Document, body: Value) -> Response {
    let mut resp = (status, Json(body)).into_response();
    resp.headers_mut().insert(header::ETAG, etag(doc.version));
    resp
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    #[serde(default)]
    limit: Option<u32>,
    #[serde(default)]
    after: Option<String>,
    #[serde(default)]
    name: Option<String>,
}

/// One page of a kind, and the cursor of the next page (transport-independent).
pub(crate) async fn list_page<R: Resource>(
    s: &ApiState,
    tenant: &TenantId,
    limit: u32,
    after: Option<String>,
    name: Option<String>,
) -> Result<(Vec<Document>, Option<String>), ApiError> {
    if !(1..=hotline_store::MAX_PAGE_LIMIT).contains(&limit) {
        return Err(ApiError::invalid(
            "limit",
            "range",
            format!("must be 1 to {}", hotline_store::MAX_PAGE_LIMIT),
        ));
    }
    let docs = s
        .store
        .documents(
            tenant,
            R::KIND,
            Page {
                after_id: after,
                limit,
                name_prefix: name,
            },
        )
        .await?;
    let next = (docs.len() == limit as usize)
        .then(|| docs.last().map(|d| d.id.clone()))
        .flatten();
    Ok((docs, next))
}

async fn list<R: Resource>(
    State(s): State<AppState>,
    caller: Caller,
    query: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let tenant = caller.tenant(false, roles(R::KIND, false))?;
    let Query(q) = query.map_err(|e| ApiError::invalid("query", "format", e.body_text()))?;
    let (docs, next) = list_page::<R>(&s, tenant, q.limit.unwrap_or(100), q.after, q.name).await?;
    let items = docs.iter().map(view::<R>).collect::<Result<Vec<_>, _>>()?;
    Ok(Json(json!({ "items": items, "next": next })).into_response())
}

async fn get_one<R: Resource>(
    State(s): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let tenant = caller.tenant(false, roles(R::KIND, false))?;
    let doc = get_doc::<R>(&s, tenant, &id).await?;
    Ok(with_etag(StatusCode::OK, &doc, view::<R>(&doc)?))
}

/// One resource, or 404 (also for another tenant's).
pub(crate) async fn get_doc<R: Resource>(
    s: &ApiState,
    tenant: &TenantId,
    id: &str,
) -> Result<Document, ApiError> {
    s.store
        .document(tenant, R::KIND, id)
        .await?
        .ok_or_else(|| ApiError::not_found(R::KIND))
}

async fn put<R: Resource>(
    State(s): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<Response, ApiError> {
    let body = crate::http::json_body(&headers, body)?;
    let tenant = caller.tenant(true, roles(R::KIND, true))?.clone();
    let mut client = match if_match(&headers)? {
        Some(Some(v)) => Some(Expect::Version(v)),
        Some(None) => {
            // `If-Match: *`: only if it exists.
            match s.store.document(&tenant, R::KIND, &id).await? {
                Some(doc) => Some(Expect::Version(doc.version)),
                None => return Err(precondition_failed(None)),
            }
        }
        None => None,
    };
    if headers
        .get(header::IF_NONE_MATCH)
        .is_some_and(|v| v.as_bytes() == b"*")
    {
        client = Some(Expect::Absent);
    }
    let (doc, created) = save::<R>(&s, &tenant, &id, &body, client).await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok(with_etag(status, &doc, view::<R>(&doc)?))
}

async fn create<R: Resource>(
    State(s): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<Response, ApiError> {
    let body = crate::http::json_body(&headers, body)?;
    let tenant = caller.tenant(true, roles(R::KIND, true))?.clone();
    let idem = match headers.get("idempotency-key") {
        Some(v) => {
            let k = v
                .to_str()
                .ok()
                .filter(|k| !k.is_empty() && k.len() <= 255)
                .ok_or_else(|| {
                    ApiError::invalid("Idempotency-Key", "format", "1 to 255 visible characters")
                })?;
            Some(k.to_owned())
        }
        None => None,
    };
    let mut hasher = Sha256::new();
    hasher.update(R::KIND.as_bytes());
    hasher.update([0]);
    hasher.update(&body);
    let request_hash: [u8; 32] = hasher.finalize().into();
    let idem_key = idem.map(|k| format!("{}:{k}", R::KIND));
    if let Some(key) = &idem_key
        && let Some(prev) = s.store.idempotency_get(&tenant, key).await?
    {
        if prev.request_hash != request_hash {
            return Err(ApiError::invalid(
                "Idempotency-Key",
                "reused",
                "this key was used for a different request",
            ));
        }
        let status = StatusCode::from_u16(prev.status).unwrap_or(StatusCode::OK);
        let body: Value = serde_json::from_str(&prev.body).unwrap_or(Value::Null);
        let mut resp = (status, Json(body)).into_response();
        resp.headers_mut()
            .insert("idempotent-replayed", HeaderValue::from_static("true"));
        return Ok(resp);
    }
    let id = format!("{}-{}", short_kind(R::KIND), uuid::Uuid::now_v7().simple());
    let (doc, _) = save::<R>(&s, &tenant, &id, &body, Some(Expect::Absent)).await?;
    let v = view::<R>(&doc)?;
    if let Some(key) = &idem_key {
        s.store
            .idempotency_put(&tenant, key, &request_hash, 201, &v.to_string())
            .await?;
    }
    let mut resp = with_etag(StatusCode::CREATED, &doc, v);
    if let Ok(loc) = HeaderValue::from_str(&format!("{}/{id}", path_of(R::KIND))) {
        resp.headers_mut().insert(header::LOCATION, loc);
    }
    Ok(resp)
}

async fn delete<R: Resource>(
    State(s): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let tenant = caller.tenant(true, roles(R::KIND, true))?.clone();
    let expected = if_match(&headers)?.flatten();
    delete_doc::<R>(&s, &tenant, &id, expected).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Deletes a resource no other resource refers to (transport-independent).
pub(crate) async fn delete_doc<R: Resource>(
    s: &ApiState,
    tenant: &TenantId,
    id: &str,
    expected: Option<i64>,
) -> Result<(), ApiError> {
    let doc = get_doc::<R>(s, tenant, id).await?;
    if let Some(v) = expected
        && v != doc.version
    {
        return Err(precondition_failed(Some(doc.version)));
    }
    if let Some((kind, rid, field)) = referrer(s, tenant, R::KIND, id).await? {
        return Err(ApiError::conflict(format!(
            "{} {id} is still used by {kind} {rid} ({field})",
            R::KIND
        )));
    }
    let gone = s
        .store
        .delete_document(
            tenant,
            R::KIND,
            id,
            Expect::Version(doc.version),
            Some(changed(tenant, R::KIND, id, 0)),
        )
        .await
        .map_err(|e| match e {
            hotline_store::Error::VersionMismatch { current, .. } => {
                precondition_failed(Some(current))
            }
            other => other.into(),
        })?;
    if !gone {
        return Err(ApiError::not_found(R::KIND));
    }
    Ok(())
}

fn short_kind(kind: &str) -> &str {
    match kind {
        "business-hours" => "bh",
        "ivr-menu" => "ivr",
        "entry-flow" => "flow",
        "queue" => "q",
        "agent" => "agent",
        "webhook" => "wh",
        other => other,
    }
}

/// The collection path of a kind.
pub fn path_of(kind: &str) -> &'static str {
    match kind {
        "business-hours" => "/v1/business-hours",
        "ivr-menu" => "/v1/ivr-menus",
        "entry-flow" => "/v1/entry-flows",
        "queue" => "/v1/queues",
        "agent" => "/v1/agents",
        "webhook" => "/v1/webhooks",
        _ => "/v1",
    }
}

fn routes_for<R: Resource + Send + Sync + 'static>() -> Router<AppState> {
    let base = path_of(R::KIND);
    Router::new()
        .route(base, get(list::<R>).post(create::<R>))
        .route(
            &format!("{base}/{{id}}"),
            get(get_one::<R>).put(put::<R>).delete(delete::<R>),
        )
}

/// Every configuration resource's routes.
pub fn routes() -> Router<AppState> {
    use hotline_config as c;
    Router::new()
        .merge(routes_for::<c::BusinessHours>())
        .merge(routes_for::<c::IvrMenu>())
        .merge(routes_for::<c::EntryFlow>())
        .merge(routes_for::<c::Queue>())
        .merge(routes_for::<c::Agent>())
        .merge(routes_for::<c::Webhook>())
}

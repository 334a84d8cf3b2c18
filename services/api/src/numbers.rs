//! Phone numbers (DIDs) under `/v1/numbers`: which of the tenant's entry flows a dialled
//! number starts.
//!
//! - `GET /v1/numbers?limit=&after=&name=` lists the tenant's numbers (ordered by number,
//!   `next` is the cursor);
//! - `PUT /v1/numbers/{number}` assigns or updates one; the body is a
//!   [`hotline_config::PhoneNumber`] whose `number` may be left out (the path names it);
//!   `If-Match` and `If-None-Match: *` as for every resource;
//! - `GET /v1/numbers/{number}` reads one, with its `ETag`;
//! - `DELETE /v1/numbers/{number}` releases it.
//!
//! The path may write the number as people do (`8-800-555-35-35`, `+7 800 555 35 35`);
//! it is normalised to E.164 ([`hotline_config::normalize_number`]). A number belongs to
//! at most one tenant of the platform: asking for one that another tenant holds is 409
//! with nothing saying who holds it, and reading or deleting it is 404.
//!
//! Two places hold a number. The store's `phone_numbers` row is the truth: it is what
//! `ConfigService.ResolveNumber` (and so ingress) reads, and its unique key is what makes
//! a number belong to one tenant. That table has no `name` column, so the whole
//! [`hotline_config::PhoneNumber`] is also kept as a document of kind `phone-number`
//! (id: the number without its `+`, which the id alphabet lacks), which gives the label,
//! the version for `ETag`/`If-Match` and the timestamps. The two writes are two
//! transactions, so each handler orders them so that a failure leaves nothing
//! half-saved: the row is claimed first, the document written second with the
//! `ConfigChanged` event in its transaction, and the row is given back (or restored) if
//! the document write fails. A crash between the two writes can still leave a row
//! without its document (the number routes and lists without a label) or a document
//! without its row (ignored, and overwritten when the number is assigned again): every
//! reader starts from the rows. Changing a number's entry flow has to remove the row
//! and insert it again (the store has no update), which leaves a window of a few
//! milliseconds in which the number resolves to nothing and another tenant's PUT could
//! claim it (this request then answers 409 and deletes its document); an update method
//! in the store would close it.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use hotline_config::{EntryFlow, PhoneNumber, rule};
use hotline_core::TenantId;
use hotline_store::{Document, DocumentWrite, Expect, Page};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::http::{ApiError, ApiState, Caller};
use crate::resources::{changed, if_match, precondition_failed, roles};

type AppState = Arc<ApiState>;

const KIND: &str = PhoneNumber::KIND;

/// The routes of `/v1/numbers`.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/numbers", get(list))
        .route("/v1/numbers/{number}", get(get_one).put(put).delete(delete))
}

/// The first of the tenant's numbers whose calls start `entry_flow`, if any: what must
/// stop the entry flow from being deleted. Reads the `phone_numbers` rows (what ingress
/// routes by), not the documents.
pub async fn using_entry_flow(
    s: &ApiState,
    tenant: &TenantId,
    entry_flow: &str,
) -> Result<Option<String>, ApiError> {
    Ok(s.store
        .numbers(tenant)
        .await?
        .into_iter()
        .find(|n| n.entry_flow == entry_flow)
        .map(|n| n.number))
}

/// The document id of a number: E.164 without the `+`, which ids cannot hold.
fn doc_id(number: &str) -> &str {
    number.trim_start_matches('+')
}

/// 409 for a number another tenant holds, saying nothing about which.
fn taken(number: &str) -> ApiError {
    ApiError::conflict(format!(
        "number {number} is not available: it is assigned to another account"
    ))
}

fn concurrent() -> ApiError {
    ApiError::conflict("the number was changed by another request at the same time; retry")
}

/// The answer to a failed claim of `number`: 409 for a number another tenant holds (or
/// that another request of this tenant claimed first), the store's error otherwise.
async fn claim_failed(
    s: &ApiState,
    tenant: &TenantId,
    number: &str,
    e: hotline_store::Error,
) -> ApiError {
    match e {
        hotline_store::Error::Conflict { .. } => match s.store.resolve_number(number).await {
            Ok(Some(r)) if r.tenant == *tenant => concurrent(),
            _ => taken(number),
        },
        other => other.into(),
    }
}

fn version_error(e: hotline_store::Error) -> ApiError {
    match e {
        hotline_store::Error::VersionMismatch { current, .. } => precondition_failed(Some(current)),
        hotline_store::Error::Conflict { .. } => concurrent(),
        other => other.into(),
    }
}

/// The caller's number as stored: its row, and its document when there is one.
#[derive(Debug)]
struct Held {
    row: hotline_store::PhoneNumber,
    doc: Option<Document>,
}

impl Held {
    /// The version clients see; 0 for a number assigned without the api (no document).
    fn version(&self) -> i64 {
        self.doc.as_ref().map_or(0, |d| d.version)
    }
}

/// The number `raw` names, if the tenant holds it; `None` for anything else, including a
/// number another tenant holds and a path that is not a number at all.
async fn held(s: &ApiState, tenant: &TenantId, raw: &str) -> Result<Option<Held>, ApiError> {
    let Ok(number) = hotline_config::normalize_number(raw) else {
        return Ok(None);
    };
    let Some(row) = s.store.resolve_number(&number).await? else {
        return Ok(None);
    };
    if row.tenant != *tenant {
        return Ok(None);
    }
    let doc = s.store.document(tenant, KIND, doc_id(&number)).await?;
    Ok(Some(Held { row, doc }))
}

/// The public view: the row's number and entry flow (what calls follow), the label and
/// version from the document.
fn view(row: &hotline_store::PhoneNumber, doc: Option<&Document>) -> Value {
    let stored: Option<PhoneNumber> =
        doc.and_then(|d| hotline_config::parse_stored(d.body.as_bytes()).ok());
    let mut v = json!({
        "id": row.number,
        "number": row.number,
        "entry_flow": row.entry_flow,
    });
    if let Some(name) = stored.and_then(|p| p.name) {
        v["name"] = json!(name);
    }
    if let Some(d) = doc {
        v["version"] = json!(d.version);
        v["created_at"] = json!(crate::http::rfc3339(d.created_at));
        v["updated_at"] = json!(crate::http::rfc3339(d.updated_at));
    }
    v
}

fn respond(status: StatusCode, body: Value, version: Option<i64>) -> Response {
    let mut resp = (status, Json(body)).into_response();
    if let Some(v) = version
        && let Ok(tag) = HeaderValue::from_str(&format!("\"{v}\""))
    {
        resp.headers_mut().insert(header::ETAG, tag);
    }
    resp
}

/// Parses a PUT body for `number` (already E.164): the body may leave `number` out, and
/// if it gives one it must be the same number.
fn parse_body(number: &str, body: &[u8]) -> Result<PhoneNumber, ApiError> {
    if body.len() > crate::resources::MAX_BODY {
        return Err(ApiError::invalid(
            "body",
            rule::LENGTH,
            format!("at most {} bytes", crate::resources::MAX_BODY),
        ));
    }
    let mut object = match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(m)) => m,
        // Not a JSON object: let the config parser name what is wrong, as for every
        // other resource.
        _ => {
            return Err(match hotline_config::parse::<PhoneNumber>(body) {
                Err(errors) => errors.into(),
                Ok(_) => ApiError::invalid("body", rule::TYPE, "the body must be a JSON object"),
            });
        }
    };
    match object.get("number") {
        None => {
            object.insert("number".to_owned(), json!(number));
        }
        Some(Value::String(given)) => {
            if hotline_config::normalize_number(given).as_deref() != Ok(number) {
                return Err(ApiError::invalid(
                    "number",
                    rule::NOT_ALLOWED,
                    format!("the body names another number than the path ({number}); leave it out"),
                ));
            }
        }
        Some(_) => {}
    }
    let bytes = serde_json::to_vec(&Value::Object(object)).map_err(|e| ApiError::internal(&e))?;
    Ok(hotline_config::parse::<PhoneNumber>(&bytes)?)
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

/// Every `phone-number` document of the tenant, by id.
async fn documents(
    s: &ApiState,
    tenant: &TenantId,
) -> Result<BTreeMap<String, Document>, ApiError> {
    let mut out = BTreeMap::new();
    let mut after = None;
    loop {
        let page = s
            .store
            .documents(
                tenant,
                KIND,
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
            out.insert(doc.id.clone(), doc);
        }
        if !full {
            return Ok(out);
        }
    }
}

/// One page of the tenant's numbers, ordered by number, and the cursor of the next page
/// (transport-independent). `after` and `name` as in `GET /v1/numbers`.
pub(crate) async fn list_numbers(
    s: &ApiState,
    tenant: &TenantId,
    limit: u32,
    after: Option<String>,
    name: Option<String>,
) -> Result<(Vec<Value>, Option<String>), ApiError> {
    if !(1..=hotline_store::MAX_PAGE_LIMIT).contains(&limit) {
        return Err(ApiError::invalid(
            "limit",
            rule::RANGE,
            format!("must be 1 to {}", hotline_store::MAX_PAGE_LIMIT),
        ));
    }
    let after = match after.as_deref() {
        Some(a) => Some(
            hotline_config::normalize_number(a)
                .map_err(|e| ApiError::invalid("after", rule::FORMAT, e.to_string()))?,
        ),
        None => None,
    };
    let mut rows = s.store.numbers(tenant).await?;
    rows.sort_by(|a, b| a.number.cmp(&b.number));
    let docs = documents(s, tenant).await?;
    let mut items = Vec::new();
    let mut last = None;
    for row in rows
        .iter()
        .filter(|r| after.as_ref().is_none_or(|a| r.number > *a))
    {
        let doc = docs.get(doc_id(&row.number));
        if let Some(prefix) = &name {
            // Listing by name matches the label, or the number when there is none.
            let name = doc.map_or(row.number.as_str(), |d| d.name.as_str());
            if !name.starts_with(prefix.as_str()) {
                continue;
            }
        }
        items.push(view(row, doc));
        last = Some(row.number.clone());
        if items.len() == limit as usize {
            break;
        }
    }
    let next = (items.len() == limit as usize).then_some(last).flatten();
    Ok((items, next))
}

/// One of the tenant's numbers, however written, and its version (`None`: assigned
/// without the api, no document); 404 for anything else (transport-independent).
pub(crate) async fn get_number(
    s: &ApiState,
    tenant: &TenantId,
    raw: &str,
) -> Result<(Value, Option<i64>), ApiError> {
    let h = held(s, tenant, raw)
        .await?
        .ok_or_else(|| ApiError::not_found("phone number"))?;
    Ok((
        view(&h.row, h.doc.as_ref()),
        h.doc.as_ref().map(|d| d.version),
    ))
}

/// Assigns the number `raw` names to the tenant, or updates it, from a JSON body
/// (transport-independent). `if_match`: `Some(Some(v))` only at version `v`,
/// `Some(None)` only if the tenant holds it; `if_none_match`: only if it does not.
/// Returns the view, its version and whether the number was newly assigned.
#[tracing::instrument(name = "api.put_number", skip_all, fields(tenant = %tenant))]
pub(crate) async fn put_number(
    s: &ApiState,
    tenant: &TenantId,
    raw: &str,
    body: &[u8],
    if_match: Option<Option<i64>>,
    if_none_match: bool,
) -> Result<(Value, i64, bool), ApiError> {
    let number = hotline_config::normalize_number(raw)
        .map_err(|e| ApiError::invalid("number", rule::FORMAT, e.to_string()))?;
    let n = parse_body(&number, body)?;
    let flow_exists = s
        .store
        .document(tenant, EntryFlow::KIND, &n.entry_flow)
        .await?
        .is_some();
    hotline_config::check_references(&n, |kind, id| {
        kind == EntryFlow::KIND && id == n.entry_flow && flow_exists
    })?;

    let row = s.store.resolve_number(&number).await?;
    if row.as_ref().is_some_and(|r| r.tenant != *tenant) {
        return Err(taken(&number));
    }
    let current = match row {
        Some(row) => {
            let doc = s.store.document(tenant, KIND, doc_id(&number)).await?;
            Some(Held { row, doc })
        }
        None => None,
    };
    // Preconditions, against the version clients see (0: assigned without a document).
    match (if_match, &current) {
        (Some(Some(v)), Some(h)) if v != h.version() => {
            return Err(precondition_failed(Some(h.version())));
        }
        (Some(_), None) => return Err(precondition_failed(None)),
        _ => {}
    }
    if if_none_match && let Some(h) = &current {
        return Err(precondition_failed(Some(h.version())));
    }

    let wanted = hotline_store::PhoneNumber {
        tenant: tenant.clone(),
        number: number.clone(),
        entry_flow: n.entry_flow.clone(),
    };
    let (doc, created) = match current {
        None => {
            // A document left by an interrupted delete is overwritten.
            let stale = s.store.document(tenant, KIND, doc_id(&number)).await?;
            if let Err(e) = s.store.add_number_with(wanted.clone(), None).await {
                return Err(claim_failed(s, tenant, &number, e).await);
            }
            let expect = stale.map_or(Expect::Absent, |d| Expect::Version(d.version));
            match write_doc(s, tenant, &n, expect).await {
                Ok(doc) => (doc, true),
                Err(e) => {
                    give_back(s, tenant, &number, None).await;
                    return Err(version_error(e));
                }
            }
        }
        Some(h) if h.row.entry_flow == n.entry_flow => {
            // Only the label (or nothing) changes: one write, one transaction.
            let expect = h
                .doc
                .as_ref()
                .map_or(Expect::Absent, |d| Expect::Version(d.version));
            (
                write_doc(s, tenant, &n, expect)
                    .await
                    .map_err(version_error)?,
                false,
            )
        }
        Some(h) => {
            // A new entry flow: the row has to be removed and inserted again.
            if !s.store.remove_number_with(tenant, &number, None).await? {
                return Err(concurrent());
            }
            if let Err(e) = s.store.add_number_with(wanted.clone(), None).await {
                let err = claim_failed(s, tenant, &number, e).await;
                give_back(s, tenant, &number, Some(&h.row)).await;
                return Err(err);
            }
            let expect = h
                .doc
                .as_ref()
                .map_or(Expect::Absent, |d| Expect::Version(d.version));
            match write_doc(s, tenant, &n, expect).await {
                Ok(doc) => (doc, false),
                Err(e) => {
                    give_back(s, tenant, &number, Some(&h.row)).await;
                    return Err(version_error(e));
                }
            }
        }
    };
    tracing::info!(number = %number, entry_flow = %n.entry_flow, created, "phone number saved");
    Ok((view(&wanted, Some(&doc)), doc.version, created))
}

/// Releases one of the tenant's numbers (transport-independent); `expected` as
/// `If-Match`. 404 for a number the tenant does not hold.
#[tracing::instrument(name = "api.delete_number", skip_all, fields(tenant = %tenant))]
pub(crate) async fn delete_number(
    s: &ApiState,
    tenant: &TenantId,
    raw: &str,
    expected: Option<i64>,
) -> Result<(), ApiError> {
    let h = held(s, tenant, raw)
        .await?
        .ok_or_else(|| ApiError::not_found("phone number"))?;
    if let Some(v) = expected
        && v != h.version()
    {
        return Err(precondition_failed(Some(h.version())));
    }
    let number = h.row.number.clone();
    // The row is the truth, so its removal carries the event; the document goes after.
    if !s
        .store
        .remove_number_with(tenant, &number, Some(changed(tenant, KIND, &number, 0)))
        .await?
    {
        return Err(ApiError::not_found("phone number"));
    }
    if h.doc.is_some()
        && let Err(e) = s
            .store
            .delete_document(tenant, KIND, doc_id(&number), Expect::Any, None)
            .await
    {
        // Harmless: a document without its row is never shown, and is overwritten when
        // the number is assigned again.
        tracing::warn!(tenant = %tenant, number = %number, error = %e, "number released, its document stays behind");
    }
    tracing::info!(number = %number, "phone number released");
    Ok(())
}

async fn list(
    State(s): State<AppState>,
    caller: Caller,
    query: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let tenant = caller.tenant(false, roles(KIND, false))?;
    let Query(q) = query.map_err(|e| ApiError::invalid("query", rule::FORMAT, e.body_text()))?;
    let (items, next) = list_numbers(&s, tenant, q.limit.unwrap_or(100), q.after, q.name).await?;
    Ok(Json(json!({ "items": items, "next": next })).into_response())
}

async fn get_one(
    State(s): State<AppState>,
    caller: Caller,
    Path(raw): Path<String>,
) -> Result<Response, ApiError> {
    let tenant = caller.tenant(false, roles(KIND, false))?;
    let (v, version) = get_number(&s, tenant, &raw).await?;
    Ok(respond(StatusCode::OK, v, version))
}

async fn put(
    State(s): State<AppState>,
    caller: Caller,
    Path(raw): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<Response, ApiError> {
    let body = crate::http::json_body(&headers, body)?;
    let tenant = caller.tenant(true, roles(KIND, true))?.clone();
    let if_none_match = headers
        .get(header::IF_NONE_MATCH)
        .is_some_and(|v| v.as_bytes() == b"*");
    let (v, version, created) =
        put_number(&s, &tenant, &raw, &body, if_match(&headers)?, if_none_match).await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok(respond(status, v, Some(version)))
}

async fn delete(
    State(s): State<AppState>,
    caller: Caller,
    Path(raw): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let tenant = caller.tenant(true, roles(KIND, true))?.clone();
    delete_number(&s, &tenant, &raw, if_match(&headers)?.flatten()).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Writes the number's document with its `ConfigChanged` event in the same transaction.
async fn write_doc(
    s: &ApiState,
    tenant: &TenantId,
    n: &PhoneNumber,
    expect: Expect,
) -> Result<Document, hotline_store::Error> {
    let body = hotline_config::to_stored_json(n).map_err(|e| hotline_store::Error::Invalid {
        what: "phone number",
        reason: e.to_string(),
    })?;
    let (event_tenant, event_id) = (tenant.clone(), n.number.clone());
    s.store
        .put_document_with(
            DocumentWrite {
                tenant: tenant.clone(),
                kind: KIND.to_owned(),
                id: doc_id(&n.number).to_owned(),
                name: hotline_config::Resource::name(n).to_owned(),
                body: body.to_string(),
                outbox: None,
            },
            expect,
            Some(Box::new(move |doc: &Document| {
                changed(&event_tenant, KIND, &event_id, doc.version)
            })),
        )
        .await
}

/// Undoes a row change whose document write failed: removes the row this request
/// inserted and puts `previous` back. Failures are logged: the request already fails.
async fn give_back(
    s: &ApiState,
    tenant: &TenantId,
    number: &str,
    previous: Option<&hotline_store::PhoneNumber>,
) {
    if let Err(e) = s.store.remove_number_with(tenant, number, None).await {
        tracing::error!(tenant = %tenant, number, error = %e, "cannot undo a number assignment");
        return;
    }
    if let Some(prev) = previous
        && let Err(e) = s.store.add_number_with(prev.clone(), None).await
    {
        tracing::error!(tenant = %tenant, number, error = %e, "cannot restore a number's previous entry flow");
        // The number is no longer the tenant's: its document must not say otherwise.
        if let Err(e) = s
            .store
            .delete_document(
                tenant,
                KIND,
                doc_id(number),
                Expect::Any,
                Some(changed(tenant, KIND, number, 0)),
            )
            .await
        {
            tracing::error!(tenant = %tenant, number, error = %e, "cannot delete a lost number's document");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_body_may_leave_the_number_out_but_not_name_another() {
        let n = parse_body(
            "+78005553535",
            br#"{"name": "Hotline", "entry_flow": "main"}"#,
        )
        .expect("valid");
        assert_eq!(n.number, "+78005553535");
        assert_eq!(n.name.as_deref(), Some("Hotline"));
        let same = parse_body(
            "+78005553535",
            br#"{"number": "8-800-555-35-35", "entry_flow": "main"}"#,
        )
        .expect("same number");
        assert_eq!(same.number, "+78005553535");
        let other = parse_body(
            "+78005553535",
            br#"{"number": "+15550100", "entry_flow": "main"}"#,
        )
        .expect_err("another number");
        assert_eq!(other.fields[0].field, "number");
        for (body, field) in [
            (&br#"{"entry_flow": "-bad"}"#[..], "entry_flow"),
            (br#"{"name": "x"}"#, "entry_flow"),
            (br#"{"entry_flow": "main", "extra": 1}"#, "extra"),
            (br#"{"number": 5, "entry_flow": "main"}"#, "number"),
        ] {
            let e = parse_body("+78005553535", body).expect_err("invalid");
            assert_eq!(e.status, StatusCode::UNPROCESSABLE_ENTITY);
            assert_eq!(
                e.fields[0].field,
                field,
                "{}",
                String::from_utf8_lossy(body)
            );
        }
        for body in [&b"[]"[..], b"", b"{", b"null"] {
            let e = parse_body("+78005553535", body).expect_err("not an object");
            assert_eq!(e.status, StatusCode::UNPROCESSABLE_ENTITY);
        }
    }

    #[test]
    fn document_ids_drop_the_plus() {
        assert_eq!(doc_id("+78005553535"), "78005553535");
        assert!(hotline_config::is_valid_id(doc_id("+78005553535")));
    }
}

//! The OpenAPI 3.1 document of the public REST API, served without authentication at
//! `GET /v1/openapi.json`.
//!
//! The document is built here, in Rust, from the types themselves rather than written by
//! hand, so that it cannot drift from them:
//!
//! - the request body of every configuration resource is the JSON Schema that `schemars`
//!   derives from its `hotline-config` type (feature `openapi`) out of the very serde
//!   attributes that parse the body: tagged unions as one closed object per variant,
//!   `deny_unknown_fields` as `additionalProperties: false`, defaults as `default`,
//!   write-only secrets (an agent's SIP password, a webhook's secret) as `writeOnly`;
//! - a resource's answer is its body's schema plus `id`, `version`, `created_at` and
//!   `updated_at`;
//! - the enums clients pick from come from the code's own lists: a queue's strategy from
//!   `hotline_config::Strategy::ALL`, a key's role from [`Role::ALL`], a call's
//!   disposition from `hotline_core::Disposition::ALL`;
//! - the resource paths come from [`crate::resources::path_of`], which also routes them.
//!
//! The operations themselves (methods, parameters, headers, statuses) are the table in
//! this module; a unit test sends a request for every operation of the document through
//! the real router and fails on one that is not routed, and the `api_openapi`
//! integration suite drives every operation of the document against both backends.

use std::sync::{Arc, OnceLock};

use axum::Router;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use hotline_config::{
    Agent, BusinessHours, EntryFlow, IvrMenu, PhoneNumber, Prompt, Queue, Resource, Webhook,
};
use schemars::generate::SchemaSettings;
use schemars::transform::{RecursiveTransform, transform_subschemas};
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde_json::{Map, Value, json};

use crate::auth::Role;
use crate::http::{ApiError, ApiState};

/// Where the document is served.
pub const PATH: &str = "/v1/openapi.json";

/// The routes of this module: the document itself.
pub fn routes() -> Router<Arc<ApiState>> {
    Router::new().route(PATH, get(serve))
}

async fn serve() -> Result<Response, ApiError> {
    static BYTES: OnceLock<Vec<u8>> = OnceLock::new();
    let bytes = match BYTES.get() {
        Some(b) => b,
        None => {
            let b = serde_json::to_vec(&document()).map_err(|e| ApiError::internal(&e))?;
            BYTES.get_or_init(|| b)
        }
    };
    let mut resp = (StatusCode::OK, bytes.clone()).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    Ok(resp)
}

/// The OpenAPI 3.1 document of the REST API.
pub fn document() -> Value {
    let mut doc = Builder::new();
    doc.tenants();
    doc.api_keys();
    doc.resource::<BusinessHours>(examples::business_hours());
    doc.resource::<Queue>(examples::queue());
    doc.resource::<Agent>(examples::agent());
    doc.resource::<IvrMenu>(examples::ivr_menu());
    doc.resource::<EntryFlow>(examples::entry_flow());
    doc.resource::<Webhook>(examples::webhook());
    doc.numbers();
    doc.prompts();
    doc.calls();
    doc.meta();
    doc.finish()
}

// --- schemas only the api has --------------------------------------------------------
//
// The bodies of the tenant and key routes and the views of the call log are built by
// handlers in `http.rs` and `calls.rs`; these types describe them for the document only.
// The `api_openapi` integration suite checks every answer of the real service against
// them, so a change on either side that the other does not follow fails a test.

/// The provider creates a tenant; it gets back the tenant and its first admin key.
#[derive(JsonSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct CreateTenant {
    /// The tenant's id (1 to 64 ASCII letters, digits, `-`, `_` or `.`); generated when
    /// left out.
    #[serde(default)]
    id: Option<String>,
    /// Display name.
    name: String,
    /// IANA time zone, e.g. `Europe/Moscow`.
    #[serde(default = "default_tz")]
    time_zone: String,
    /// BCP 47 language tag (`en`, `ru`, `en-US`).
    #[serde(default = "default_locale")]
    locale: String,
}

fn default_tz() -> String {
    "UTC".to_owned()
}

fn default_locale() -> String {
    "en".to_owned()
}

/// Changes to a tenant's settings; what is left out (or `null`) stays.
#[derive(JsonSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct PatchTenant {
    /// Display name.
    #[serde(default)]
    name: Option<String>,
    /// IANA time zone, e.g. `Europe/Moscow`.
    #[serde(default)]
    time_zone: Option<String>,
    /// BCP 47 language tag (`en`, `ru`, `en-US`).
    #[serde(default)]
    locale: Option<String>,
}

/// A tenant.
#[derive(JsonSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct Tenant {
    id: String,
    name: String,
    time_zone: String,
    locale: String,
    /// Set by the provider only.
    status: hotline_config::TenantStatus,
    created_at: Timestamp,
}

/// A new tenant and its first API key (role `admin`), shown this once.
#[derive(JsonSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct TenantCreated {
    tenant: Tenant,
    /// The key, in clear: it is stored hashed and never shown again.
    api_key: String,
}

/// The tenants the caller sees: every tenant for the provider, its own for a tenant key.
#[derive(JsonSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct TenantList {
    tenants: Vec<Tenant>,
}

/// What a key may do: `admin` (everything, API keys and webhooks included),
/// `supervisor` (configuration and the call log, not keys or webhooks), `agent` and
/// `readonly` (read the configuration and the call log).
struct RoleName;

impl JsonSchema for RoleName {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Role".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        let roles: Vec<&str> = Role::ALL.iter().map(Role::as_str).collect();
        json_schema!({
            "description": "What a key may do: `admin` (everything, API keys and webhooks included), `supervisor` (configuration and the call log, not keys or webhooks), `agent` and `readonly` (read the configuration and the call log).",
            "type": "string",
            "enum": roles,
        })
    }
}

/// An RFC 3339 time in UTC, second precision: `2026-01-15T10:00:00Z`.
struct Timestamp;

impl JsonSchema for Timestamp {
    fn inline_schema() -> bool {
        true
    }

    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Timestamp".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({"type": "string", "format": "date-time"})
    }
}

/// A new API key.
#[derive(JsonSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct CreateApiKey {
    role: RoleName,
    /// What the key is for (at most 200 characters).
    #[serde(default)]
    label: String,
}

/// An API key, without the key itself.
#[derive(JsonSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct ApiKey {
    id: String,
    role: RoleName,
    label: String,
    created_at: Timestamp,
    /// When it was revoked; `null` while it is valid.
    revoked_at: OrNull<Timestamp>,
}

/// A new API key and the key in clear, shown this once.
#[derive(JsonSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct ApiKeyCreated {
    id: String,
    role: RoleName,
    label: String,
    created_at: Timestamp,
    revoked_at: OrNull<Timestamp>,
    /// The key, in clear: it is stored hashed and never shown again.
    api_key: String,
}

/// The key that replaces a rotated one (revoked by the rotation), and the key in clear.
#[derive(JsonSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct ApiKeyRotated {
    id: String,
    role: RoleName,
    label: String,
    created_at: Timestamp,
    revoked_at: OrNull<Timestamp>,
    /// The key, in clear: it is stored hashed and never shown again.
    api_key: String,
    /// The id of the key it replaces.
    replaces: String,
}

/// The tenant's API keys, revoked ones included.
#[derive(JsonSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct ApiKeyList {
    api_keys: Vec<ApiKey>,
}

/// A phone number the tenant holds, and the entry flow its calls start.
#[derive(JsonSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct PhoneNumberView {
    /// The number in E.164, as in the path.
    id: String,
    /// The number in E.164.
    number: String,
    /// Id of the entry flow its calls follow.
    entry_flow: String,
    /// Its label, if it has one.
    #[serde(default)]
    name: Option<String>,
    /// For `ETag`/`If-Match`; left out for a number assigned without its document.
    #[serde(default)]
    version: Option<i64>,
    #[serde(default)]
    created_at: Option<Timestamp>,
    #[serde(default)]
    updated_at: Option<Timestamp>,
}

/// `T` or `null`, and always present (what serde writes for an `Option` without
/// `skip_serializing_if`).
struct OrNull<T>(std::marker::PhantomData<T>);

impl<T: JsonSchema> JsonSchema for OrNull<T> {
    fn inline_schema() -> bool {
        true
    }

    fn schema_name() -> std::borrow::Cow<'static, str> {
        format!("OrNull_{}", T::schema_name()).into()
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        <Option<T>>::json_schema(generator)
    }
}

/// How a call ended.
struct DispositionName;

impl JsonSchema for DispositionName {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Disposition".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        let all: Vec<&str> = hotline_core::Disposition::ALL
            .iter()
            .map(|d| d.as_str())
            .collect();
        json_schema!({"description": "How a call ended.", "type": "string", "enum": all})
    }
}

/// One call of the call log.
#[derive(JsonSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct Call {
    id: String,
    /// The caller's number.
    from: OrNull<String>,
    /// The dialled number.
    to: OrNull<String>,
    started_at: Timestamp,
    answered_at: OrNull<Timestamp>,
    ended_at: OrNull<Timestamp>,
    /// `null` while the call goes on.
    disposition: OrNull<DispositionName>,
    /// The digits chosen in the IVR, one entry per menu.
    ivr_path: Vec<String>,
    queue: OrNull<String>,
    agent: OrNull<String>,
    wait_seconds: OrNull<u32>,
    talk_seconds: OrNull<u32>,
}

/// A page of the call log, newest first.
#[derive(JsonSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct CallList {
    calls: Vec<Call>,
    /// Pass it as `before` for the next page; `null` on the last page.
    next: OrNull<String>,
}

/// One event of a call: `type` (the event name, e.g. `CallOffered`), `at`, `id`, and the
/// event's own fields.
#[derive(JsonSchema)]
#[allow(dead_code)]
struct CallEvent {
    #[serde(rename = "type")]
    kind: String,
    at: Timestamp,
    id: String,
}

/// One call with its events, oldest first.
#[derive(JsonSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct CallDetail {
    id: String,
    from: OrNull<String>,
    to: OrNull<String>,
    started_at: Timestamp,
    answered_at: OrNull<Timestamp>,
    ended_at: OrNull<Timestamp>,
    disposition: OrNull<DispositionName>,
    ivr_path: Vec<String>,
    queue: OrNull<String>,
    agent: OrNull<String>,
    wait_seconds: OrNull<u32>,
    talk_seconds: OrNull<u32>,
    events: Vec<CallEvent>,
}

/// Every error: a 4xx (or 5xx) status and this body.
#[derive(JsonSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct Error {
    error: ErrorDetail,
}

/// What went wrong.
#[derive(JsonSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct ErrorDetail {
    /// A stable machine code: `bad_request`, `unauthenticated`, `forbidden`, `not_found`,
    /// `conflict`, `precondition_failed`, `payload_too_large`, `unsupported_media_type`,
    /// `validation_failed`, `unavailable`, `internal`.
    code: String,
    /// For people.
    message: String,
    /// Each field that failed validation, with the rule it broke.
    #[serde(default)]
    fields: Vec<FieldError>,
}

/// A field that failed validation.
#[derive(JsonSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct FieldError {
    /// JSON path of the field (`choices[1].action.id`), a parameter or header name, or
    /// `body`.
    field: String,
    /// The rule it broke: `required`, `type`, `format`, `range`, `length`, `enum`,
    /// `unknown_field`, `unknown_reference`, `duplicate`, …
    rule: String,
    message: String,
}

// --- the builder ---------------------------------------------------------------------

/// Who may call an operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Auth {
    /// Anyone.
    Nobody,
    /// The provider's admin token.
    Provider,
    /// A tenant's API key.
    Tenant,
    /// Either.
    Both,
}

/// One operation of the table.
struct Op {
    method: &'static str,
    path: String,
    id: String,
    summary: String,
    description: Option<String>,
    tag: String,
    auth: Auth,
    parameters: Vec<Value>,
    body: Option<Value>,
    /// Successful answers: status and response object.
    ok: Vec<(u16, Value)>,
    /// Error statuses, each a reference to a shared response.
    errors: Vec<u16>,
}

impl Op {
    fn new(method: &'static str, path: &str, id: &str, tag: &str, summary: &str) -> Self {
        Self {
            method,
            path: path.to_owned(),
            id: id.to_owned(),
            summary: summary.to_owned(),
            description: None,
            tag: tag.to_owned(),
            auth: Auth::Tenant,
            parameters: Vec::new(),
            body: None,
            ok: Vec::new(),
            errors: Vec::new(),
        }
    }

    fn auth(mut self, auth: Auth) -> Self {
        self.auth = auth;
        self
    }

    fn describe(mut self, text: impl Into<String>) -> Self {
        self.description = Some(text.into());
        self
    }

    fn param(mut self, p: Value) -> Self {
        self.parameters.push(p);
        self
    }

    fn json_body(mut self, schema: Value, example: Value) -> Self {
        self.body = Some(json!({
            "required": true,
            "content": {"application/json": {"schema": schema, "example": example}},
        }));
        self
    }

    fn with_body(mut self, body: Value) -> Self {
        self.body = Some(body);
        self
    }

    fn ok(mut self, status: u16, response: Value) -> Self {
        self.ok.push((status, response));
        self
    }

    fn errors(mut self, statuses: &[u16]) -> Self {
        self.errors.extend_from_slice(statuses);
        self
    }
}

/// The schema generator and the parts of the document built so far.
struct Builder {
    generator: SchemaGenerator,
    ops: Vec<Op>,
    /// Resource views to derive from their body schemas at the end: (body, view).
    views: Vec<(String, String)>,
    tags: Vec<(String, String)>,
}

fn schema_ref(name: &str) -> Value {
    json!({"$ref": format!("#/components/schemas/{name}")})
}

fn response(description: &str, schema: Value) -> Value {
    json!({
        "description": description,
        "content": {"application/json": {"schema": schema}},
    })
}

fn with_headers(mut response: Value, headers: &[&str]) -> Value {
    let map: Map<String, Value> = headers
        .iter()
        .map(|h| {
            (
                (*h).to_owned(),
                json!({"$ref": format!("#/components/headers/{h}")}),
            )
        })
        .collect();
    response["headers"] = Value::Object(map);
    response
}

fn path_param(name: &str, description: &str) -> Value {
    json!({
        "name": name, "in": "path", "required": true, "description": description,
        "schema": {"type": "string"},
    })
}

fn query(name: &str, description: &str, schema: Value) -> Value {
    json!({"name": name, "in": "query", "required": false, "description": description, "schema": schema})
}

fn header_param(name: &str) -> Value {
    json!({"$ref": format!("#/components/parameters/{name}")})
}

/// The paging parameters of the configuration lists.
fn paging(what: &str) -> Vec<Value> {
    vec![
        query(
            "limit",
            "Most items on the page.",
            json!({"type": "integer", "minimum": 1, "maximum": hotline_store::MAX_PAGE_LIMIT, "default": 100}),
        ),
        query(
            "after",
            &format!("Start after this {what} (the `next` of the previous page)."),
            json!({"type": "string"}),
        ),
        query(
            "name",
            "Only items whose name starts with this.",
            json!({"type": "string"}),
        ),
    ]
}

/// `business-hours` → `BusinessHours`.
fn camel(kebab: &str) -> String {
    kebab
        .split('-')
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        })
        .collect()
}

/// Rewrites `oneOf` lists of documented string constants (what schemars makes of an enum
/// whose variants have doc comments) as a plain `enum`, which every client generator
/// understands, keeping the variants' documentation in the description.
fn simple_enums(schema: &mut Schema) {
    transform_subschemas(&mut simple_enums, schema);
    let Some(obj) = schema.as_object_mut() else {
        return;
    };
    let Some(Value::Array(variants)) = obj.get("oneOf") else {
        return;
    };
    let mut values = Vec::new();
    let mut docs = Vec::new();
    for v in variants {
        let Some(m) = v.as_object() else { return };
        let Some(Value::String(c)) = m.get("const") else {
            return;
        };
        if m.keys()
            .any(|k| !matches!(k.as_str(), "const" | "description" | "type"))
        {
            return;
        }
        if let Some(Value::String(d)) = m.get("description") {
            docs.push(format!("- `{c}`: {d}"));
        }
        values.push(Value::String(c.clone()));
    }
    obj.remove("oneOf");
    obj.insert("type".into(), json!("string"));
    obj.insert("enum".into(), Value::Array(values));
    if !docs.is_empty() {
        let mut text = obj
            .get("description")
            .and_then(Value::as_str)
            .map(|d| format!("{d}\n\n"))
            .unwrap_or_default();
        text.push_str(&docs.join("\n"));
        obj.insert("description".into(), Value::String(text));
    }
}

impl Builder {
    fn new() -> Self {
        let mut settings = SchemaSettings::draft2020_12().for_deserialize();
        settings.definitions_path = "#/components/schemas/".into();
        settings.meta_schema = None;
        settings
            .transforms
            .push(Box::new(RecursiveTransform(simple_enums)));
        Self {
            generator: settings.into_generator(),
            ops: Vec::new(),
            views: Vec::new(),
            tags: Vec::new(),
        }
    }

    /// A reference to `T`'s schema (registered in the components on first use).
    fn schema<T: JsonSchema>(&mut self) -> Value {
        self.generator.subschema_for::<T>().to_value()
    }

    fn tag(&mut self, name: &str, description: &str) {
        self.tags.push((name.to_owned(), description.to_owned()));
    }

    fn tenants(&mut self) {
        self.tag(
            "tenants",
            "The businesses the provider runs Hotline for. Creating, suspending, resuming and deleting a tenant take the provider's admin token; a tenant key sees its own tenant only.",
        );
        let create = self.schema::<CreateTenant>();
        let created = self.schema::<TenantCreated>();
        let tenant = self.schema::<Tenant>();
        let list = self.schema::<TenantList>();
        let id = || path_param("id", "The tenant's id.");
        self.ops.push(
            Op::new("post", "/v1/tenants", "createTenant", "tenants", "Create a tenant")
                .describe("Creates a tenant and its first API key (role `admin`), which the answer shows this once.")
                .auth(Auth::Provider)
                .json_body(create, examples::tenant())
                .ok(201, response("The tenant and its first key.", created))
                .errors(&[400, 401, 403, 409, 415, 422]),
        );
        self.ops.push(
            Op::new(
                "get",
                "/v1/tenants",
                "listTenants",
                "tenants",
                "List tenants",
            )
            .describe(
                "Every tenant for the provider's token; only its own tenant for a tenant key.",
            )
            .auth(Auth::Both)
            .ok(200, response("The tenants.", list)),
        );
        self.ops.push(
            Op::new(
                "get",
                "/v1/tenants/{id}",
                "getTenant",
                "tenants",
                "Read a tenant",
            )
            .auth(Auth::Both)
            .param(id())
            .ok(200, response("The tenant.", tenant.clone()))
            .errors(&[404]),
        );
        let patch = self.schema::<PatchTenant>();
        self.ops.push(
            Op::new(
                "patch",
                "/v1/tenants/{id}",
                "updateTenant",
                "tenants",
                "Change a tenant's settings",
            )
            .describe("Changes the name, time zone or locale: the provider's token, or a key of the tenant with role `admin`.")
            .auth(Auth::Both)
            .param(id())
            .json_body(patch, examples::tenant_patch())
            .ok(200, response("The tenant.", tenant.clone()))
            .errors(&[400, 403, 404, 415, 422]),
        );
        self.ops.push(
            Op::new(
                "delete",
                "/v1/tenants/{id}",
                "deleteTenant",
                "tenants",
                "Delete a tenant",
            )
            .describe("Deletes the tenant with all its configuration and keys.")
            .auth(Auth::Provider)
            .param(id())
            .ok(204, json!({"description": "Deleted."}))
            .errors(&[403, 404]),
        );
        for (action, id_, summary) in [
            (
                "suspend",
                "suspendTenant",
                "Suspend a tenant: its calls are refused",
            ),
            ("resume", "resumeTenant", "Resume a suspended tenant"),
        ] {
            self.ops.push(
                Op::new(
                    "post",
                    &format!("/v1/tenants/{{id}}/{action}"),
                    id_,
                    "tenants",
                    summary,
                )
                .auth(Auth::Provider)
                .param(id())
                .ok(200, response("The tenant.", tenant.clone()))
                .errors(&[403, 404]),
            );
        }
    }

    fn api_keys(&mut self) {
        self.tag(
            "api-keys",
            "The tenant's API keys (role `admin` only). A key is shown once, when it is created or rotated, and stored hashed.",
        );
        let create = self.schema::<CreateApiKey>();
        let created = self.schema::<ApiKeyCreated>();
        let rotated = self.schema::<ApiKeyRotated>();
        let list = self.schema::<ApiKeyList>();
        let id = || path_param("id", "The key's id (not the key).");
        self.ops.push(
            Op::new(
                "post",
                "/v1/api-keys",
                "createApiKey",
                "api-keys",
                "Create an API key",
            )
            .json_body(create, examples::api_key())
            .ok(
                201,
                response(
                    "The key's record and the key itself, shown this once.",
                    created,
                ),
            )
            .errors(&[400, 403, 415, 422]),
        );
        self.ops.push(
            Op::new(
                "get",
                "/v1/api-keys",
                "listApiKeys",
                "api-keys",
                "List API keys",
            )
            .ok(
                200,
                response("The keys, without the keys themselves.", list),
            )
            .errors(&[403]),
        );
        self.ops.push(
            Op::new(
                "delete",
                "/v1/api-keys/{id}",
                "revokeApiKey",
                "api-keys",
                "Revoke an API key",
            )
            .describe("Revokes the key: every service refuses it within a second.")
            .param(id())
            .ok(204, json!({"description": "Revoked."}))
            .errors(&[403, 404]),
        );
        self.ops.push(
            Op::new(
                "post",
                "/v1/api-keys/{id}/rotate",
                "rotateApiKey",
                "api-keys",
                "Rotate an API key",
            )
            .describe("Issues a new key with the same role and label and revokes the old one.")
            .param(id())
            .ok(201, response("The new key, shown this once.", rotated))
            .errors(&[403, 404]),
        );
    }

    /// The five operations of a configuration resource.
    fn resource<R: Resource + JsonSchema>(&mut self, example: Value) {
        let base = crate::resources::path_of(R::KIND);
        let segment = base.trim_start_matches("/v1/");
        let plural = camel(segment);
        let body = self.schema::<R>();
        let name = R::schema_name().into_owned();
        let view_name = format!("{name}View");
        let list_name = format!("{name}List");
        self.views.push((name.clone(), view_name.clone()));
        let view = schema_ref(&view_name);
        self.generator.definitions_mut().insert(
            list_name.clone(),
            json!({
                "description": format!("A page of {}, ordered by id.", segment.replace('-', " ")),
                "type": "object",
                "properties": {
                    "items": {"type": "array", "items": view},
                    "next": {
                        "description": "Pass it as `after` for the next page; `null` on the last page.",
                        "type": ["string", "null"],
                    },
                },
                "required": ["items", "next"],
                "additionalProperties": false,
            }),
        );
        let roles = |write: bool| {
            crate::resources::roles(R::KIND, write)
                .iter()
                .map(|r| format!("`{}`", r.as_str()))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let (read_roles, write_roles) = (roles(false), roles(true));
        let item = format!("{base}/{{id}}");
        let id = || path_param("id", "The resource's id.");
        let tag = segment.to_owned();
        self.tag(
            &tag,
            &format!("Configuration: {}.", segment.replace('-', " ")),
        );
        let mut list = Op::new(
            "get",
            base,
            &format!("list{plural}"),
            &tag,
            &format!("List {}", segment.replace('-', " ")),
        )
        .describe(format!("Roles: {read_roles}."))
        .ok(200, response("One page.", schema_ref(&list_name)))
        .errors(&[403, 422]);
        list.parameters = paging("id");
        self.ops.push(list);
        self.ops.push(
            Op::new("post", base, &format!("create{name}"), &tag, &format!("Create a {}", R::KIND.replace('-', " ")))
                .describe(format!(
                    "Creates it with a generated id. A retry with the same `Idempotency-Key` and body gets the first answer again. Roles: {write_roles}."
                ))
                .param(header_param("Idempotency-Key"))
                .json_body(body.clone(), example.clone())
                .ok(201, with_headers(response("Created.", view.clone()), &["ETag", "Location"]))
                .errors(&[403, 413, 422]),
        );
        self.ops.push(
            Op::new(
                "get",
                &item,
                &format!("get{name}"),
                &tag,
                &format!("Read a {}", R::KIND.replace('-', " ")),
            )
            .describe(format!("Roles: {read_roles}."))
            .param(id())
            .ok(200, with_headers(response("It.", view.clone()), &["ETag"]))
            .errors(&[403, 404]),
        );
        self.ops.push(
            Op::new("put", &item, &format!("put{name}"), &tag, &format!("Create or replace a {}", R::KIND.replace('-', " ")))
                .describe(format!(
                    "Creates it at this id, or replaces it. `If-Match` makes the write conditional on the version, `If-None-Match: *` on it not existing yet. Write-only secrets left out are kept. Roles: {write_roles}."
                ))
                .param(id())
                .param(header_param("If-Match"))
                .param(header_param("If-None-Match"))
                .json_body(body, example)
                .ok(200, with_headers(response("Replaced.", view.clone()), &["ETag"]))
                .ok(201, with_headers(response("Created.", view), &["ETag"]))
                .errors(&[403, 412, 413, 422]),
        );
        self.ops.push(
            Op::new(
                "delete",
                &item,
                &format!("delete{name}"),
                &tag,
                &format!("Delete a {}", R::KIND.replace('-', " ")),
            )
            .describe(format!(
                "Refused with 409 while another resource refers to it. Roles: {write_roles}."
            ))
            .param(id())
            .param(header_param("If-Match"))
            .ok(204, json!({"description": "Deleted."}))
            .errors(&[403, 404, 409, 412, 422]),
        );
    }

    fn numbers(&mut self) {
        self.tag(
            "numbers",
            "The tenant's phone numbers (DIDs) and the entry flow each starts. A number belongs to at most one tenant of the platform.",
        );
        self.schema::<PhoneNumber>();
        let view = self.schema::<PhoneNumberView>();
        self.generator.definitions_mut().insert(
            "PhoneNumberList".to_owned(),
            json!({
                "description": "A page of phone numbers, ordered by number.",
                "type": "object",
                "properties": {
                    "items": {"type": "array", "items": view},
                    "next": {
                        "description": "Pass it as `after` for the next page; `null` on the last page.",
                        "type": ["string", "null"],
                    },
                },
                "required": ["items", "next"],
                "additionalProperties": false,
            }),
        );
        let number = || {
            path_param(
                "number",
                "The number, E.164 or as people write it (`8-800-555-35-35`).",
            )
        };
        let mut list = Op::new(
            "get",
            "/v1/numbers",
            "listNumbers",
            "numbers",
            "List phone numbers",
        )
        .ok(200, response("One page.", schema_ref("PhoneNumberList")))
        .errors(&[403, 422]);
        list.parameters = paging("number");
        self.ops.push(list);
        self.ops.push(
            Op::new(
                "get",
                "/v1/numbers/{number}",
                "getNumber",
                "numbers",
                "Read a phone number",
            )
            .param(number())
            .ok(200, with_headers(response("It.", view.clone()), &["ETag"]))
            .errors(&[403, 404]),
        );
        self.ops.push(
            Op::new("put", "/v1/numbers/{number}", "putNumber", "numbers", "Assign or update a phone number")
                .describe("Assigns the number to the tenant, or changes its entry flow or label. 409 when another tenant holds it.")
                .param(number())
                .param(header_param("If-Match"))
                .param(header_param("If-None-Match"))
                .json_body(schema_ref("PhoneNumberInput"), examples::number())
                .ok(200, with_headers(response("Updated.", view.clone()), &["ETag"]))
                .ok(201, with_headers(response("Assigned.", view), &["ETag"]))
                .errors(&[403, 409, 412, 413, 422]),
        );
        self.ops.push(
            Op::new(
                "delete",
                "/v1/numbers/{number}",
                "deleteNumber",
                "numbers",
                "Release a phone number",
            )
            .param(number())
            .param(header_param("If-Match"))
            .ok(204, json!({"description": "Released."}))
            .errors(&[403, 404, 412, 422]),
        );
    }

    fn prompts(&mut self) {
        self.tag(
            "prompts",
            "Recorded announcements, uploaded as WAV and stored as 8 kHz mono 16-bit PCM.",
        );
        self.schema::<Prompt>();
        self.views
            .push(("Prompt".to_owned(), "PromptView".to_owned()));
        let view = schema_ref("PromptView");
        self.generator.definitions_mut().insert(
            "PromptList".to_owned(),
            json!({
                "description": "A page of prompts, ordered by id.",
                "type": "object",
                "properties": {
                    "items": {"type": "array", "items": view},
                    "next": {
                        "description": "Pass it as `after` for the next page; `null` on the last page.",
                        "type": ["string", "null"],
                    },
                },
                "required": ["items", "next"],
                "additionalProperties": false,
            }),
        );
        let id = || path_param("id", "The prompt's id.");
        let wav = json!({"type": "string", "format": "binary"});
        let mut list = Op::new(
            "get",
            "/v1/prompts",
            "listPrompts",
            "prompts",
            "List prompts",
        )
        .ok(200, response("One page.", schema_ref("PromptList")))
        .errors(&[403, 422]);
        list.parameters = paging("id");
        self.ops.push(list);
        self.ops.push(
            Op::new("post", "/v1/prompts", "uploadPrompt", "prompts", "Upload a prompt")
                .describe(format!(
                    "The body is the WAV file (PCM 8 to 32-bit or 32-bit float, mono or stereo, any rate up to {} Hz, at most {} bytes and {} seconds); it is mixed down and resampled to 8 kHz. A retry with the same `Idempotency-Key`, parameters and file gets the first answer again.",
                    crate::prompts::MAX_INPUT_RATE,
                    crate::prompts::MAX_UPLOAD,
                    crate::prompts::MAX_DURATION_MS / 1000,
                ))
                .param(json!({"name": "name", "in": "query", "required": true, "description": "Display name.", "schema": {"type": "string"}}))
                .param(json!({"name": "language", "in": "query", "required": true, "description": "BCP 47 language tag of the recording (`ru`, `en-US`).", "schema": {"type": "string"}}))
                .param(header_param("Idempotency-Key"))
                .ok(201, with_headers(response("Stored.", view.clone()), &["ETag", "Location"]))
                .errors(&[400, 403, 413, 415, 422])
                .with_body(json!({
                    "required": true,
                    "content": {"audio/wav": {"schema": wav.clone()}, "audio/x-wav": {"schema": wav.clone()}},
                })),
        );
        self.ops.push(
            Op::new(
                "get",
                "/v1/prompts/{id}",
                "getPrompt",
                "prompts",
                "Read a prompt",
            )
            .param(id())
            .ok(200, with_headers(response("It.", view), &["ETag"]))
            .errors(&[403, 404]),
        );
        self.ops.push(
            Op::new(
                "get",
                "/v1/prompts/{id}/audio",
                "getPromptAudio",
                "prompts",
                "Download a prompt's audio",
            )
            .param(id())
            .ok(
                200,
                json!({
                    "description": "The stored WAV: 8 kHz mono 16-bit PCM.",
                    "headers": {"ETag": {"$ref": "#/components/headers/ETag"}},
                    "content": {"audio/wav": {"schema": wav}},
                }),
            )
            .errors(&[403, 404]),
        );
        self.ops.push(
            Op::new(
                "delete",
                "/v1/prompts/{id}",
                "deletePrompt",
                "prompts",
                "Delete a prompt",
            )
            .describe("Refused with 409 while a queue, IVR menu or entry flow plays it.")
            .param(id())
            .param(header_param("If-Match"))
            .ok(204, json!({"description": "Deleted."}))
            .errors(&[403, 404, 409, 412, 422]),
        );
    }

    fn calls(&mut self) {
        self.tag(
            "calls",
            "The call log, built from the event stream: every call of the tenant, newest first, with timestamps in UTC.",
        );
        let list = self.schema::<CallList>();
        let detail = self.schema::<CallDetail>();
        let disposition = self.schema::<DispositionName>();
        let max = crate::calls::MAX_LIMIT;
        let default = crate::calls::DEFAULT_LIMIT;
        self.ops.push(
            Op::new("get", "/v1/calls", "listCalls", "calls", "List calls")
                .param(query(
                    "limit",
                    "Most calls on the page.",
                    json!({"type": "integer", "minimum": 1, "maximum": max, "default": default}),
                ))
                .param(query(
                    "since",
                    "Only calls started at or after this time (RFC 3339).",
                    json!({"type": "string", "format": "date-time"}),
                ))
                .param(query(
                    "before",
                    "The `next` of the previous page.",
                    json!({"type": "string"}),
                ))
                .param(query(
                    "queue",
                    "Only calls of this queue.",
                    json!({"type": "string"}),
                ))
                .param(query(
                    "agent",
                    "Only calls of this agent.",
                    json!({"type": "string"}),
                ))
                .param(query(
                    "disposition",
                    "Only calls that ended so.",
                    disposition,
                ))
                .ok(200, response("One page, newest first.", list))
                .errors(&[403, 422]),
        );
        self.ops.push(
            Op::new(
                "get",
                "/v1/calls/{id}",
                "getCall",
                "calls",
                "Read a call with its events",
            )
            .param(path_param("id", "The call's id."))
            .ok(200, response("The call and its events.", detail))
            .errors(&[403, 404]),
        );
    }

    fn meta(&mut self) {
        self.tag("meta", "This document.");
        self.ops.push(
            Op::new("get", PATH, "getOpenApi", "meta", "This OpenAPI document")
                .auth(Auth::Nobody)
                .ok(
                    200,
                    response("The OpenAPI 3.1 document.", json!({"type": "object"})),
                ),
        );
    }

    /// A resource's answer: its body's schema plus the fields the api adds.
    fn view_of(body: &Value, name: &str) -> Value {
        let mut view = body.clone();
        if let Some(obj) = view.as_object_mut() {
            obj.insert(
                "description".into(),
                json!(format!("A stored {name} as the API shows it: its body (without write-only secrets) plus `id`, `version`, `created_at` and `updated_at`.")),
            );
            let props = obj.entry("properties").or_insert_with(|| json!({}));
            if let Some(p) = props.as_object_mut() {
                p.insert("id".into(), json!({"type": "string"}));
                p.insert(
                    "version".into(),
                    json!({"description": "Starts at 1 and grows with every change; the `ETag`.", "type": "integer", "format": "int64", "minimum": 1}),
                );
                p.insert(
                    "created_at".into(),
                    json!({"type": "string", "format": "date-time"}),
                );
                p.insert(
                    "updated_at".into(),
                    json!({"type": "string", "format": "date-time"}),
                );
            }
            let required = obj.entry("required").or_insert_with(|| json!([]));
            if let Some(r) = required.as_array_mut() {
                for f in ["id", "version", "created_at", "updated_at"] {
                    r.push(json!(f));
                }
            }
        }
        view
    }

    fn finish(mut self) -> Value {
        let mut schemas = self.generator.take_definitions(true);
        for (body, view) in &self.views {
            if let Some(b) = schemas.get(body) {
                let v = Self::view_of(b, body);
                schemas.insert(view.clone(), v);
            }
        }
        // A number's PUT body may leave `number` out: the path names it.
        if let Some(mut input) = schemas.get("PhoneNumber").cloned() {
            if let Some(obj) = input.as_object_mut() {
                if let Some(Value::Array(req)) = obj.get_mut("required") {
                    req.retain(|f| f != "number");
                }
                obj.insert(
                    "description".into(),
                    json!("A number's body for `PUT /v1/numbers/{number}`: `number` may be left out (the path names it) and, if given, must be the same number."),
                );
            }
            schemas.insert("PhoneNumberInput".to_owned(), input);
        }
        let error = self.schema::<Error>();
        schemas.append(&mut self.generator.take_definitions(true));

        let mut paths = Map::new();
        for op in self.ops {
            let security = match op.auth {
                Auth::Nobody => json!([]),
                Auth::Provider => json!([{"providerToken": []}]),
                Auth::Tenant => json!([{"apiKey": []}]),
                Auth::Both => json!([{"providerToken": []}, {"apiKey": []}]),
            };
            let mut responses = Map::new();
            for (status, r) in op.ok {
                responses.insert(status.to_string(), r);
            }
            let mut errors = op.errors;
            if op.auth != Auth::Nobody {
                errors.push(401);
            }
            errors.sort_unstable();
            errors.dedup();
            for status in errors {
                responses.insert(
                    status.to_string(),
                    json!({"$ref": format!("#/components/responses/{}", error_name(status))}),
                );
            }
            let mut o = json!({
                "operationId": op.id,
                "summary": op.summary,
                "tags": [op.tag],
                "security": security,
                "responses": responses,
            });
            if let Some(d) = op.description {
                o["description"] = json!(d);
            }
            if !op.parameters.is_empty() {
                o["parameters"] = Value::Array(op.parameters);
            }
            if let Some(b) = op.body {
                o["requestBody"] = b;
            }
            let item = paths.entry(op.path).or_insert_with(|| json!({}));
            item[op.method] = o;
        }

        let mut responses = Map::new();
        for status in ERROR_STATUSES {
            responses.insert(
                error_name(*status).to_owned(),
                json!({
                    "description": error_description(*status),
                    "content": {"application/json": {"schema": error.clone()}},
                }),
            );
        }
        json!({
            "openapi": "3.1.0",
            "info": {
                "title": "Hotline API",
                "version": env!("CARGO_PKG_VERSION"),
                "description": "The public REST API of Hotline, a multi-tenant contact center: a provider onboards tenants with its admin token, and each tenant configures its contact center with its API keys. Every request but this document's carries `Authorization: Bearer <token or key>` and is scoped to exactly one tenant: another tenant's resources answer 404, exactly as ones that do not exist. Every error is a 4xx with `{\"error\": {\"code\", \"message\", \"fields\"}}` naming each field and the rule it broke.",
            },
            "servers": [{"url": "/"}],
            "security": [{"apiKey": []}],
            "tags": self.tags.iter().map(|(n, d)| json!({"name": n, "description": d})).collect::<Vec<_>>(),
            "paths": paths,
            "components": {
                "schemas": schemas,
                "responses": responses,
                "parameters": {
                    "Idempotency-Key": {
                        "name": "Idempotency-Key", "in": "header", "required": false,
                        "description": "Makes a create safe to retry: the same key with the same request gets the first answer again (with `Idempotent-Replayed: true`); with another request, 422.",
                        "schema": {"type": "string", "minLength": 1, "maxLength": 255},
                    },
                    "If-Match": {
                        "name": "If-Match", "in": "header", "required": false,
                        "description": "Only if the resource's current `ETag` is this one (`\"3\"`), or, with `*`, only if it exists; 412 otherwise.",
                        "schema": {"type": "string"},
                    },
                    "If-None-Match": {
                        "name": "If-None-Match", "in": "header", "required": false,
                        "description": "`*`: only if the resource does not exist yet; 412 otherwise.",
                        "schema": {"type": "string", "enum": ["*"]},
                    },
                },
                "headers": {
                    "ETag": {"description": "The resource's version, quoted: `\"3\"`.", "schema": {"type": "string"}},
                    "Location": {"description": "The path of the new resource.", "schema": {"type": "string"}},
                },
                "securitySchemes": {
                    "providerToken": {
                        "type": "http", "scheme": "bearer",
                        "description": "The provider's admin token (`HOTLINE_ADMIN_TOKEN`, or generated on first start and kept in the data directory).",
                    },
                    "apiKey": {
                        "type": "http", "scheme": "bearer",
                        "description": "A tenant's API key, with its role: `admin`, `supervisor`, `agent` or `readonly`.",
                    },
                },
            },
        })
    }
}

/// Every error status the document names.
const ERROR_STATUSES: &[u16] = &[400, 401, 403, 404, 409, 412, 413, 415, 422];

fn error_name(status: u16) -> &'static str {
    match status {
        400 => "BadRequest",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "NotFound",
        409 => "Conflict",
        412 => "PreconditionFailed",
        413 => "PayloadTooLarge",
        415 => "UnsupportedMediaType",
        _ => "ValidationFailed",
    }
}

fn error_description(status: u16) -> &'static str {
    match status {
        400 => "The body is not JSON, or could not be read.",
        401 => "No token or key, or one that is unknown or revoked.",
        403 => "The token or key's role may not do this.",
        404 => {
            "No such resource in the caller's tenant (also what another tenant's resource answers)."
        }
        409 => {
            "It conflicts with the current state: the id or number is taken, or another resource still refers to it."
        }
        412 => "`If-Match` or `If-None-Match` did not hold.",
        413 => "The body is too large.",
        415 => "The body's `Content-Type` is not one the operation takes.",
        _ => "A field, parameter or header broke a rule; `fields` names each and the rule.",
    }
}

/// The example bodies of the document: valid as they are, given a queue `support`,
/// business hours `office`, an IVR menu `main-menu` and an entry flow `main` (the
/// `api_openapi` suite creates those and sends every example).
pub mod examples {
    use serde_json::{Value, json};

    /// `POST /v1/tenants`.
    pub fn tenant() -> Value {
        json!({"name": "Acme", "time_zone": "Europe/Moscow", "locale": "ru"})
    }

    /// `PATCH /v1/tenants/{id}`.
    pub fn tenant_patch() -> Value {
        json!({"name": "Acme Corp", "locale": "en-US"})
    }

    /// `POST /v1/api-keys`.
    pub fn api_key() -> Value {
        json!({"role": "supervisor", "label": "wallboard"})
    }

    /// Business hours.
    pub fn business_hours() -> Value {
        json!({
            "name": "Office", "time_zone": "Europe/Moscow",
            "schedule": {
                "monday": [{"start": "09:00", "end": "13:00"}, {"start": "14:00", "end": "18:00"}],
                "friday": [{"start": "09:00", "end": "17:00"}],
            },
            "exceptions": {"2026-01-01": {"name": "New Year"}},
        })
    }

    /// A queue.
    pub fn queue() -> Value {
        json!({
            "name": "Support", "strategy": "least-recent", "ring_timeout_seconds": 15,
            "wrap_up_seconds": 10, "max_wait_seconds": 300,
            "join_when_empty": ["logged-out"],
            "overflow": {"type": "voicemail", "email": "support@acme.example", "max_seconds": 120},
            "announcements": {"position_every_seconds": 60, "expected_wait": true},
            "recording": {"mode": "always"},
            "required_skills": {"english": 50},
        })
    }

    /// An agent.
    pub fn agent() -> Value {
        json!({
            "name": "Anna Petrova", "extension": "101", "sip_username": "anna",
            "sip_password": "s3cret-Passw0rd", "skills": {"english": 80},
            "queues": [{"queue": "support", "penalty": 0}],
            "schedule": {"monday": [{"start": "09:00", "end": "18:00", "lunch": {"start": "13:00", "end": "14:00"}}]},
            "quota_calls_per_day": 80,
        })
    }

    /// An IVR menu.
    pub fn ivr_menu() -> Value {
        json!({
            "name": "Main", "timeout_seconds": 5, "max_invalid": 3,
            "choices": [
                {"digit": "1", "action": {"type": "queue", "id": "support"}},
                {"digit": "0", "action": {"type": "operator"}},
            ],
            "fallback": {"type": "queue", "id": "support"},
        })
    }

    /// An entry flow.
    pub fn entry_flow() -> Value {
        json!({
            "name": "Main line", "business_hours": "office",
            "start": {"type": "ivr-menu", "id": "main-menu"},
            "after_hours": {"type": "voicemail", "email": "support@acme.example"},
        })
    }

    /// A webhook.
    pub fn webhook() -> Value {
        json!({
            "name": "CRM", "url": "https://crm.acme.example/hotline",
            "secret": "0123456789abcdef", "events": ["CallOffered", "CallEnded"],
        })
    }

    /// `PUT /v1/numbers/{number}`.
    pub fn number() -> Value {
        json!({"name": "Hotline", "entry_flow": "main"})
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use axum::body::Body;
    use axum::http::{Method, Request};
    use tower::ServiceExt;

    use super::*;

    /// Every `$ref` of `v`.
    fn refs(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::Object(m) => {
                for (k, x) in m {
                    if k == "$ref"
                        && let Value::String(s) = x
                    {
                        out.push(s.clone());
                    }
                    refs(x, out);
                }
            }
            Value::Array(a) => a.iter().for_each(|x| refs(x, out)),
            _ => {}
        }
    }

    fn operations(doc: &Value) -> Vec<(String, String, Value)> {
        let mut ops = Vec::new();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                ops.push((method.clone(), path.clone(), op.clone()));
            }
        }
        ops
    }

    #[test]
    fn every_reference_resolves() {
        let doc = document();
        let mut all = Vec::new();
        refs(&doc, &mut all);
        assert!(all.len() > 50, "{}", all.len());
        for r in all {
            let pointer = r.strip_prefix('#').expect("local reference");
            assert!(doc.pointer(pointer).is_some(), "{r} does not resolve");
        }
    }

    #[test]
    fn the_enums_are_the_codes_own_lists() {
        let doc = document();
        let s = &doc["components"]["schemas"];
        let strategies: Vec<&str> = hotline_config::Strategy::ALL
            .iter()
            .map(|x| x.as_str())
            .collect();
        assert_eq!(s["Strategy"]["enum"], json!(strategies));
        assert_eq!(s["Strategy"]["type"], "string");
        let roles: Vec<&str> = Role::ALL.iter().map(Role::as_str).collect();
        assert_eq!(s["Role"]["enum"], json!(roles));
        assert_eq!(
            s["Queue"]["properties"]["strategy"]["$ref"],
            "#/components/schemas/Strategy"
        );
        // Documented unit variants become a plain enum.
        assert_eq!(
            s["RecordingMode"]["enum"],
            json!(["never", "always", "on-demand"])
        );
        assert_eq!(s["TenantStatus"]["enum"], json!(["active", "suspended"]));
    }

    #[test]
    fn bodies_are_closed_secrets_write_only_and_views_add_the_metadata() {
        let doc = document();
        let s = &doc["components"]["schemas"];
        for name in [
            "BusinessHours",
            "Queue",
            "Agent",
            "IvrMenu",
            "EntryFlow",
            "Webhook",
            "PhoneNumber",
            "Prompt",
            "CreateTenant",
            "CreateApiKey",
        ] {
            assert_eq!(s[name]["additionalProperties"], false, "{name}");
        }
        assert_eq!(s["Agent"]["properties"]["sip_password"]["writeOnly"], true);
        assert_eq!(s["Webhook"]["properties"]["secret"]["writeOnly"], true);
        assert_eq!(
            s["AgentView"]["properties"]["sip_password"]["writeOnly"],
            true
        );
        let req = s["QueueView"]["required"].as_array().unwrap();
        for f in ["name", "id", "version", "created_at", "updated_at"] {
            assert!(req.contains(&json!(f)), "{f}");
        }
        assert!(
            s["PhoneNumber"]["required"]
                .as_array()
                .unwrap()
                .contains(&json!("number"))
        );
        assert!(
            !s["PhoneNumberInput"]["required"]
                .as_array()
                .unwrap()
                .contains(&json!("number"))
        );
    }

    #[test]
    fn every_example_body_is_valid_for_its_type() {
        fn ok<R: Resource>(v: &Value) {
            if let Err(e) = hotline_config::parse::<R>(v.to_string().as_bytes()) {
                panic!("{} example: {e:?}", R::KIND);
            }
        }
        ok::<BusinessHours>(&examples::business_hours());
        ok::<Queue>(&examples::queue());
        ok::<Agent>(&examples::agent());
        ok::<IvrMenu>(&examples::ivr_menu());
        ok::<EntryFlow>(&examples::entry_flow());
        ok::<Webhook>(&examples::webhook());
        let mut n = examples::number();
        n["number"] = json!("+78005553535");
        ok::<PhoneNumber>(&n);
        let doc = document();
        for (method, path, op) in operations(&doc) {
            if let Some(c) = op["requestBody"]["content"].get("application/json") {
                assert!(c.get("example").is_some(), "{method} {path} has no example");
            }
        }
    }

    #[test]
    fn every_kind_has_its_paths_and_every_operation_is_well_formed() {
        let doc = document();
        let paths = doc["paths"].as_object().unwrap();
        for kind in hotline_config::KINDS {
            let base = match *kind {
                "tenant" => "/v1/tenants",
                "prompt" => "/v1/prompts",
                "phone-number" => "/v1/numbers",
                other => crate::resources::path_of(other),
            };
            assert!(paths.contains_key(base), "no {base} for {kind}");
        }
        let mut ids = BTreeSet::new();
        for (method, path, op) in operations(&doc) {
            let id = op["operationId"].as_str().unwrap().to_owned();
            assert!(ids.insert(id.clone()), "operationId {id} twice");
            let declared: BTreeSet<String> = op["parameters"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|p| p["in"] == "path")
                .map(|p| p["name"].as_str().unwrap().to_owned())
                .collect();
            let in_path: BTreeSet<String> = path
                .split('/')
                .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
                .map(str::to_owned)
                .collect();
            assert_eq!(declared, in_path, "{method} {path}");
            // A PUT creates what is missing, so it has no 404.
            if !in_path.is_empty() && method != "put" {
                assert!(
                    op["responses"].get("404").is_some(),
                    "{method} {path} has no 404"
                );
            }
            if op["security"] != json!([]) {
                assert!(op["responses"].get("401").is_some(), "{method} {path}");
            }
        }
        assert!(ids.len() > 40, "{}", ids.len());
    }

    /// The route-missing answer of the fallback.
    fn route_missing(status: StatusCode, body: &Value) -> bool {
        status == StatusCode::METHOD_NOT_ALLOWED
            || (status == StatusCode::NOT_FOUND && body["error"]["message"] == "route not found")
    }

    #[tokio::test]
    async fn the_document_and_the_router_agree() {
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn hotline_store::Store> = Arc::new(
            hotline_store::sqlite::SqliteStore::open(&dir.path().join("api.db"))
                .await
                .unwrap(),
        );
        let objects = hotline_objects::Objects::open(&hotline_objects::ObjectsConfig::Local {
            root: dir.path().join("objects"),
        })
        .unwrap();
        let admin = "openapi-test-admin";
        let state = Arc::new(ApiState {
            store: store.clone(),
            auth: crate::auth::Authenticator::new(hotline_runtime::Secret::new(admin), store),
            objects,
        });
        let router = crate::http::router(state);
        let send =
            |method: &str, path: &str, key: Option<&str>, body: Option<(String, Vec<u8>)>| {
                let router = router.clone();
                let mut req = Request::builder()
                    .method(Method::from_bytes(method.to_uppercase().as_bytes()).unwrap())
                    .uri(path);
                if let Some(k) = key {
                    req = req.header(header::AUTHORIZATION, format!("Bearer {k}"));
                }
                let req = match body {
                    Some((ct, b)) => req.header(header::CONTENT_TYPE, ct).body(Body::from(b)),
                    None => req.body(Body::empty()),
                }
                .unwrap();
                async move {
                    let resp = router.oneshot(req).await.unwrap();
                    let status = resp.status();
                    let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX)
                        .await
                        .unwrap();
                    (
                        status,
                        serde_json::from_slice::<Value>(&bytes).unwrap_or(Value::Null),
                    )
                }
            };
        let (status, created) = send(
            "post",
            "/v1/tenants",
            Some(admin),
            Some((
                "application/json".to_owned(),
                br#"{"name": "Probe", "time_zone": "UTC"}"#.to_vec(),
            )),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
        let key = created["api_key"].as_str().unwrap().to_owned();

        // The detector works: an unknown path and an unknown method are caught.
        let (s, b) = send("get", "/v1/no-such-thing", Some(&key), None).await;
        assert!(route_missing(s, &b), "{s} {b}");
        let (s, b) = send("patch", "/v1/queues", Some(&key), None).await;
        assert!(route_missing(s, &b), "{s} {b}");

        let doc = document();
        let ops = operations(&doc);
        assert!(ops.len() > 40);
        for (method, path, op) in ops {
            let url = path
                .replace("{id}", "openapi-probe")
                .replace("{number}", "+15550100000");
            let token = match op["security"].as_array().unwrap().first() {
                None => None,
                Some(s) if s.get("providerToken").is_some() => Some(admin),
                Some(_) => Some(key.as_str()),
            };
            let body = op["requestBody"]["content"]
                .as_object()
                .and_then(|c| c.keys().next().cloned())
                .map(|ct| (ct, b"{}".to_vec()));
            let (s, b) = send(&method, &url, token, body).await;
            assert!(
                !route_missing(s, &b),
                "{method} {path} is not routed: {s} {b}"
            );
            assert!(!s.is_server_error(), "{method} {url}: {s} {b}");
            // Each answer is one the document lists for the operation.
            assert!(
                op["responses"].get(s.as_str()).is_some(),
                "{method} {url} answered {s} {b}, which the document does not list"
            );
        }

        // And the other way round: on every path of the document, a method the document
        // does not name is not routed either (a route added without its document fails).
        for (path, item) in doc["paths"].as_object().unwrap() {
            let url = path
                .replace("{id}", "openapi-probe")
                .replace("{number}", "+15550100000");
            for method in ["get", "post", "put", "patch", "delete"] {
                if item.get(method).is_some() {
                    continue;
                }
                for token in [admin, key.as_str()] {
                    let (s, b) = send(
                        method,
                        &url,
                        Some(token),
                        Some(("application/json".to_owned(), b"{}".to_vec())),
                    )
                    .await;
                    assert!(
                        route_missing(s, &b),
                        "{method} {path} is routed ({s} {b}) but not in the document"
                    );
                }
            }
        }
    }
}

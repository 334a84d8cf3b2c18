//! The OpenAPI document of the REST API drives these suites, on PostgreSQL and on the
//! embedded store:
//!
//! - the document served at `/v1/openapi.json` parses as OpenAPI 3.1 (the `oas3` crate,
//!   and PyPI's `openapi-spec-validator` when Python has it), and every `$ref` resolves;
//! - **isolation**: tenant A holds one of every resource the document names; every
//!   operation of the document is called with tenant B's key: each one that names an id
//!   gets 404 for A's id (never 403, never 2xx, never 5xx), each list shows none of A's
//!   ids, and no create or put changes anything inside A (A's every listing and every
//!   resource reads the same afterwards);
//! - **malformed bodies**: every operation with a request body gets bodies that are not
//!   JSON, empty, of the wrong type at the top and in each top-level property (the wrong
//!   type picked from the property's schema), without each required property, with an
//!   unknown property, with huge strings, deeply nested, or too large, and answers only
//!   4xx, stores nothing, and then accepts the unmodified example body;
//! - every answer of these suites is checked against the response the document declares
//!   for its operation and status (the status must be declared, and the body must match
//!   its schema, write-only properties absent), so the document cannot drift from what
//!   the service does.
//!
//! The operations are read from the document: a route added to it is called here without
//! a change to this file, and one under a collection this file cannot fill an id for
//! fails the suites. The only tables say how to get an id of each collection and which
//! example ids (`support`, `office`, `main-menu`, `main`) stand for which resource.

use std::collections::{BTreeMap, BTreeSet};
use std::hash::{Hash, Hasher};
use std::time::{Duration, Instant, SystemTime};

use hotline_core::events::payload::{CallEnded, CallOffered};
use hotline_core::{CallId, Disposition, Event, TenantId};
use hotline_tests::TestBackends;
use hotline_tests::api::{ADMIN, Api};
use hotline_tests::both;
use reqwest::StatusCode;
use serde_json::{Value, json};

// --- the tables ----------------------------------------------------------------------

/// The configuration collections created from the document's example bodies, in an
/// order in which references resolve, each with the id its examples use for it.
const RESOURCES: &[(&str, Option<&str>)] = &[
    ("/v1/business-hours", Some("office")),
    ("/v1/queues", Some("support")),
    ("/v1/agents", None),
    ("/v1/ivr-menus", Some("main-menu")),
    ("/v1/entry-flows", Some("main")),
    ("/v1/webhooks", None),
];

/// The other collections a path parameter can name; [`populate`] makes one of each.
const SPECIAL: &[&str] = &[
    "/v1/tenants",
    "/v1/api-keys",
    "/v1/numbers",
    "/v1/prompts",
    "/v1/calls",
];

/// Values for required query parameters, by name.
fn required_query_value(name: &str, marker: &str) -> Option<String> {
    match name {
        "name" => Some(marker.to_owned()),
        "language" => Some("en".to_owned()),
        _ => None,
    }
}

// --- HTTP ----------------------------------------------------------------------------

/// An answer: status, JSON body (`Null` when empty, a digest for other bytes).
#[derive(Debug, Clone, PartialEq)]
struct Reply {
    status: StatusCode,
    body: Value,
    content_type: String,
}

struct Http {
    client: reqwest::Client,
    base: String,
}

impl Http {
    fn new(api: &Api) -> Self {
        Self {
            // A connection per request: a server that refuses a too-large body closes
            // the connection, which a pooled client could pick for the next request.
            client: reqwest::Client::builder()
                .pool_max_idle_per_host(0)
                .build()
                .unwrap_or_default(),
            base: format!("http://{}", api.http),
        }
    }

    async fn send(
        &self,
        method: &str,
        path: &str,
        key: Option<&str>,
        headers: &[(&str, &str)],
        body: Option<Vec<u8>>,
    ) -> anyhow::Result<Reply> {
        let method = reqwest::Method::from_bytes(method.to_uppercase().as_bytes())?;
        let mut req = self.client.request(method, format!("{}{path}", self.base));
        if let Some(k) = key {
            req = req.bearer_auth(k);
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        if let Some(b) = body {
            req = req.body(b);
        }
        let resp = req.send().await?;
        let status = resp.status();
        let content_type = resp
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let bytes = resp.bytes().await?;
        let body = if bytes.is_empty() {
            Value::Null
        } else if content_type.starts_with("application/json") {
            serde_json::from_slice(&bytes).unwrap_or_else(|_| json!({"unparsable": true}))
        } else {
            let mut h = std::collections::hash_map::DefaultHasher::new();
            bytes.hash(&mut h);
            json!({"bytes": bytes.len(), "digest": h.finish()})
        };
        Ok(Reply {
            status,
            body,
            content_type,
        })
    }

    async fn json(
        &self,
        method: &str,
        path: &str,
        key: Option<&str>,
        body: &Value,
    ) -> anyhow::Result<Reply> {
        self.send(
            method,
            path,
            key,
            &[("content-type", "application/json")],
            Some(serde_json::to_vec(body)?),
        )
        .await
    }
}

// --- the document ----------------------------------------------------------------------

/// One operation of the document.
#[derive(Debug, Clone)]
struct Op {
    method: String,
    path: String,
    op: Value,
}

impl Op {
    fn name(&self) -> String {
        format!("{} {}", self.method.to_uppercase(), self.path)
    }

    fn has_params(&self) -> bool {
        self.path.contains('{')
    }

    fn json_body(&self) -> Option<(&Value, &Value)> {
        let c = self.op["requestBody"]["content"].get("application/json")?;
        Some((&c["schema"], &c["example"]))
    }

    fn binary_body(&self) -> Option<String> {
        let content = self.op["requestBody"]["content"].as_object()?;
        content.keys().find(|k| *k != "application/json").cloned()
    }

    fn provider_only(&self) -> bool {
        self.op["security"] == json!([{"providerToken": []}])
    }
}

struct Doc {
    raw: Value,
}

impl Doc {
    async fn fetch(http: &Http) -> anyhow::Result<Self> {
        // No key: the document is public.
        let r = http
            .send("get", "/v1/openapi.json", None, &[], None)
            .await?;
        anyhow::ensure!(r.status == StatusCode::OK, "GET /v1/openapi.json: {r:?}");
        anyhow::ensure!(r.content_type.starts_with("application/json"), "{r:?}");
        Ok(Self { raw: r.body })
    }

    fn ops(&self) -> Vec<Op> {
        let mut ops = Vec::new();
        for (path, item) in self.raw["paths"].as_object().into_iter().flatten() {
            for (method, op) in item.as_object().into_iter().flatten() {
                ops.push(Op {
                    method: method.clone(),
                    path: path.clone(),
                    op: op.clone(),
                });
            }
        }
        ops
    }

    fn op(&self, method: &str, path: &str) -> Op {
        self.ops()
            .into_iter()
            .find(|o| o.method == method && o.path == path)
            .unwrap_or_else(|| panic!("the document has no {method} {path}"))
    }

    /// Follows `$ref`s.
    fn resolve<'a>(&'a self, v: &'a Value) -> &'a Value {
        let mut v = v;
        for _ in 0..32 {
            match v.get("$ref").and_then(Value::as_str) {
                Some(r) => {
                    v = self
                        .raw
                        .pointer(r.trim_start_matches('#'))
                        .unwrap_or_else(|| panic!("{r} does not resolve"));
                }
                None => return v,
            }
        }
        panic!("$ref loop at {v}")
    }

    /// Checks an answer against what the document declares for the operation: the status
    /// is declared, and a JSON body matches the declared schema.
    fn check_reply(&self, op: &Op, r: &Reply) -> Vec<String> {
        let Some(resp) = op.op["responses"].get(r.status.as_str()) else {
            return vec![format!(
                "{} answered {} ({}), which the document does not declare",
                op.name(),
                r.status,
                r.body
            )];
        };
        let resp = self.resolve(resp);
        let mut errs = Vec::new();
        match resp["content"].get("application/json") {
            Some(media) => {
                if r.content_type.starts_with("application/json") {
                    self.check(&media["schema"], &r.body, "", true, &mut errs);
                } else {
                    errs.push(format!("content type {:?}, not JSON", r.content_type));
                }
            }
            None if resp.get("content").is_none() && r.body != Value::Null => {
                errs.push("a body where none is declared".to_owned());
            }
            None => {}
        }
        errs.into_iter()
            .map(|e| format!("{} {}: {e} in {}", op.name(), r.status, r.body))
            .collect()
    }

    /// A JSON Schema 2020-12 check of the keywords the document uses (no `pattern` or
    /// `format`): `$ref`, `type`, `enum`, `const`, `properties`, `required`,
    /// `additionalProperties`, `items`, `min/maxItems`, `uniqueItems`, `min/maxLength`,
    /// `minimum`, `maximum`, `oneOf`, `anyOf`, `allOf`. In a response, a `writeOnly`
    /// property must be absent.
    fn check(&self, schema: &Value, v: &Value, at: &str, response: bool, errs: &mut Vec<String>) {
        let s = match schema {
            Value::Bool(true) => return,
            Value::Bool(false) => {
                errs.push(format!("{at}: no value allowed"));
                return;
            }
            Value::Object(m) => m,
            _ => return,
        };
        if s.contains_key("$ref") {
            self.check(self.resolve(schema), v, at, response, errs);
        }
        if let Some(t) = s.get("type") {
            let types: Vec<&str> = match t {
                Value::String(x) => vec![x.as_str()],
                Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
                _ => vec![],
            };
            if !types.iter().any(|t| is_type(v, t)) {
                errs.push(format!("{at}: expected {t}, got {}", short(v)));
                return;
            }
        }
        if let Some(Value::Array(e)) = s.get("enum")
            && !e.contains(v)
        {
            errs.push(format!(
                "{at}: {} is not one of {}",
                short(v),
                Value::Array(e.clone())
            ));
        }
        if let Some(c) = s.get("const")
            && c != v
        {
            errs.push(format!("{at}: expected {c}, got {}", short(v)));
        }
        match v {
            Value::Object(o) => {
                for r in s
                    .get("required")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    if let Some(r) = r.as_str()
                        && !o.contains_key(r)
                    {
                        errs.push(format!("{at}: missing {r}"));
                    }
                }
                let props = s.get("properties").and_then(Value::as_object);
                for (k, x) in o {
                    let here = format!("{at}.{k}");
                    match props.and_then(|p| p.get(k)) {
                        Some(ps) => {
                            if response && self.resolve(ps)["writeOnly"] == true {
                                errs.push(format!("{here}: write-only, yet in an answer"));
                            }
                            self.check(ps, x, &here, response, errs);
                        }
                        None => {
                            if let Some(ap) = s.get("additionalProperties") {
                                self.check(ap, x, &here, response, errs);
                            }
                        }
                    }
                }
            }
            Value::Array(a) => {
                if let Some(items) = s.get("items") {
                    for (i, x) in a.iter().enumerate() {
                        self.check(items, x, &format!("{at}[{i}]"), response, errs);
                    }
                }
                if let Some(n) = s.get("minItems").and_then(Value::as_u64)
                    && (a.len() as u64) < n
                {
                    errs.push(format!("{at}: fewer than {n} items"));
                }
                if let Some(n) = s.get("maxItems").and_then(Value::as_u64)
                    && (a.len() as u64) > n
                {
                    errs.push(format!("{at}: more than {n} items"));
                }
                if s.get("uniqueItems") == Some(&Value::Bool(true)) {
                    let set: BTreeSet<String> = a.iter().map(Value::to_string).collect();
                    if set.len() != a.len() {
                        errs.push(format!("{at}: items repeat"));
                    }
                }
            }
            Value::String(x) => {
                let n = x.chars().count() as u64;
                if let Some(m) = s.get("minLength").and_then(Value::as_u64)
                    && n < m
                {
                    errs.push(format!("{at}: shorter than {m}"));
                }
                if let Some(m) = s.get("maxLength").and_then(Value::as_u64)
                    && n > m
                {
                    errs.push(format!("{at}: longer than {m}"));
                }
            }
            Value::Number(n) => {
                let x = n.as_f64().unwrap_or(f64::NAN);
                if let Some(m) = s.get("minimum").and_then(Value::as_f64)
                    && x < m
                {
                    errs.push(format!("{at}: {x} < {m}"));
                }
                if let Some(m) = s.get("maximum").and_then(Value::as_f64)
                    && x > m
                {
                    errs.push(format!("{at}: {x} > {m}"));
                }
            }
            _ => {}
        }
        let passes = |sub: &Value| {
            let mut e = Vec::new();
            self.check(sub, v, at, response, &mut e);
            e.is_empty()
        };
        if let Some(Value::Array(all)) = s.get("allOf") {
            for sub in all {
                self.check(sub, v, at, response, errs);
            }
        }
        if let Some(Value::Array(any)) = s.get("anyOf")
            && !any.iter().any(passes)
        {
            errs.push(format!("{at}: {} matches none of anyOf", short(v)));
        }
        if let Some(Value::Array(one)) = s.get("oneOf") {
            let n = one.iter().filter(|sub| passes(sub)).count();
            if n != 1 {
                errs.push(format!("{at}: {} matches {n} of oneOf", short(v)));
            }
        }
    }

    fn valid(&self, schema: &Value, v: &Value) -> bool {
        let mut errs = Vec::new();
        self.check(schema, v, "", false, &mut errs);
        errs.is_empty()
    }
}

fn is_type(v: &Value, t: &str) -> bool {
    match t {
        "null" => v.is_null(),
        "boolean" => v.is_boolean(),
        "object" => v.is_object(),
        "array" => v.is_array(),
        "string" => v.is_string(),
        "number" => v.is_number(),
        "integer" => v.is_i64() || v.is_u64() || v.as_f64().is_some_and(|f| f.fract() == 0.0),
        _ => false,
    }
}

fn short(v: &Value) -> String {
    let s = v.to_string();
    if s.len() > 200 {
        format!("{}…", &s[..s.floor_char_boundary(200)])
    } else {
        s
    }
}

// --- a tenant with one of everything -----------------------------------------------

/// A tenant, its key, and the id of its resource in every collection.
struct Tenant {
    id: String,
    key: String,
    /// Collection path → the id of the tenant's resource in it.
    ids: BTreeMap<String, String>,
    /// Example id (`support`, …) → the tenant's resource standing for it.
    refs: BTreeMap<String, String>,
    /// Unique text in the tenant's names.
    marker: String,
}

impl Tenant {
    /// Everything that identifies the tenant's data.
    fn markers(&self) -> Vec<String> {
        let mut m: Vec<String> = self.ids.values().cloned().collect();
        m.push(self.marker.clone());
        m.push(self.id.clone());
        m
    }
}

/// `v` with every string equal to an example id replaced by the tenant's own id.
fn substitute(v: &Value, refs: &BTreeMap<String, String>) -> Value {
    match v {
        Value::String(s) => refs
            .get(s)
            .map_or_else(|| v.clone(), |r| Value::String(r.clone())),
        Value::Array(a) => Value::Array(a.iter().map(|x| substitute(x, refs)).collect()),
        Value::Object(o) => Value::Object(
            o.iter()
                .map(|(k, x)| (k.clone(), substitute(x, refs)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// A short valid WAV: 0.2 s of a tone at 8 kHz.
fn wav() -> anyhow::Result<Vec<u8>> {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 8000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut cursor = std::io::Cursor::new(Vec::new());
    {
        let mut w = hound::WavWriter::new(&mut cursor, spec)?;
        for i in 0..1600 {
            w.write_sample(((f64::from(i) * 0.3).sin() * 8000.0) as i16)?;
        }
        w.finalize()?;
    }
    Ok(cursor.into_inner())
}

/// A number no other test uses: `+1555` and seven digits from a fresh UUID.
fn fresh_number() -> String {
    let digits: String = uuid::Uuid::now_v7()
        .as_u128()
        .to_string()
        .chars()
        .rev()
        .take(7)
        .collect();
    format!("+1555{digits}")
}

/// The path of `op` with every parameter filled with `ids` of its collection, and its
/// required query parameters.
fn fill(op: &Op, ids: &BTreeMap<String, String>, marker: &str) -> anyhow::Result<String> {
    let mut out = String::new();
    for seg in op.path.split('/').filter(|s| !s.is_empty()) {
        if seg.starts_with('{') {
            let collection = out.clone();
            let id = ids.get(&collection).ok_or_else(|| {
                anyhow::anyhow!(
                    "{}: this suite does not know how to name a resource of {collection}; add it to RESOURCES or SPECIAL",
                    op.name()
                )
            })?;
            out.push('/');
            out.push_str(id);
        } else {
            out.push('/');
            out.push_str(seg);
        }
    }
    let mut query = Vec::new();
    for p in op.op["parameters"].as_array().into_iter().flatten() {
        if p["in"] == "query" && p["required"] == true {
            let name = p["name"].as_str().unwrap_or_default();
            let value = required_query_value(name, marker).ok_or_else(|| {
                anyhow::anyhow!(
                    "{}: no value for the required query parameter {name}",
                    op.name()
                )
            })?;
            query.push(format!("{name}={value}"));
        }
    }
    if !query.is_empty() {
        out.push('?');
        out.push_str(&query.join("&"));
    }
    Ok(out)
}

/// Creates a tenant with one resource in every collection the document has, each
/// through its API, checking every answer against the document.
async fn populate(
    api: &Api,
    http: &Http,
    doc: &Doc,
    b: &TestBackends,
    label: &str,
) -> anyhow::Result<Tenant> {
    let marker = format!("{label}-{}", hotline_tests::unique());
    let (id, key) = api.tenant(&marker).await?;
    let mut t = Tenant {
        id: id.clone(),
        key: key.clone(),
        ids: BTreeMap::new(),
        refs: BTreeMap::new(),
        marker: marker.clone(),
    };
    t.ids.insert("/v1/tenants".into(), id.clone());
    let mut problems = Vec::new();

    let op = doc.op("post", "/v1/api-keys");
    let r = http
        .json(
            "post",
            "/v1/api-keys",
            Some(&key),
            &json!({"role": "readonly", "label": marker}),
        )
        .await?;
    problems.extend(doc.check_reply(&op, &r));
    anyhow::ensure!(r.status == StatusCode::CREATED, "{r:?}");
    t.ids.insert("/v1/api-keys".into(), str_of(&r.body["id"])?);

    for (collection, stands_for) in RESOURCES {
        let op = doc.op("post", collection);
        let (_, example) = op
            .json_body()
            .ok_or_else(|| anyhow::anyhow!("{} has no JSON body", op.name()))?;
        let mut body = substitute(example, &t.refs);
        body["name"] = json!(format!(
            "{marker} {}",
            body["name"].as_str().unwrap_or_default()
        ));
        let r = http.json("post", collection, Some(&key), &body).await?;
        problems.extend(doc.check_reply(&op, &r));
        anyhow::ensure!(r.status == StatusCode::CREATED, "POST {collection}: {r:?}");
        let rid = str_of(&r.body["id"])?;
        if let Some(example_id) = stands_for {
            t.refs.insert((*example_id).to_owned(), rid.clone());
        }
        t.ids.insert((*collection).to_owned(), rid);
    }

    let number = fresh_number();
    let op = doc.op("put", "/v1/numbers/{number}");
    let (_, example) = op
        .json_body()
        .ok_or_else(|| anyhow::anyhow!("{} has no JSON body", op.name()))?;
    let mut body = substitute(example, &t.refs);
    body["name"] = json!(marker);
    let r = http
        .json("put", &format!("/v1/numbers/{number}"), Some(&key), &body)
        .await?;
    problems.extend(doc.check_reply(&op, &r));
    anyhow::ensure!(r.status == StatusCode::CREATED, "PUT number: {r:?}");
    t.ids.insert("/v1/numbers".into(), number);

    let op = doc.op("post", "/v1/prompts");
    let path = fill(&op, &BTreeMap::new(), &marker)?;
    let r = http
        .send(
            "post",
            &path,
            Some(&key),
            &[("content-type", "audio/wav")],
            Some(wav()?),
        )
        .await?;
    problems.extend(doc.check_reply(&op, &r));
    anyhow::ensure!(r.status == StatusCode::CREATED, "upload prompt: {r:?}");
    t.ids.insert("/v1/prompts".into(), str_of(&r.body["id"])?);

    let call = format!("call-{}", hotline_tests::unique());
    publish_call(b, &id, &call).await?;
    let op = doc.op("get", "/v1/calls/{id}");
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let r = http
            .send("get", &format!("/v1/calls/{call}"), Some(&key), &[], None)
            .await?;
        if r.status == StatusCode::OK
            && r.body["ended_at"].is_string()
            && r.body["events"].as_array().is_some_and(|e| e.len() == 2)
        {
            problems.extend(doc.check_reply(&op, &r));
            break;
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "the call log never showed call {call}: {r:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    t.ids.insert("/v1/calls".into(), call);

    // Every collection a path of the document names now has an id.
    for op in doc.ops() {
        fill(&op, &t.ids, &marker)?;
    }
    let known: BTreeSet<&str> = RESOURCES
        .iter()
        .map(|(c, _)| *c)
        .chain(SPECIAL.iter().copied())
        .collect();
    for c in t.ids.keys() {
        assert!(known.contains(c.as_str()), "{c}");
    }
    assert!(
        problems.is_empty(),
        "answers that differ from the document:\n{}",
        problems.join("\n")
    );
    Ok(t)
}

fn str_of(v: &Value) -> anyhow::Result<String> {
    v.as_str()
        .map(str::to_owned)
        .ok_or_else(|| anyhow::anyhow!("expected a string, got {v}"))
}

/// Publishes an offered and an abandoned end of `call` of `tenant` on the events topic.
async fn publish_call(b: &TestBackends, tenant: &str, call: &str) -> anyhow::Result<()> {
    let p = hotline_bus::Publisher::new(b.backends.bus.clone(), b.backends.topics.events.clone());
    let start = SystemTime::now() - Duration::from_secs(60);
    let offered = CallOffered {
        caller: "+79161234567".to_owned(),
        did: "+18005550100".to_owned(),
        entry_flow_id: "main".to_owned(),
        sip_call_id: format!("{call}@ingress"),
        ..CallOffered::default()
    };
    let ended = CallEnded {
        wait_seconds: 12,
        ..CallEnded::new(Disposition::AbandonedInQueue)
    };
    for (payload, at) in [
        (offered.into(), start),
        (ended.into(), start + Duration::from_secs(12)),
    ] {
        let e = Event::at(
            TenantId::new(tenant)?,
            Some(CallId::new(call)?),
            payload,
            at,
        );
        p.publish(&e).await?;
    }
    Ok(())
}

/// What `t` sees through every read of the document: each `GET` operation, its path
/// filled with `t`'s ids, read with `t`'s key.
async fn snapshot(http: &Http, doc: &Doc, t: &Tenant) -> anyhow::Result<BTreeMap<String, Reply>> {
    let mut out = BTreeMap::new();
    for op in doc.ops().into_iter().filter(|o| o.method == "get") {
        let path = fill(&op, &t.ids, &t.marker)?;
        let r = http.send("get", &path, Some(&t.key), &[], None).await?;
        out.insert(path, r);
    }
    // What the provider sees of the tenants.
    let r = http
        .send("get", "/v1/tenants", Some(ADMIN), &[], None)
        .await?;
    out.insert("provider: /v1/tenants".to_owned(), r);
    Ok(out)
}

fn differences(before: &BTreeMap<String, Reply>, after: &BTreeMap<String, Reply>) -> Vec<String> {
    before
        .iter()
        .filter(|(k, v)| after.get(*k) != Some(v))
        .map(|(k, v)| {
            let now = after.get(k).map_or_else(
                || "nothing".to_owned(),
                |a| format!("{} {}", a.status, short(&a.body)),
            );
            format!("{k} changed: {} {} became {now}", v.status, short(&v.body))
        })
        .collect()
}

// --- the document validates -------------------------------------------------------

/// Every `$ref` of `v`, with where it is.
fn refs(v: &Value, at: &str, out: &mut Vec<(String, String)>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                if k == "$ref"
                    && let Value::String(s) = x
                {
                    out.push((at.to_owned(), s.clone()));
                }
                refs(x, &format!("{at}/{k}"), out);
            }
        }
        Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                refs(x, &format!("{at}/{i}"), out);
            }
        }
        _ => {}
    }
}

/// Resolves `schema` and every schema inside it through `oas3` (to a depth, since
/// schemas may be recursive); the number resolved.
fn resolve_deep(
    spec: &oas3::Spec,
    schema: &oas3::spec::Schema,
    at: &str,
    depth: usize,
) -> anyhow::Result<usize> {
    if depth > 12 {
        return Ok(0);
    }
    let resolved = schema
        .resolve(spec)
        .map_err(|e| anyhow::anyhow!("{at}: {e}"))?;
    let mut n = 1;
    if let oas3::spec::Schema::Object(o) = &resolved
        && let oas3::spec::ObjectOrReference::Object(s) = o.as_ref()
    {
        for (k, p) in &s.properties {
            n += resolve_deep(spec, p, &format!("{at}.{k}"), depth + 1)?;
        }
        for (i, sub) in s
            .all_of
            .iter()
            .chain(&s.any_of)
            .chain(&s.one_of)
            .enumerate()
        {
            n += resolve_deep(spec, sub, &format!("{at}/{i}"), depth + 1)?;
        }
        if let Some(items) = &s.items {
            n += resolve_deep(spec, items, &format!("{at}[]"), depth + 1)?;
        }
        if let Some(more) = &s.additional_properties {
            n += resolve_deep(spec, more, &format!("{at}.*"), depth + 1)?;
        }
    }
    Ok(n)
}

both!(the_document_parses_and_validates);
async fn the_document_parses_and_validates(b: &TestBackends) -> anyhow::Result<()> {
    let api = Api::start(b).await?;
    let http = Http::new(&api);
    let doc = Doc::fetch(&http).await?;
    let text = serde_json::to_string(&doc.raw)?;

    let spec = oas3::from_json(&text)?;
    let version = spec.validate_version()?;
    assert_eq!((version.major, version.minor), (3, 1), "{version}");
    let mut count = 0;
    let mut resolved = 0;
    for (path, method, op) in spec.operations() {
        count += 1;
        let raw = &doc.raw["paths"][&path][method.as_str().to_lowercase()];
        assert!(op.operation_id.is_some(), "{method} {path}");
        // oas3 drops what it cannot resolve: every response and parameter must survive.
        let responses = op.responses(&spec);
        assert_eq!(
            responses.len(),
            raw["responses"].as_object().map_or(0, |m| m.len()),
            "{method} {path}: a response does not resolve"
        );
        assert!(
            responses.keys().any(|s| s.starts_with('2')),
            "{method} {path} declares no success"
        );
        assert_eq!(
            op.parameters(&spec)?.len(),
            raw["parameters"].as_array().map_or(0, Vec::len),
            "{method} {path}: a parameter does not resolve"
        );
        if let Some(body) = op.request_body(&spec)? {
            for (media, m) in &body.content {
                let schema = m
                    .schema
                    .as_ref()
                    .ok_or_else(|| anyhow::anyhow!("{method} {path} {media}: no schema"))?;
                resolved += resolve_deep(&spec, schema, &format!("{method} {path} {media}"), 0)?;
            }
        }
        for (status, resp) in &responses {
            for (media, m) in &resp.content {
                if let Some(schema) = &m.schema {
                    resolved += resolve_deep(
                        &spec,
                        schema,
                        &format!("{method} {path} {status} {media}"),
                        0,
                    )?;
                }
            }
        }
    }
    assert_eq!(count, doc.ops().len());
    assert!(count > 40, "only {count} operations");
    let components = spec
        .components
        .as_ref()
        .ok_or_else(|| anyhow::anyhow!("no components"))?;
    for (name, s) in &components.schemas {
        resolved += resolve_deep(&spec, s, &format!("components.schemas.{name}"), 0)?;
    }
    assert!(resolved > 500, "oas3 resolved only {resolved} schemas");
    for scheme in ["providerToken", "apiKey"] {
        assert!(components.security_schemes.contains_key(scheme), "{scheme}");
    }

    // Every `$ref`, wherever it is, names something in the document.
    let mut all = Vec::new();
    refs(&doc.raw, "", &mut all);
    assert!(all.len() > 100, "{}", all.len());
    for (at, r) in &all {
        let pointer = r
            .strip_prefix('#')
            .ok_or_else(|| anyhow::anyhow!("{at}: {r} is not a local reference"))?;
        assert!(
            doc.raw.pointer(pointer).is_some(),
            "{at}: {r} does not resolve"
        );
    }

    // The enums the issue names.
    let schemas = &doc.raw["components"]["schemas"];
    let strategies: Vec<&str> = issue_strategies();
    assert_eq!(schemas["Strategy"]["enum"], json!(strategies));
    assert_eq!(
        schemas["Role"]["enum"],
        json!(["admin", "supervisor", "agent", "readonly"])
    );

    // Every example body is valid by its own schema (the document agrees with itself).
    for op in doc.ops() {
        if let Some((schema, example)) = op.json_body() {
            let mut errs = Vec::new();
            doc.check(schema, example, "", false, &mut errs);
            assert!(
                errs.is_empty(),
                "{}: example is invalid: {errs:?}",
                op.name()
            );
        }
    }

    // PyPI's openapi-spec-validator, when this machine's Python has it.
    let python = std::process::Command::new("python3")
        .args(["-c", "import openapi_spec_validator"])
        .output();
    match python {
        Ok(o) if o.status.success() => {
            let file = b.dir.path().join("openapi.json");
            std::fs::write(&file, &text)?;
            let out = std::process::Command::new("python3")
                .args([
                    "-c",
                    "import json, sys; from openapi_spec_validator import validate; validate(json.load(open(sys.argv[1]))); print('ok')",
                ])
                .arg(&file)
                .output()?;
            assert!(
                out.status.success(),
                "openapi-spec-validator: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        _ => eprintln!(
            "python3 with openapi-spec-validator is not here; the oas3 check stands alone"
        ),
    }
    api.stop().await
}

/// The strategy identifiers, as the issue lists them (an oracle independent of the code).
fn issue_strategies() -> Vec<&'static str> {
    vec![
        "ring-all",
        "linear",
        "least-recent",
        "fewest-calls",
        "least-talk-time",
        "random",
        "weighted-random",
        "round-robin",
        "round-robin-ordered",
        "top-down",
        "ring-progressively",
    ]
}

// --- isolation ----------------------------------------------------------------------

/// The order operations are called in: reads, then deletes and actions, then writes
/// (so B's own creations cannot stand in for A's resources in the reads).
fn phase(op: &Op) -> u8 {
    match (op.method.as_str(), op.has_params()) {
        ("get", _) => 0,
        ("delete", _) => 1,
        (_, true) if op.method != "put" => 2,
        ("put", _) => 3,
        _ => 4,
    }
}

/// The body B sends to `op`: the document's example naming A's resources, or a WAV.
fn body_for(op: &Op, a: &Tenant, b_marker: &str) -> anyhow::Result<Option<(String, Vec<u8>)>> {
    if let Some((_, example)) = op.json_body() {
        let mut body = substitute(example, &a.refs);
        if body.get("name").is_some_and(Value::is_string) {
            body["name"] = json!(b_marker);
        }
        return Ok(Some((
            "application/json".into(),
            serde_json::to_vec(&body)?,
        )));
    }
    if let Some(ct) = op.binary_body() {
        return Ok(Some((ct, wav()?)));
    }
    Ok(None)
}

both!(tenant_b_reaches_nothing_of_tenant_a_through_any_operation);
async fn tenant_b_reaches_nothing_of_tenant_a_through_any_operation(
    b: &TestBackends,
) -> anyhow::Result<()> {
    let api = Api::start(b).await?;
    let http = Http::new(&api);
    let doc = Doc::fetch(&http).await?;
    let a = populate(&api, &http, &doc, b, "tenant-a").await?;
    let b_marker = format!("tenant-b-{}", hotline_tests::unique());
    let (_, b_key) = api.tenant(&b_marker).await?;
    let before = snapshot(&http, &doc, &a).await?;
    let a_markers = a.markers();
    let mut problems = Vec::new();
    let mut ops = doc.ops();
    ops.sort_by_key(phase);
    let mut called = 0;
    for op in &ops {
        let path = fill(op, &a.ids, &b_marker)?;
        let (content_type, bytes) = match body_for(op, &a, &b_marker)? {
            Some((ct, b)) => (Some(ct), Some(b)),
            None => (None, None),
        };
        let headers: Vec<(&str, &str)> = content_type
            .as_deref()
            .map(|ct| vec![("content-type", ct)])
            .unwrap_or_default();
        let name = format!("{} {path}", op.method.to_uppercase());
        called += 1;
        if op.has_params() && op.method != "put" {
            // Naming A's resource: 404, exactly as for one that does not exist.
            let r = http
                .send(&op.method, &path, Some(&b_key), &headers, bytes)
                .await?;
            problems.extend(doc.check_reply(op, &r));
            if r.status != StatusCode::NOT_FOUND
                || r.body["error"]["code"] != "not_found"
                || r.body["error"]["message"] == "route not found"
            {
                problems.push(format!(
                    "{name} with B's key: {} {}, expected 404",
                    r.status, r.body
                ));
            }
        } else if op.method == "put" {
            // Replacing A's resource, at the version A has: never 2xx.
            let version = before
                .get(&path)
                .and_then(|r| r.body["version"].as_i64())
                .unwrap_or(1)
                .to_string();
            let if_match = format!("\"{version}\"");
            let mut h = headers.clone();
            h.push(("if-match", if_match.as_str()));
            let r = http
                .send("put", &path, Some(&b_key), &h, bytes.clone())
                .await?;
            problems.extend(doc.check_reply(op, &r));
            if ![404, 409, 412, 422].contains(&r.status.as_u16()) {
                problems.push(format!(
                    "{name} If-Match {if_match} with B's key: {} {}",
                    r.status, r.body
                ));
            }
            // Without a precondition a PUT may create B's own resource at that id (ids
            // are per tenant), never touch A's, and never answer 403 or 5xx.
            let r = http
                .send("put", &path, Some(&b_key), &headers, bytes)
                .await?;
            problems.extend(doc.check_reply(op, &r));
            if r.status == StatusCode::FORBIDDEN || r.status.is_server_error() {
                problems.push(format!("{name} with B's key: {} {}", r.status, r.body));
            }
            if r.status.is_success() {
                let mine = http.send("get", &path, Some(&b_key), &[], None).await?;
                if mine.status != StatusCode::OK || !mine.body.to_string().contains(&b_marker) {
                    problems.push(format!(
                        "{name}: B's PUT answered {}, yet B reads {mine:?}",
                        r.status
                    ));
                }
            }
        } else if op.method == "get" {
            // A list: none of A's ids or names.
            let r = http
                .send("get", &path, Some(&b_key), &headers, bytes)
                .await?;
            problems.extend(doc.check_reply(op, &r));
            if !r.status.is_success() {
                problems.push(format!("{name} with B's key: {} {}", r.status, r.body));
            }
            let text = r.body.to_string();
            for m in &a_markers {
                if text.contains(m.as_str()) {
                    problems.push(format!("{name} with B's key shows A's {m}: {text}"));
                }
            }
        } else {
            // A create: never 5xx, and what it creates is B's.
            let r = http
                .send(&op.method, &path, Some(&b_key), &headers, bytes)
                .await?;
            problems.extend(doc.check_reply(op, &r));
            if r.status.is_server_error() {
                problems.push(format!("{name} with B's key: {} {}", r.status, r.body));
            }
            let base = op.path.as_str();
            let readable = doc.ops().iter().any(|o| {
                o.method == "get"
                    && o.path.strip_prefix(base).is_some_and(|rest| {
                        rest.starts_with("/{")
                            && rest.ends_with('}')
                            && rest.matches('/').count() == 1
                    })
            });
            if r.status.is_success()
                && readable
                && let Some(id) = r.body["id"].as_str()
            {
                let theirs = http
                    .send("get", &format!("{base}/{id}"), Some(&a.key), &[], None)
                    .await?;
                if theirs.status != StatusCode::NOT_FOUND {
                    problems.push(format!("{name} by B made {id}, which A reads: {theirs:?}"));
                }
            }
        }
    }
    assert_eq!(called, doc.ops().len());
    let after = snapshot(&http, &doc, &a).await?;
    problems.extend(differences(&before, &after));
    assert!(
        problems.is_empty(),
        "tenant isolation, {} problems:\n{}",
        problems.len(),
        problems.join("\n")
    );
    api.stop().await
}

// --- malformed bodies ----------------------------------------------------------------

/// One malformed request.
struct Case {
    what: String,
    content_type: String,
    body: Vec<u8>,
    /// A JSON value the schema itself must refuse (a check on this generator).
    schema_invalid: Option<Value>,
    /// Larger than the server reads: it may answer before the body is sent and close
    /// the connection, which the client then sees as a reset instead of the answer.
    too_large: bool,
}

impl Case {
    fn json(what: impl Into<String>, v: &Value, schema_invalid: bool) -> Self {
        Self {
            what: what.into(),
            content_type: "application/json".into(),
            body: serde_json::to_vec(v).unwrap_or_default(),
            schema_invalid: schema_invalid.then(|| v.clone()),
            too_large: false,
        }
    }

    fn raw(what: impl Into<String>, content_type: &str, body: Vec<u8>) -> Self {
        Self {
            what: what.into(),
            content_type: content_type.into(),
            body,
            schema_invalid: None,
            too_large: false,
        }
    }

    fn too_large(mut self) -> Self {
        self.too_large = true;
        self
    }
}

/// Values of every JSON type, to pick a wrong one from.
fn every_type() -> Vec<Value> {
    vec![
        json!(12345),
        json!("wrong"),
        json!(true),
        json!([1, 2]),
        json!({"x": 1}),
        Value::Null,
        json!(-1.5),
    ]
}

fn nested_arrays(depth: usize) -> String {
    format!("{}{}", "[".repeat(depth), "]".repeat(depth))
}

/// The malformed bodies of a JSON operation, from its schema and a valid `base`.
fn json_cases(doc: &Doc, schema: &Value, base: &Value) -> Vec<Case> {
    let schema = doc.resolve(schema);
    let mut cases = vec![
        Case::raw(
            "not JSON",
            "application/json",
            b"{this is not json".to_vec(),
        ),
        Case::raw("empty", "application/json", Vec::new()),
        Case::raw(
            "truncated",
            "application/json",
            serde_json::to_vec(base)
                .map(|b| b[..b.len() / 2].to_vec())
                .unwrap_or_default(),
        ),
        Case::raw(
            "trailing garbage",
            "application/json",
            [
                serde_json::to_vec(base).unwrap_or_default(),
                b" {}".to_vec(),
            ]
            .concat(),
        ),
        Case::raw(
            "deeply nested",
            "application/json",
            nested_arrays(100_000).into_bytes(),
        ),
        Case::raw(
            "deeply nested objects",
            "application/json",
            format!("{}1{}", "{\"a\":".repeat(20_000), "}".repeat(20_000)).into_bytes(),
        ),
        Case::raw(
            "too large",
            "application/json",
            serde_json::to_vec(&json!({"name": "x".repeat(3 * 1024 * 1024)})).unwrap_or_default(),
        )
        .too_large(),
        Case::raw(
            "invalid UTF-8",
            "application/json",
            b"{\"name\": \"\xff\xfe\"}".to_vec(),
        ),
    ];
    for top in every_type() {
        if !doc.valid(schema, &top) {
            cases.push(Case::json(format!("top-level {top}"), &top, true));
        }
    }
    let props = schema["properties"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    for (p, ps) in &props {
        if let Some(wrong) = every_type().into_iter().find(|v| !doc.valid(ps, v)) {
            let mut v = base.clone();
            v[p] = wrong.clone();
            cases.push(Case::json(format!("{p} = {wrong}"), &v, true));
        }
        let resolved = doc.resolve(ps);
        let string_ok = doc.valid(resolved, &json!("x"));
        if string_ok {
            let mut v = base.clone();
            v[p] = json!("x".repeat(20_000));
            cases.push(Case::json(format!("{p} = 20000 characters"), &v, false));
        }
        let mut v = base.clone();
        v[p] = serde_json::from_str::<Value>(&nested_arrays(100)).unwrap_or(Value::Null);
        if !doc.valid(ps, &v[p]) {
            cases.push(Case::json(format!("{p} = nested arrays"), &v, true));
        }
    }
    for r in schema["required"].as_array().into_iter().flatten() {
        if let Some(r) = r.as_str()
            && let Some(o) = base.as_object()
        {
            let mut o = o.clone();
            o.remove(r);
            cases.push(Case::json(format!("without {r}"), &Value::Object(o), true));
        }
    }
    let mut extra = base.clone();
    extra["zz_unknown_property"] = json!(1);
    cases.push(Case::json("an unknown property", &extra, true));
    cases
}

/// The malformed bodies of a binary (WAV) operation.
fn binary_cases(content_type: &str, valid: &[u8]) -> Vec<Case> {
    let mut header_only = valid.to_vec();
    header_only.truncate(44);
    let mut bad_format = valid.to_vec();
    // The fmt chunk's audio format: 0x1234 is no PCM nor float.
    bad_format[20] = 0x34;
    bad_format[21] = 0x12;
    vec![
        Case::raw("empty", content_type, Vec::new()),
        Case::raw(
            "not audio",
            content_type,
            b"this is not a wav file".to_vec(),
        ),
        Case::raw("JSON", content_type, br#"{"name": "x"}"#.to_vec()),
        Case::raw("header only", content_type, header_only),
        Case::raw("truncated", content_type, valid[..30].to_vec()),
        Case::raw("unknown sample format", content_type, bad_format),
        Case::raw("too large", content_type, vec![0; 11 * 1024 * 1024]).too_large(),
        Case::raw("wrong content type", "application/json", valid.to_vec()),
    ]
}

/// The path a malformed request goes to: a fresh id where the operation creates at a
/// named id, the tenant's own resource otherwise.
fn malformed_path(op: &Op, t: &Tenant, n: usize) -> anyhow::Result<String> {
    let mut ids = t.ids.clone();
    if op.method == "put" {
        for c in ids.clone().keys() {
            let fresh = if c == "/v1/numbers" {
                fresh_number()
            } else {
                format!("malformed-{n}")
            };
            ids.insert(c.clone(), fresh);
        }
    }
    fill(op, &ids, &t.marker)
}

both!(malformed_bodies_get_only_4xx_and_store_nothing);
async fn malformed_bodies_get_only_4xx_and_store_nothing(b: &TestBackends) -> anyhow::Result<()> {
    let api = Api::start(b).await?;
    let http = Http::new(&api);
    let doc = Doc::fetch(&http).await?;
    let t = populate(&api, &http, &doc, b, "malformed").await?;
    let before = snapshot(&http, &doc, &t).await?;
    let wav = wav()?;
    let mut problems = Vec::new();
    let mut bases = Vec::new();
    let mut with_body = 0;
    for (n, op) in doc.ops().iter().enumerate() {
        if op.op.get("requestBody").is_none() {
            continue;
        }
        with_body += 1;
        let path = malformed_path(op, &t, n)?;
        let key = if op.provider_only() {
            ADMIN
        } else {
            t.key.as_str()
        };
        let (cases, base) = if let Some((schema, example)) = op.json_body() {
            let base = substitute(example, &t.refs);
            (
                json_cases(&doc, schema, &base),
                ("application/json".to_owned(), serde_json::to_vec(&base)?),
            )
        } else if let Some(ct) = op.binary_body() {
            (binary_cases(&ct, &wav), (ct, wav.clone()))
        } else {
            problems.push(format!(
                "{}: a request body this suite cannot make",
                op.name()
            ));
            continue;
        };
        assert!(cases.len() >= 8, "{}: {} cases", op.name(), cases.len());
        for case in cases {
            if let Some(v) = &case.schema_invalid {
                let (schema, _) = op.json_body().unwrap_or((&Value::Null, &Value::Null));
                if doc.valid(schema, v) {
                    problems.push(format!(
                        "{}: the generator's {:?} is valid by the schema",
                        op.name(),
                        case.what
                    ));
                }
            }
            let sent = http
                .send(
                    &op.method,
                    &path,
                    Some(key),
                    &[("content-type", case.content_type.as_str())],
                    Some(case.body),
                )
                .await;
            let r = match sent {
                Ok(r) => r,
                // Refused while still sending; the snapshot below shows nothing stored.
                Err(e) if case.too_large && e.to_string().contains("error sending request") => {
                    continue;
                }
                Err(e) => return Err(e),
            };
            if !r.status.is_client_error() || r.body["error"]["message"] == "route not found" {
                problems.push(format!(
                    "{} {path} ({}): {} {}",
                    op.method.to_uppercase(),
                    case.what,
                    r.status,
                    short(&r.body)
                ));
            }
            problems.extend(
                doc.check_reply(op, &r)
                    .into_iter()
                    .map(|e| format!("({}) {e}", case.what)),
            );
        }
        if op.method == "put" {
            let r = http.send("get", &path, Some(key), &[], None).await?;
            if r.status != StatusCode::NOT_FOUND {
                problems.push(format!("after malformed PUTs, GET {path}: {r:?}"));
            }
        }
        bases.push((op.clone(), path, key.to_owned(), base));
    }
    assert!(with_body >= 10, "only {with_body} operations with a body");
    let after = snapshot(&http, &doc, &t).await?;
    problems.extend(differences(&before, &after));

    // The unmodified bodies are accepted: what the cases changed is what was refused.
    for (op, path, key, (ct, body)) in bases {
        let r = http
            .send(
                &op.method,
                &path,
                Some(&key),
                &[("content-type", ct.as_str())],
                Some(body),
            )
            .await?;
        problems.extend(doc.check_reply(&op, &r));
        if !r.status.is_success() {
            problems.push(format!(
                "{} {path} with the example body: {} {}",
                op.method.to_uppercase(),
                r.status,
                r.body
            ));
        }
    }
    assert!(
        problems.is_empty(),
        "malformed bodies, {} problems:\n{}",
        problems.len(),
        problems.join("\n")
    );
    api.stop().await
}

both!(a_json_body_under_another_content_type_is_refused);
/// Content types are part of the contract: a JSON body sent as `text/plain` or without
/// a `Content-Type` is refused (415) and stores nothing.
async fn a_json_body_under_another_content_type_is_refused(b: &TestBackends) -> anyhow::Result<()> {
    let api = Api::start(b).await?;
    let http = Http::new(&api);
    let doc = Doc::fetch(&http).await?;
    let t = populate(&api, &http, &doc, b, "content-type").await?;
    let before = snapshot(&http, &doc, &t).await?;
    let mut problems = Vec::new();
    for (n, op) in doc.ops().iter().enumerate() {
        let Some((_, example)) = op.json_body() else {
            continue;
        };
        let path = malformed_path(op, &t, n)?;
        let key = if op.provider_only() {
            ADMIN
        } else {
            t.key.as_str()
        };
        let body = serde_json::to_vec(&substitute(example, &t.refs))?;
        for ct in [
            Some("text/plain"),
            Some("application/x-www-form-urlencoded"),
            None,
        ] {
            let headers: Vec<(&str, &str)> =
                ct.map(|c| vec![("content-type", c)]).unwrap_or_default();
            let r = http
                .send(&op.method, &path, Some(key), &headers, Some(body.clone()))
                .await?;
            if !r.status.is_client_error() {
                problems.push(format!(
                    "{} {path} with a valid JSON body as {}: {} {}",
                    op.method.to_uppercase(),
                    ct.unwrap_or("no content type"),
                    r.status,
                    short(&r.body)
                ));
            }
        }
    }
    let after = snapshot(&http, &doc, &t).await?;
    problems.extend(differences(&before, &after));
    assert!(
        problems.is_empty(),
        "content types, {} problems:\n{}",
        problems.len(),
        problems.join("\n")
    );
    api.stop().await
}

#[test]
fn the_validator_can_fail() {
    let doc = Doc {
        raw: json!({"components": {"schemas": {
            "T": {"type": "object", "properties": {"a": {"type": "integer", "minimum": 1}, "s": {"type": "string", "writeOnly": true}},
                  "required": ["a"], "additionalProperties": false},
            "U": {"oneOf": [{"const": "all"}, {"type": "array", "items": {"enum": ["x", "y"]}, "uniqueItems": true}]},
        }}}),
    };
    let t = json!({"$ref": "#/components/schemas/T"});
    assert!(doc.valid(&t, &json!({"a": 2})));
    assert!(!doc.valid(&t, &json!({"a": 0})));
    assert!(!doc.valid(&t, &json!({"a": "2"})));
    assert!(!doc.valid(&t, &json!({})));
    assert!(!doc.valid(&t, &json!({"a": 2, "b": 1})));
    let mut errs = Vec::new();
    doc.check(&t, &json!({"a": 2, "s": "secret"}), "", true, &mut errs);
    assert_eq!(errs.len(), 1, "{errs:?}");
    let u = json!({"$ref": "#/components/schemas/U"});
    assert!(doc.valid(&u, &json!("all")));
    assert!(doc.valid(&u, &json!(["x"])));
    assert!(!doc.valid(&u, &json!(["x", "x"])));
    assert!(!doc.valid(&u, &json!(["z"])));
    assert!(!doc.valid(&u, &json!("some")));
}

//! The call log, the "electronic registration of calls" every hotline keeps: a
//! projection of the call events on the events topic, and the routes that read it.
//!
//! [`CallLog`] is the [`Handler`] that [`run_projection`] runs over the events topic. For
//! each event with a call id it stores the event, rendered as compact JSON
//! ([`event_body`]), and a [`CallPatch`] with what the event says about the call
//! ([`patch_of`]). The store folds the patch into the call's record and ignores an event
//! id it already holds, so redelivery changes nothing.
//!
//! Events can arrive out of order: ingress and routing publish independently, so a
//! `CallEnded` can come before the `CallConnected` it follows. The store's merge is
//! order-free for most fields (the earliest start wins, the first answer and end are
//! kept). For the fields where the last write wins (queue, agent, IVR path, disposition,
//! wait and talk seconds), the handler reads the call's stored events first and leaves
//! out of the patch every such field that an event with a later time already set. The
//! record then always holds the values of the latest event in event time, whatever the
//! arrival order. This read-then-write is safe because the events of one call share a
//! bus key, and so one partition, which one consumer at a time works through in order.
//!
//! Routes, for every role of the tenant:
//! - `GET /v1/calls?limit=&since=&before=&queue=&agent=&disposition=` lists calls newest
//!   first: `{"calls": [...], "next": <cursor or null>}`. Pass `next` back as `before`
//!   to get the following page.
//! - `GET /v1/calls/{id}` returns one call with its `events`.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use hotline_bus::{ConsumerMetrics, EventBus, Handler, HandlerError};
use hotline_core::events::payload::{IvrAction, OverflowTarget, TransferTarget};
use hotline_core::{AgentId, CallId, Disposition, Event, EventId, Payload, QueueId};
use hotline_store::calls::{MAX_IVR_ENTRY_CHARS, MAX_IVR_LEVELS, MAX_PARTY_CHARS};
use hotline_store::{CallEventRow, CallFilter, CallPatch, CallRecord, Store};
use serde::Serialize;
use serde_json::{Map, Value, json};
use tokio_util::sync::CancellationToken;

use crate::auth::Role;
use crate::http::{ApiError, ApiState, Caller, rfc3339};

type AppState = Arc<ApiState>;

/// Every role of a tenant may read the call log.
const READ_ROLES: &[Role] = &[Role::Admin, Role::Supervisor, Role::Agent, Role::Readonly];

/// Page size of `GET /v1/calls` when `limit` is not given.
pub const DEFAULT_LIMIT: u32 = 50;

/// Largest `limit` of `GET /v1/calls`.
pub const MAX_LIMIT: u32 = hotline_store::MAX_PAGE_LIMIT;

// --- projection ----------------------------------------------------------------------

/// Projects call events into the store's call log (see the module docs).
#[derive(Debug, Clone)]
pub struct CallLog {
    store: Arc<dyn Store>,
}

impl CallLog {
    /// A projection writing to `store`.
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self { store }
    }

    #[tracing::instrument(
        name = "api.call_log.apply",
        skip_all,
        fields(tenant = %event.tenant, call = %call, event_id = %event.id, event_type = event.kind())
    )]
    async fn apply(
        &self,
        event: &Event,
        call: &CallId,
        body: Map<String, Value>,
    ) -> Result<(), HandlerError> {
        let at = to_micros_precision(event.occurred_at);
        let stored = self
            .store
            .call(&event.tenant, call)
            .await
            .map_err(store_error)?
            .map(|(_, events)| events)
            .unwrap_or_default();
        if stored.iter().any(|e| e.event == event.id) {
            tracing::debug!("call event redelivered; skipped");
            return Ok(());
        }
        let patch = ordered_patch(event.kind(), at, &event.id, &body, &stored);
        let row = CallEventRow {
            tenant: event.tenant.clone(),
            call: call.clone(),
            event: event.id,
            kind: event.kind().to_owned(),
            at,
            body: Value::Object(body).to_string(),
        };
        let applied = self
            .store
            .apply_call_event(row, patch)
            .await
            .map_err(store_error)?;
        tracing::debug!(applied, "call event projected");
        Ok(())
    }
}

#[async_trait]
impl Handler for CallLog {
    async fn handle(&self, event: &Event) -> Result<(), HandlerError> {
        // Configuration and agent events carry no call; they are not the log's business.
        let Some(call) = &event.call else {
            return Ok(());
        };
        let Some(body) = event_body(&event.payload) else {
            return Ok(());
        };
        self.apply(event, call, body).await
    }
}

/// A store failure as the consumer sees it: bad data (an event the store refuses, or one
/// for a tenant that does not exist, e.g. deleted while the call ran) will never apply
/// and is dead-lettered; anything else (the database is down, ...) is retried.
fn store_error(e: hotline_store::Error) -> HandlerError {
    match e {
        hotline_store::Error::Invalid { .. } | hotline_store::Error::NotFound { .. } => {
            HandlerError::Permanent(e.to_string())
        }
        other => HandlerError::Transient(other.to_string()),
    }
}

/// Consumes `topic` in consumer group `group` and projects its call events into the call
/// log until `shutdown`. The topic and its dead-letter topic must exist.
pub async fn run_projection(
    store: Arc<dyn Store>,
    bus: Arc<dyn EventBus>,
    topic: String,
    group: String,
    metrics: ConsumerMetrics,
    shutdown: CancellationToken,
) -> Result<(), String> {
    hotline_bus::run_consumer(
        bus,
        group,
        topic,
        Arc::new(CallLog::new(store)),
        metrics,
        shutdown,
    )
    .await
    .map_err(|e| format!("call log consumer: {e}"))
}

/// `t` cut to the microsecond, the precision the store keeps, so that comparing a new
/// event's time with stored ones is exact.
fn to_micros_precision(t: SystemTime) -> SystemTime {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => UNIX_EPOCH + Duration::from_micros(u64::try_from(d.as_micros()).unwrap_or(0)),
        // Events before 1970 do not decode; keep the value as it is for the store to refuse.
        Err(_) => t,
    }
}

/// The patch of a new event, without the last-write-wins fields that a stored event with
/// a later `(time, id)` already set.
fn ordered_patch(
    kind: &str,
    at: SystemTime,
    id: &EventId,
    body: &Map<String, Value>,
    stored: &[CallEventRow],
) -> CallPatch {
    let mut patch = patch_of(kind, at, body);
    for later in stored.iter().filter(|e| (e.at, e.event) > (at, *id)) {
        let Ok(Value::Object(later_body)) = serde_json::from_str::<Value>(&later.body) else {
            continue;
        };
        let later = patch_of(&later.kind, later.at, &later_body);
        if later.disposition.is_some() {
            patch.disposition = None;
        }
        if later.ivr_path.is_some() {
            patch.ivr_path = None;
        }
        if later.queue.is_some() {
            patch.queue = None;
        }
        if later.agent.is_some() {
            patch.agent = None;
        }
        if later.wait_seconds.is_some() {
            patch.wait_seconds = None;
        }
        if later.talk_seconds.is_some() {
            patch.talk_seconds = None;
        }
    }
    patch
}

/// What an event (its type, time and [`event_body`]) says about its call. Derived from the
/// stored JSON rather than the domain payload, so stored events can be read back the same
/// way by [`ordered_patch`]. Values the store would refuse (an over-long caller, too deep
/// an IVR path) are left out of the summary; the event itself keeps them.
fn patch_of(kind: &str, at: SystemTime, body: &Map<String, Value>) -> CallPatch {
    let text = |k: &str| body.get(k).and_then(Value::as_str);
    let queue = || text("queue_id").and_then(|q| QueueId::new(q).ok());
    let agent = || text("agent_id").and_then(|a| AgentId::new(a).ok());
    let seconds = |k: &str| {
        body.get(k)
            .and_then(Value::as_u64)
            .and_then(|s| u32::try_from(s).ok())
    };
    let path = |k: &str| {
        let entries = body.get(k)?.as_array()?;
        let path: Vec<String> = entries
            .iter()
            .map(|e| e.as_str().map(str::to_owned))
            .collect::<Option<_>>()?;
        let fits = path.len() <= MAX_IVR_LEVELS
            && path
                .iter()
                .all(|e| !e.contains('\0') && e.chars().count() <= MAX_IVR_ENTRY_CHARS);
        fits.then_some(path)
    };
    let party = |k: &str| {
        text(k)
            .filter(|p| !p.is_empty() && !p.contains('\0') && p.chars().count() <= MAX_PARTY_CHARS)
            .map(str::to_owned)
    };
    match kind {
        "CallOffered" => CallPatch {
            started_at: Some(at),
            caller: party("caller"),
            did: party("did"),
            // A path taken before the offer (an IVR in front of ingress), when there is one.
            ivr_path: path("ivr_path").filter(|p| !p.is_empty()),
            // The queue the entry flow chose directly, when it did.
            queue: queue(),
            ..CallPatch::default()
        },
        "IvrPathChosen" => CallPatch {
            ivr_path: path("path"),
            ..CallPatch::default()
        },
        "CallQueued" => CallPatch {
            queue: queue(),
            ..CallPatch::default()
        },
        "CallConnected" => CallPatch {
            answered_at: Some(at),
            queue: queue(),
            agent: agent(),
            wait_seconds: seconds("wait_seconds"),
            ..CallPatch::default()
        },
        "CallEnded" => CallPatch {
            ended_at: Some(at),
            disposition: text("disposition").and_then(parse_disposition),
            queue: queue(),
            agent: agent(),
            wait_seconds: seconds("wait_seconds"),
            talk_seconds: seconds("talk_seconds"),
            ..CallPatch::default()
        },
        _ => CallPatch::default(),
    }
}

fn parse_disposition(s: &str) -> Option<Disposition> {
    Disposition::ALL.iter().copied().find(|d| d.as_str() == s)
}

/// The JSON the log keeps of a call event: the payload's fields under their domain names,
/// enums as their snake_case labels, absent options as `null`; a oneof is a label
/// (`"voicemail"`) or a one-key object (`{"queue": "q1"}`). `None` for events that are not
/// about a call (agent state, wrap-up, configuration).
pub fn event_body(payload: &Payload) -> Option<Map<String, Value>> {
    let body = match payload {
        Payload::CallOffered(e) => json!({
            "caller": e.caller,
            "did": e.did,
            "entry_flow_id": e.entry_flow_id,
            "queue_id": e.queue_id,
            "ivr_path": e.ivr_path,
            "sip_call_id": e.sip_call_id,
            "after_hours": e.after_hours,
        }),
        Payload::IvrPathChosen(e) => json!({
            "menu_id": e.menu_id,
            "path": e.path,
            "action": match &e.action {
                IvrAction::Queue(q) => json!({ "queue": q.as_str() }),
                IvrAction::Voicemail => json!("voicemail"),
                IvrAction::Callback => json!("callback"),
                IvrAction::TransferTo(to) => json!({ "transfer_to": to }),
                IvrAction::Hangup => json!("hangup"),
            },
        }),
        Payload::CallQueued(e) => json!({
            "queue_id": e.queue_id.as_str(),
            "priority": e.priority,
            "position": e.position,
            "expected_wait_seconds": e.expected_wait_seconds,
            "preferred_agent_id": e.preferred_agent_id.as_ref().map(AgentId::as_str),
            "required_skills": e.required_skills,
            "vip": e.vip,
        }),
        Payload::AgentReserved(e) => json!({
            "queue_id": e.queue_id.as_str(),
            "agent_id": e.agent_id.as_str(),
            "reservation_id": e.reservation_id,
            "fencing_token": e.fencing_token,
            "ring_timeout_seconds": e.ring_timeout_seconds,
            "targets": e.targets,
        }),
        Payload::ReservationRejected(e) => json!({
            "queue_id": e.queue_id.as_str(),
            "agent_id": e.agent_id.as_str(),
            "reservation_id": e.reservation_id,
            "reason": e.reason.as_str(),
            "sip_status": e.sip_status.map(|s| s.get()),
        }),
        Payload::CallConnected(e) => json!({
            "queue_id": e.queue_id.as_str(),
            "agent_id": e.agent_id.as_str(),
            "reservation_id": e.reservation_id,
            "wait_seconds": e.wait_seconds,
            "recorded": e.recorded,
        }),
        Payload::CallHeld(e) => json!({
            "agent_id": e.agent_id.as_str(),
            "by": e.by.as_str(),
        }),
        Payload::CallResumed(e) => json!({
            "agent_id": e.agent_id.as_str(),
            "by": e.by.as_str(),
            "held_seconds": e.held_seconds,
        }),
        Payload::CallTransferred(e) => json!({
            "from_agent_id": e.from_agent_id.as_str(),
            "kind": e.kind.as_str(),
            "target": match &e.target {
                TransferTarget::Agent(a) => json!({ "agent": a.as_str() }),
                TransferTarget::Queue(q) => json!({ "queue": q.as_str() }),
                TransferTarget::Number(n) => json!({ "number": n }),
            },
        }),
        Payload::CallEnded(e) => json!({
            "disposition": e.disposition.as_str(),
            "hung_up_by": e.hung_up_by.map(|p| p.as_str()),
            "sip_cause": e.sip_cause.map(|c| c.get()),
            "queue_id": e.queue_id.as_ref().map(QueueId::as_str),
            "agent_id": e.agent_id.as_ref().map(AgentId::as_str),
            "talk_seconds": e.talk_seconds,
            "wait_seconds": e.wait_seconds,
            "hold_seconds": e.hold_seconds,
            "reason": e.reason,
        }),
        Payload::RecordingStored(e) => json!({
            "recording_id": e.recording_id,
            "object_key": e.object_key,
            "duration_seconds": e.duration_seconds,
            "size_bytes": e.size_bytes,
            "content_type": e.content_type,
        }),
        Payload::VoicemailLeft(e) => json!({
            "caller": e.caller,
            "object_key": e.object_key,
            "duration_seconds": e.duration_seconds,
            "mailbox": e.mailbox,
        }),
        Payload::CallbackRequested(e) => json!({
            "number": e.number,
            "queue_id": e.queue_id.as_ref().map(QueueId::as_str),
            "slot_start": e.slot_start.map(rfc3339),
        }),
        Payload::SurveyAnswered(e) => json!({
            "survey_id": e.survey_id,
            "question_id": e.question_id,
            "score": e.score,
            "agent_id": e.agent_id.as_ref().map(AgentId::as_str),
        }),
        Payload::QueuePositionChanged(e) => json!({
            "queue_id": e.queue_id.as_str(),
            "position": e.position,
            "expected_wait_seconds": e.expected_wait_seconds,
        }),
        Payload::CallOverflowed(e) => json!({
            "queue_id": e.queue_id.as_str(),
            "rule": e.rule.as_str(),
            "target": match &e.target {
                OverflowTarget::Queue(q) => json!({ "queue": q.as_str() }),
                OverflowTarget::Number(n) => json!({ "number": n }),
                OverflowTarget::Voicemail => json!("voicemail"),
                OverflowTarget::Callback => json!("callback"),
            },
        }),
        Payload::AgentStateChanged(_) | Payload::WrapUpEnded(_) | Payload::ConfigChanged(_) => {
            return None;
        }
    };
    match body {
        Value::Object(map) => Some(map),
        _ => None,
    }
}

// --- routes --------------------------------------------------------------------------

/// The call log's routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/calls", get(list_calls))
        .route("/v1/calls/{id}", get(get_call))
}

/// A call as the API shows it.
#[derive(Debug, Serialize)]
struct CallView {
    id: String,
    from: Option<String>,
    to: Option<String>,
    started_at: String,
    answered_at: Option<String>,
    ended_at: Option<String>,
    disposition: Option<&'static str>,
    ivr_path: Vec<String>,
    queue: Option<String>,
    agent: Option<String>,
    wait_seconds: Option<u32>,
    talk_seconds: Option<u32>,
}

impl From<CallRecord> for CallView {
    fn from(r: CallRecord) -> Self {
        Self {
            id: r.call.into(),
            from: r.caller,
            to: r.did,
            started_at: rfc3339(r.started_at),
            answered_at: r.answered_at.map(rfc3339),
            ended_at: r.ended_at.map(rfc3339),
            disposition: r.disposition.map(Disposition::as_str),
            ivr_path: r.ivr_path,
            queue: r.queue.map(String::from),
            agent: r.agent.map(String::from),
            wait_seconds: r.wait_seconds,
            talk_seconds: r.talk_seconds,
        }
    }
}

/// One event of a call: its stored body with `type`, `at` and `id` on top.
fn event_view(e: CallEventRow) -> Value {
    let mut view = match serde_json::from_str::<Value>(&e.body) {
        Ok(Value::Object(map)) => map,
        _ => Map::new(),
    };
    view.insert("type".into(), json!(e.kind));
    view.insert("at".into(), json!(rfc3339(e.at)));
    view.insert("id".into(), json!(e.event.to_string()));
    Value::Object(view)
}

async fn list_calls(
    State(s): State<AppState>,
    caller: Caller,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Response, ApiError> {
    let tenant = caller.tenant(false, READ_ROLES)?;
    let Query(pairs) = query.map_err(|e| ApiError::invalid("query", "format", e.body_text()))?;
    let filter = parse_query(pairs)?;
    let limit = filter.limit;
    let calls = s.store.calls(tenant, filter).await?;
    let next = if calls.len() == limit as usize {
        calls.last().map(|c| encode_cursor(c.started_at, &c.call))
    } else {
        None
    };
    let views: Vec<CallView> = calls.into_iter().map(CallView::from).collect();
    Ok(Json(json!({ "calls": views, "next": next })).into_response())
}

async fn get_call(
    State(s): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let tenant = caller.tenant(false, READ_ROLES)?;
    // An id that cannot exist is as unknown as one that does not.
    let id = CallId::new(id).map_err(|_| ApiError::not_found("call"))?;
    let (record, events) = s
        .store
        .call(tenant, &id)
        .await?
        .ok_or_else(|| ApiError::not_found("call"))?;
    let mut view =
        serde_json::to_value(CallView::from(record)).map_err(|e| ApiError::internal(&e))?;
    view["events"] = Value::Array(events.into_iter().map(event_view).collect());
    Ok(Json(view).into_response())
}

/// The filter of `GET /v1/calls`, each parameter checked (422 naming it).
fn parse_query(pairs: Vec<(String, String)>) -> Result<CallFilter, ApiError> {
    let mut filter = CallFilter {
        limit: DEFAULT_LIMIT,
        ..CallFilter::default()
    };
    let mut seen = BTreeSet::new();
    for (name, value) in pairs {
        if !seen.insert(name.clone()) {
            return Err(ApiError::invalid(
                &bounded(&name),
                "unique",
                "is given more than once",
            ));
        }
        match name.as_str() {
            "limit" => {
                let limit: u32 = value.parse().map_err(|_| {
                    ApiError::invalid(
                        "limit",
                        "format",
                        format!("expected a whole number from 1 to {MAX_LIMIT}"),
                    )
                })?;
                if !(1..=MAX_LIMIT).contains(&limit) {
                    return Err(ApiError::invalid(
                        "limit",
                        "range",
                        format!("must be 1 to {MAX_LIMIT}"),
                    ));
                }
                filter.limit = limit;
            }
            "since" => {
                let since = parse_rfc3339(&value).map_err(|reason| {
                    ApiError::invalid(
                        "since",
                        "format",
                        format!("{reason}; expected an RFC 3339 time such as 2025-11-25T10:00:00Z"),
                    )
                })?;
                filter.since = Some(since);
            }
            "before" => {
                filter.before = Some(decode_cursor(&value).ok_or_else(|| {
                    ApiError::invalid(
                        "before",
                        "format",
                        "expected the `next` value of a previous page",
                    )
                })?);
            }
            "queue" => {
                let queue = QueueId::new(value)
                    .map_err(|e| ApiError::invalid("queue", "format", e.to_string()))?;
                filter.queue = Some(queue);
            }
            "agent" => {
                let agent = AgentId::new(value)
                    .map_err(|e| ApiError::invalid("agent", "format", e.to_string()))?;
                filter.agent = Some(agent);
            }
            "disposition" => {
                let d = parse_disposition(&value).ok_or_else(|| {
                    let known: Vec<&str> = Disposition::ALL.iter().map(|d| d.as_str()).collect();
                    ApiError::invalid(
                        "disposition",
                        "enum",
                        format!("expected one of {}", known.join(", ")),
                    )
                })?;
                filter.disposition = Some(d);
            }
            other => {
                return Err(ApiError::invalid(
                    &bounded(other),
                    "unknown",
                    "is not a parameter of this route; expected limit, since, before, queue, agent or disposition",
                ));
            }
        }
    }
    Ok(filter)
}

/// A caller-chosen name, bounded before it goes into an error.
fn bounded(s: &str) -> String {
    s.chars().take(64).collect()
}

/// Latest time a cursor can hold: the store keeps times up to the end of year 9999.
const MAX_CURSOR_MICROS: u64 = 253_402_300_799_999_999;

/// The `next` cursor: the listing position `(started_at, call)` of a page's last call,
/// hex-encoded so that clients treat it as opaque.
fn encode_cursor(started_at: SystemTime, call: &CallId) -> String {
    let micros = started_at
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros())
        .unwrap_or(0);
    hex::encode(format!("{micros}.{call}"))
}

/// The position in a `before` cursor; `None` for anything [`encode_cursor`] did not make.
fn decode_cursor(token: &str) -> Option<(SystemTime, CallId)> {
    let raw = String::from_utf8(hex::decode(token).ok()?).ok()?;
    let (micros, call) = raw.split_once('.')?;
    if micros.is_empty() || !micros.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let micros: u64 = micros.parse().ok()?;
    if micros > MAX_CURSOR_MICROS {
        return None;
    }
    let at = UNIX_EPOCH.checked_add(Duration::from_micros(micros))?;
    Some((at, CallId::new(call).ok()?))
}

/// Parses an RFC 3339 time (`2025-11-25T10:00:00Z`, `2025-11-25T13:00:00.5+03:00`).
/// A space where the offset's `+` belongs is read as `+`, since an unencoded `+` in a
/// query string arrives as a space. A leap second (`:60`) is read as `:59`. Times before
/// 1970 are read as 1970-01-01T00:00:00Z, which means the same as a filter.
fn parse_rfc3339(s: &str) -> Result<SystemTime, &'static str> {
    let b = s.as_bytes();
    let digits = |from: usize, len: usize| -> Result<i64, &'static str> {
        let part = b.get(from..from + len).ok_or("is too short")?;
        if !part.iter().all(u8::is_ascii_digit) {
            return Err("has a non-digit where a digit belongs");
        }
        Ok(part.iter().fold(0, |n, d| n * 10 + i64::from(d - b'0')))
    };
    let expect = |at: usize, allowed: &[u8], what: &'static str| -> Result<(), &'static str> {
        match b.get(at) {
            Some(c) if allowed.contains(c) => Ok(()),
            _ => Err(what),
        }
    };
    let year = digits(0, 4)?;
    expect(4, b"-", "expected '-' after the year")?;
    let month = digits(5, 2)?;
    expect(7, b"-", "expected '-' after the month")?;
    let day = digits(8, 2)?;
    expect(10, b"Tt", "expected 'T' between date and time")?;
    let hour = digits(11, 2)?;
    expect(13, b":", "expected ':' after the hour")?;
    let minute = digits(14, 2)?;
    expect(16, b":", "expected ':' after the minutes")?;
    let second = digits(17, 2)?;
    let mut pos = 19;
    let mut nanos: i64 = 0;
    if b.get(pos) == Some(&b'.') {
        pos += 1;
        let start = pos;
        while b.get(pos).is_some_and(u8::is_ascii_digit) {
            if pos - start < 9 {
                nanos = nanos * 10 + i64::from(b[pos] - b'0');
            }
            pos += 1;
        }
        if pos == start {
            return Err("expected digits after '.'");
        }
        for _ in (pos - start)..9 {
            nanos *= 10;
        }
    }
    let offset_secs = match b.get(pos) {
        Some(b'Z' | b'z') => {
            pos += 1;
            0
        }
        Some(sign @ (b'+' | b'-' | b' ')) => {
            let sign = if *sign == b'-' { -1 } else { 1 };
            let oh = digits(pos + 1, 2)?;
            expect(pos + 3, b":", "expected ':' in the UTC offset")?;
            let om = digits(pos + 4, 2)?;
            if oh > 23 || om > 59 {
                return Err("has a UTC offset out of range");
            }
            pos += 6;
            sign * (oh * 3600 + om * 60)
        }
        _ => return Err("expected 'Z' or a UTC offset such as +03:00"),
    };
    if pos != b.len() {
        return Err("has characters after the UTC offset");
    }
    if !(1..=12).contains(&month) {
        return Err("has a month out of range");
    }
    if day < 1 || day > days_in_month(year, month) {
        return Err("has a day out of range");
    }
    if hour > 23 || minute > 59 || second > 60 {
        return Err("has a time of day out of range");
    }
    let secs =
        days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second.min(59)
            - offset_secs;
    match u64::try_from(secs) {
        Ok(secs) => {
            let nanos = u32::try_from(nanos).map_err(|_| "has a fraction out of range")?;
            Ok(UNIX_EPOCH + Duration::new(secs, nanos))
        }
        Err(_) => Ok(UNIX_EPOCH),
    }
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days from 1970-01-01 to a civil date (Howard Hinnant's algorithm, the inverse of the
/// one `rfc3339` formats with).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use std::num::NonZeroU16;

    use hotline_core::events::payload::{
        CallConnected, CallEnded, CallOffered, CallQueued, IvrPathChosen, RecordingStored,
    };
    use hotline_core::{Party, TenantId};

    use super::*;

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(1_764_000_000 + secs)
    }

    fn q(s: &str) -> QueueId {
        QueueId::new(s).expect("valid")
    }

    fn a(s: &str) -> AgentId {
        AgentId::new(s).expect("valid")
    }

    fn body(p: impl Into<Payload>) -> Map<String, Value> {
        event_body(&p.into()).expect("a call event")
    }

    fn stored(kind: &str, t: SystemTime, b: Map<String, Value>) -> CallEventRow {
        CallEventRow {
            tenant: TenantId::new("acme").expect("valid"),
            call: CallId::new("c1").expect("valid"),
            event: EventId::generate(),
            kind: kind.to_owned(),
            at: t,
            body: Value::Object(b).to_string(),
        }
    }

    fn connected(queue: &str, agent: &str, wait: u32) -> CallConnected {
        CallConnected {
            queue_id: q(queue),
            agent_id: a(agent),
            reservation_id: "r1".to_owned(),
            wait_seconds: wait,
            recorded: false,
        }
    }

    fn ended(d: Disposition, queue: Option<&str>, agent: Option<&str>) -> CallEnded {
        CallEnded {
            queue_id: queue.map(q),
            agent_id: agent.map(a),
            talk_seconds: 120,
            wait_seconds: 30,
            hung_up_by: Some(Party::Caller),
            sip_cause: NonZeroU16::new(200),
            ..CallEnded::new(d)
        }
    }

    #[test]
    fn each_summary_event_patches_its_fields() {
        let offered = CallOffered {
            caller: "+15550100".to_owned(),
            did: "+18005550100".to_owned(),
            entry_flow_id: "main".to_owned(),
            ..CallOffered::default()
        };
        assert_eq!(
            patch_of("CallOffered", at(0), &body(offered)),
            CallPatch {
                started_at: Some(at(0)),
                caller: Some("+15550100".to_owned()),
                did: Some("+18005550100".to_owned()),
                ..CallPatch::default()
            }
        );
        let ivr = IvrPathChosen {
            menu_id: "main".to_owned(),
            path: vec!["2".to_owned(), "1".to_owned()],
            action: IvrAction::Queue(q("support")),
        };
        assert_eq!(
            patch_of("IvrPathChosen", at(5), &body(ivr)).ivr_path,
            Some(vec!["2".to_owned(), "1".to_owned()])
        );
        let queued = CallQueued {
            queue_id: q("support"),
            priority: 0,
            position: 1,
            expected_wait_seconds: 10,
            preferred_agent_id: None,
            required_skills: vec![],
            vip: false,
        };
        assert_eq!(
            patch_of("CallQueued", at(6), &body(queued)),
            CallPatch {
                queue: Some(q("support")),
                ..CallPatch::default()
            }
        );
        assert_eq!(
            patch_of(
                "CallConnected",
                at(30),
                &body(connected("support", "anna", 24))
            ),
            CallPatch {
                answered_at: Some(at(30)),
                queue: Some(q("support")),
                agent: Some(a("anna")),
                wait_seconds: Some(24),
                ..CallPatch::default()
            }
        );
        assert_eq!(
            patch_of(
                "CallEnded",
                at(150),
                &body(ended(Disposition::AbandonedInQueue, Some("support"), None))
            ),
            CallPatch {
                ended_at: Some(at(150)),
                disposition: Some(Disposition::AbandonedInQueue),
                queue: Some(q("support")),
                agent: None,
                wait_seconds: Some(30),
                talk_seconds: Some(120),
                ..CallPatch::default()
            }
        );
        let recording = RecordingStored {
            recording_id: "rec1".to_owned(),
            object_key: "acme/rec1.wav".to_owned(),
            duration_seconds: 120,
            size_bytes: 1_920_044,
            content_type: "audio/wav".to_owned(),
        };
        assert_eq!(
            patch_of("RecordingStored", at(160), &body(recording)),
            CallPatch::default()
        );
    }

    #[test]
    fn values_the_store_refuses_stay_out_of_the_summary() {
        let offered = CallOffered {
            caller: "x".repeat(MAX_PARTY_CHARS + 1),
            did: String::new(),
            ivr_path: vec!["1".to_owned(); MAX_IVR_LEVELS + 1],
            ..CallOffered::default()
        };
        let p = patch_of("CallOffered", at(0), &body(offered));
        assert_eq!((p.caller, p.did, p.ivr_path), (None, None, None));
    }

    #[test]
    fn bodies_render_enums_options_and_oneofs() {
        let b = body(ended(Disposition::Answered, None, Some("anna")));
        assert_eq!(b["disposition"], "answered");
        assert_eq!(b["hung_up_by"], "caller");
        assert_eq!(b["sip_cause"], 200);
        assert_eq!(b["queue_id"], Value::Null);
        assert_eq!(b["agent_id"], "anna");
        let ivr = body(IvrPathChosen {
            menu_id: "main".to_owned(),
            path: vec!["9".to_owned()],
            action: IvrAction::Voicemail,
        });
        assert_eq!(ivr["action"], "voicemail");
        for reserved in ["type", "at", "id"] {
            assert!(!b.contains_key(reserved) && !ivr.contains_key(reserved));
        }
        let config = Payload::ConfigChanged(hotline_core::events::payload::ConfigChanged {
            kind: "queue".to_owned(),
            id: "q1".to_owned(),
            version: 1,
            deleted: false,
        });
        assert!(event_body(&config).is_none());
    }

    #[test]
    fn a_late_arriving_earlier_event_does_not_override_later_values() {
        // CallEnded (t=150) is stored; CallConnected (t=30) arrives after it.
        let end = stored(
            "CallEnded",
            at(150),
            body(ended(Disposition::Answered, Some("night"), Some("boris"))),
        );
        let p = ordered_patch(
            "CallConnected",
            at(30),
            &EventId::generate(),
            &body(connected("support", "anna", 24)),
            std::slice::from_ref(&end),
        );
        // The answer time is still news; the routing fields are the end's.
        assert_eq!(
            p,
            CallPatch {
                answered_at: Some(at(30)),
                ..CallPatch::default()
            }
        );
        // An event later than every stored one keeps its whole patch.
        let start = stored("CallOffered", at(0), Map::new());
        let p = ordered_patch(
            "CallConnected",
            at(30),
            &EventId::generate(),
            &body(connected("support", "anna", 24)),
            &[start],
        );
        assert_eq!(p.agent, Some(a("anna")));
        assert_eq!(p.wait_seconds, Some(24));
    }

    #[test]
    fn equal_times_are_ordered_by_event_id() {
        let first = EventId::generate();
        let mut later = stored(
            "CallQueued",
            at(10),
            body(CallQueued {
                queue_id: q("night"),
                priority: 0,
                position: 1,
                expected_wait_seconds: 0,
                preferred_agent_id: None,
                required_skills: vec![],
                vip: false,
            }),
        );
        later.event = EventId::generate();
        assert!(later.event > first);
        let b = body(CallQueued {
            queue_id: q("day"),
            priority: 0,
            position: 1,
            expected_wait_seconds: 0,
            preferred_agent_id: None,
            required_skills: vec![],
            vip: false,
        });
        assert_eq!(
            ordered_patch(
                "CallQueued",
                at(10),
                &first,
                &b,
                std::slice::from_ref(&later)
            )
            .queue,
            None
        );
        let last = EventId::generate();
        assert_eq!(
            ordered_patch("CallQueued", at(10), &last, &b, &[later]).queue,
            Some(q("day"))
        );
    }

    #[test]
    fn rfc3339_parses_what_it_formats_and_offsets() {
        for secs in [0, 951_782_400, 1_764_028_800 + 3661, 253_402_300_799] {
            let t = UNIX_EPOCH + Duration::from_secs(secs);
            assert_eq!(parse_rfc3339(&rfc3339(t)), Ok(t), "{}", rfc3339(t));
        }
        let t = UNIX_EPOCH + Duration::from_secs(1_764_064_800);
        assert_eq!(rfc3339(t), "2025-11-25T10:00:00Z");
        for same in [
            "2025-11-25T13:00:00+03:00",
            "2025-11-25T13:00:00 03:00",
            "2025-11-25t05:30:00-04:30",
            "2025-11-25T10:00:00z",
            "2025-11-25T10:00:00.000Z",
        ] {
            assert_eq!(parse_rfc3339(same), Ok(t), "{same}");
        }
        assert_eq!(
            parse_rfc3339("2025-11-25T10:00:00.5Z"),
            Ok(t + Duration::from_millis(500))
        );
        assert_eq!(
            parse_rfc3339("2025-11-25T10:00:00.1234567891Z"),
            Ok(t + Duration::from_nanos(123_456_789))
        );
        assert_eq!(parse_rfc3339("1969-12-31T23:59:59Z"), Ok(UNIX_EPOCH));
        assert_eq!(
            parse_rfc3339("2016-12-31T23:59:60Z"),
            parse_rfc3339("2016-12-31T23:59:59Z")
        );
    }

    #[test]
    fn rfc3339_refuses_with_a_reason() {
        for (bad, reason) in [
            ("", "too short"),
            ("yesterday", "non-digit"),
            ("2025-11-25", "expected 'T'"),
            ("2025-11-25T10:00", "expected ':'"),
            ("2025-11-25T10:00:00", "expected 'Z'"),
            ("2025-11-25 10:00:00Z", "expected 'T'"),
            ("2025-13-01T00:00:00Z", "month"),
            ("2025-02-29T00:00:00Z", "day"),
            ("2025-11-25T24:00:00Z", "time of day"),
            ("2025-11-25T10:00:00.Z", "digits after '.'"),
            ("2025-11-25T10:00:00+3:00", "non-digit"),
            ("2025-11-25T10:00:00+24:00", "offset out of range"),
            ("2025-11-25T10:00:00Zjunk", "after the UTC offset"),
            ("２025-11-25T10:00:00Z", "non-digit"),
        ] {
            match parse_rfc3339(bad) {
                Err(r) => assert!(r.contains(reason), "{bad:?}: {r}"),
                Ok(t) => panic!("{bad:?} parsed as {t:?}"),
            }
        }
        assert!(parse_rfc3339("2024-02-29T00:00:00Z").is_ok());
    }

    #[test]
    fn cursors_round_trip_and_refuse_anything_else() {
        let t = at(7) + Duration::from_micros(123_456);
        let call = CallId::new("call.with.dots-1").expect("valid");
        assert_eq!(decode_cursor(&encode_cursor(t, &call)), Some((t, call)));
        for bad in [
            "",
            "zz",
            "6869",
            &hex::encode("abc.c1"),
            &hex::encode("-1.c1"),
            &hex::encode("1.bad id"),
            &hex::encode("99999999999999999999999.c1"),
            &hex::encode("253402300800000000.c1"),
        ] {
            assert_eq!(decode_cursor(bad), None, "{bad}");
        }
    }

    fn query(pairs: &[(&str, &str)]) -> Result<CallFilter, ApiError> {
        parse_query(
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        )
    }

    #[test]
    fn query_defaults_and_accepts_each_filter() {
        assert_eq!(
            query(&[]).ok(),
            Some(CallFilter {
                limit: DEFAULT_LIMIT,
                ..CallFilter::default()
            })
        );
        let cursor = encode_cursor(at(3), &CallId::new("c9").expect("valid"));
        let f = query(&[
            ("limit", "1000"),
            ("since", "2025-11-25T10:00:00Z"),
            ("before", &cursor),
            ("queue", "support"),
            ("agent", "anna"),
            ("disposition", "abandoned_in_queue"),
        ])
        .expect("valid");
        assert_eq!(f.limit, 1000);
        assert_eq!(
            f.since,
            Some(UNIX_EPOCH + Duration::from_secs(1_764_064_800))
        );
        assert_eq!(f.before, Some((at(3), CallId::new("c9").expect("valid"))));
        assert_eq!(f.queue, Some(q("support")));
        assert_eq!(f.agent, Some(a("anna")));
        assert_eq!(f.disposition, Some(Disposition::AbandonedInQueue));
    }

    #[test]
    fn bad_query_parameters_name_the_field_and_rule() {
        for (pairs, field, rule) in [
            (vec![("limit", "0")], "limit", "range"),
            (vec![("limit", "1001")], "limit", "range"),
            (vec![("limit", "ten")], "limit", "format"),
            (vec![("limit", "-1")], "limit", "format"),
            (vec![("since", "yesterday")], "since", "format"),
            (vec![("before", "nope")], "before", "format"),
            (vec![("queue", "")], "queue", "format"),
            (vec![("queue", "a b")], "queue", "format"),
            (vec![("agent", "../x")], "agent", "format"),
            (vec![("disposition", "hung_up")], "disposition", "enum"),
            (vec![("disposition", "Answered")], "disposition", "enum"),
            (vec![("page", "2")], "page", "unknown"),
            (vec![("limit", "1"), ("limit", "2")], "limit", "unique"),
        ] {
            let err = match query(&pairs) {
                Err(e) => e,
                Ok(f) => panic!("{pairs:?} accepted: {f:?}"),
            };
            assert_eq!(err.status, axum::http::StatusCode::UNPROCESSABLE_ENTITY);
            assert_eq!(err.fields.len(), 1, "{pairs:?}");
            assert_eq!(
                (err.fields[0].field.as_str(), err.fields[0].rule.as_str()),
                (field, rule),
                "{pairs:?}"
            );
        }
    }
}

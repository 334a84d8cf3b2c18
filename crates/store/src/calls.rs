//! The call log: the "electronic registration of calls", a projection of call events.
//!
//! A consumer of the call events turns each event into a [`CallEventRow`] (kept
//! verbatim, for `GET /v1/calls/{id}`) and a [`CallPatch`] (what the event says about
//! the call), and hands both to [`crate::Store::apply_call_event`], which stores the
//! event and folds the patch into the call's [`CallRecord`] in one transaction, once:
//! a redelivered event id changes nothing. How a patch folds in is [`merge_call`]'s rule,
//! the same for both backends because it runs here, not in SQL.

use std::time::SystemTime;

use hotline_core::{AgentId, CallId, Disposition, EventId, QueueId, TenantId};

use crate::documents::{DEFAULT_PAGE_LIMIT, MAX_BODY_BYTES, page_limit};
use crate::{Error, Result, check_text, check_time, from_micros, to_micros, validate_key};

/// Longest caller or dialled number kept, in characters.
pub const MAX_PARTY_CHARS: usize = 256;

/// Most IVR levels kept in a call's path.
pub const MAX_IVR_LEVELS: usize = 64;

/// Longest IVR path entry (the digits of one level), in characters.
pub const MAX_IVR_ENTRY_CHARS: usize = 64;

/// One call event as stored with its call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallEventRow {
    pub tenant: TenantId,
    pub call: CallId,
    /// Unique per tenant: a second event with this id is a redelivery.
    pub event: EventId,
    /// The event type, e.g. `CallOffered` (same alphabet as ids).
    pub kind: String,
    /// When it happened (kept to the microsecond).
    pub at: SystemTime,
    /// JSON, opaque to the store.
    pub body: String,
}

/// What one event says about its call. `None` leaves a field as it is; how a set field
/// folds in is per field (see [`merge_call`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CallPatch {
    /// Kept from the first event that sets it.
    pub caller: Option<String>,
    /// Kept from the first event that sets it.
    pub did: Option<String>,
    /// The earliest one seen wins. A call first seen through an event without it starts,
    /// provisionally, at that event's time.
    pub started_at: Option<SystemTime>,
    /// Kept from the first event that sets it (the first answer).
    pub answered_at: Option<SystemTime>,
    /// Kept from the first event that sets it.
    pub ended_at: Option<SystemTime>,
    /// The latest event that sets it wins.
    pub disposition: Option<Disposition>,
    /// Replaces the whole path (events carry the full path); latest wins.
    pub ivr_path: Option<Vec<String>>,
    /// Latest wins (an overflow moves the call to another queue).
    pub queue: Option<QueueId>,
    /// Latest wins (a transfer hands it to another agent).
    pub agent: Option<AgentId>,
    /// Latest wins.
    pub wait_seconds: Option<u32>,
    /// Latest wins.
    pub talk_seconds: Option<u32>,
}

/// A call as the log shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallRecord {
    pub tenant: TenantId,
    pub call: CallId,
    /// `None` until an event names it.
    pub caller: Option<String>,
    /// `None` until an event names it.
    pub did: Option<String>,
    pub started_at: SystemTime,
    pub answered_at: Option<SystemTime>,
    pub ended_at: Option<SystemTime>,
    pub disposition: Option<Disposition>,
    /// Digits pressed, one entry per menu level; empty when no IVR was involved.
    pub ivr_path: Vec<String>,
    pub queue: Option<QueueId>,
    pub agent: Option<AgentId>,
    pub wait_seconds: Option<u32>,
    pub talk_seconds: Option<u32>,
}

/// Which calls to list: newest first by `started_at`, then by call id (bytewise,
/// descending).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallFilter {
    /// At least 1; more than [`crate::MAX_PAGE_LIMIT`] is capped.
    pub limit: u32,
    /// Cursor: only calls strictly after this `(started_at, call)` in the listing order
    /// (pass the last record of the previous page).
    pub before: Option<(SystemTime, CallId)>,
    /// Only calls that started at or after this.
    pub since: Option<SystemTime>,
    pub queue: Option<QueueId>,
    pub agent: Option<AgentId>,
    pub disposition: Option<Disposition>,
}

impl Default for CallFilter {
    fn default() -> Self {
        Self {
            limit: DEFAULT_PAGE_LIMIT,
            before: None,
            since: None,
            queue: None,
            agent: None,
            disposition: None,
        }
    }
}

/// Folds one event's patch into its call. Pure, so both backends agree by construction.
pub fn merge_call(mut record: CallRecord, patch: CallPatch) -> CallRecord {
    if record.caller.is_none() {
        record.caller = patch.caller;
    }
    if record.did.is_none() {
        record.did = patch.did;
    }
    if let Some(started_at) = patch.started_at {
        record.started_at = record.started_at.min(started_at);
    }
    if record.answered_at.is_none() {
        record.answered_at = patch.answered_at;
    }
    if record.ended_at.is_none() {
        record.ended_at = patch.ended_at;
    }
    if patch.disposition.is_some() {
        record.disposition = patch.disposition;
    }
    if let Some(path) = patch.ivr_path {
        record.ivr_path = path;
    }
    if patch.queue.is_some() {
        record.queue = patch.queue;
    }
    if patch.agent.is_some() {
        record.agent = patch.agent;
    }
    if patch.wait_seconds.is_some() {
        record.wait_seconds = patch.wait_seconds;
    }
    if patch.talk_seconds.is_some() {
        record.talk_seconds = patch.talk_seconds;
    }
    record
}

/// Checks an event and its patch, and truncates their times to the microsecond both
/// databases keep, so what is compared in [`merge_call`] is what is stored.
pub(crate) fn validate_call_event(event: &mut CallEventRow, patch: &mut CallPatch) -> Result<()> {
    validate_key("call event type", &event.kind)?;
    if event.body.len() > MAX_BODY_BYTES {
        return Err(Error::Invalid {
            what: "call event body",
            reason: format!("is larger than {MAX_BODY_BYTES} bytes"),
        });
    }
    check_text("call event body", &event.body, usize::MAX)?;
    event.at = check_time("call event time", event.at)?;
    if let Some(caller) = &patch.caller {
        check_text("caller", caller, MAX_PARTY_CHARS)?;
    }
    if let Some(did) = &patch.did {
        check_text("dialled number", did, MAX_PARTY_CHARS)?;
    }
    for (what, time) in [
        ("started_at", &mut patch.started_at),
        ("answered_at", &mut patch.answered_at),
        ("ended_at", &mut patch.ended_at),
    ] {
        if let Some(t) = time {
            *t = check_time(what, *t)?;
        }
    }
    if let Some(path) = &patch.ivr_path {
        if path.len() > MAX_IVR_LEVELS {
            return Err(Error::Invalid {
                what: "ivr path",
                reason: format!("has more than {MAX_IVR_LEVELS} levels"),
            });
        }
        for entry in path {
            check_text("ivr path", entry, MAX_IVR_ENTRY_CHARS)?;
        }
    }
    Ok(())
}

/// The record a call gets from its first event, before that event's patch is merged.
pub(crate) fn new_call(event: &CallEventRow, patch: &CallPatch) -> CallRecord {
    CallRecord {
        tenant: event.tenant.clone(),
        call: event.call.clone(),
        caller: None,
        did: None,
        started_at: patch.started_at.unwrap_or(event.at),
        answered_at: None,
        ended_at: None,
        disposition: None,
        ivr_path: Vec::new(),
        queue: None,
        agent: None,
        wait_seconds: None,
        talk_seconds: None,
    }
}

/// A filter's bindable values: limit, since and cursor time in microseconds.
pub(crate) struct FilterValues {
    pub limit: i64,
    pub since: Option<i64>,
    pub before_at: Option<i64>,
    pub before_call: Option<String>,
    pub queue: Option<String>,
    pub agent: Option<String>,
    pub disposition: Option<&'static str>,
}

pub(crate) fn filter_values(filter: CallFilter) -> Result<FilterValues> {
    let limit = page_limit(filter.limit)?;
    let since = filter
        .since
        .map(|t| check_time("since", t).map(to_micros))
        .transpose()?;
    let (before_at, before_call) = match filter.before {
        Some((at, call)) => (
            Some(to_micros(check_time("cursor time", at)?)),
            Some(String::from(call)),
        ),
        None => (None, None),
    };
    Ok(FilterValues {
        limit,
        since,
        before_at,
        before_call,
        queue: filter.queue.map(String::from),
        agent: filter.agent.map(String::from),
        disposition: filter.disposition.map(|d| d.as_str()),
    })
}

/// A record's bindable values, in the order of the `calls` columns after the key.
pub(crate) struct CallValues {
    pub caller: Option<String>,
    pub did: Option<String>,
    pub started_at: i64,
    pub answered_at: Option<i64>,
    pub ended_at: Option<i64>,
    pub disposition: Option<&'static str>,
    pub ivr_path: String,
    pub queue: Option<String>,
    pub agent: Option<String>,
    pub wait_seconds: Option<i64>,
    pub talk_seconds: Option<i64>,
}

pub(crate) fn call_values(record: CallRecord) -> Result<CallValues> {
    let ivr_path = serde_json::to_string(&record.ivr_path).map_err(|e| Error::Invalid {
        what: "ivr path",
        reason: e.to_string(),
    })?;
    Ok(CallValues {
        caller: record.caller,
        did: record.did,
        started_at: to_micros(record.started_at),
        answered_at: record.answered_at.map(to_micros),
        ended_at: record.ended_at.map(to_micros),
        disposition: record.disposition.map(|d| d.as_str()),
        ivr_path,
        queue: record.queue.map(String::from),
        agent: record.agent.map(String::from),
        wait_seconds: record.wait_seconds.map(i64::from),
        talk_seconds: record.talk_seconds.map(i64::from),
    })
}

/// The columns of a `calls` row, times in microseconds since the epoch.
pub(crate) type CallRow = (
    String,
    String,
    Option<String>,
    Option<String>,
    i64,
    Option<i64>,
    Option<i64>,
    Option<String>,
    String,
    Option<String>,
    Option<String>,
    Option<i64>,
    Option<i64>,
);

pub(crate) fn call_from_row(row: CallRow) -> Result<CallRecord> {
    let (
        tenant,
        call,
        caller,
        did,
        started_at,
        answered_at,
        ended_at,
        disposition,
        ivr_path,
        queue,
        agent,
        wait_seconds,
        talk_seconds,
    ) = row;
    let corrupt = |reason: String| Error::Corrupt {
        table: "calls",
        reason: format!("call {call}: {reason}"),
    };
    let tenant = TenantId::new(tenant).map_err(|e| corrupt(e.to_string()))?;
    let call_id = CallId::new(call.as_str()).map_err(|e| corrupt(e.to_string()))?;
    let disposition = disposition
        .map(|d| {
            Disposition::ALL
                .iter()
                .copied()
                .find(|known| known.as_str() == d)
                .ok_or_else(|| corrupt(format!("unknown disposition {d:?}")))
        })
        .transpose()?;
    let ivr_path: Vec<String> =
        serde_json::from_str(&ivr_path).map_err(|e| corrupt(format!("ivr path: {e}")))?;
    let queue = queue
        .map(QueueId::new)
        .transpose()
        .map_err(|e| corrupt(e.to_string()))?;
    let agent = agent
        .map(AgentId::new)
        .transpose()
        .map_err(|e| corrupt(e.to_string()))?;
    let seconds = |v: Option<i64>| {
        v.map(|s| u32::try_from(s).map_err(|_| corrupt(format!("{s} seconds"))))
            .transpose()
    };
    Ok(CallRecord {
        tenant,
        call: call_id,
        caller,
        did,
        started_at: from_micros(started_at),
        answered_at: answered_at.map(from_micros),
        ended_at: ended_at.map(from_micros),
        disposition,
        ivr_path,
        queue,
        agent,
        wait_seconds: seconds(wait_seconds)?,
        talk_seconds: seconds(talk_seconds)?,
    })
}

/// The columns of a `call_events` row: tenant, call, event id (text), type, time
/// (microseconds), body.
pub(crate) type CallEventDbRow = (String, String, String, String, i64, String);

pub(crate) fn call_event_from_row(row: CallEventDbRow) -> Result<CallEventRow> {
    let (tenant, call, event, kind, at, body) = row;
    let corrupt = |reason: String| Error::Corrupt {
        table: "call_events",
        reason: format!("event {event}: {reason}"),
    };
    Ok(CallEventRow {
        tenant: TenantId::new(tenant).map_err(|e| corrupt(e.to_string()))?,
        call: CallId::new(call).map_err(|e| corrupt(e.to_string()))?,
        event: event.parse().map_err(|e| corrupt(format!("{e}")))?,
        kind,
        at: from_micros(at),
        body,
    })
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn at(secs: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000 + secs)
    }

    fn record() -> CallRecord {
        CallRecord {
            tenant: TenantId::new("acme").expect("valid"),
            call: CallId::new("c1").expect("valid"),
            caller: None,
            did: None,
            started_at: at(10),
            answered_at: None,
            ended_at: None,
            disposition: None,
            ivr_path: Vec::new(),
            queue: None,
            agent: None,
            wait_seconds: None,
            talk_seconds: None,
        }
    }

    #[test]
    fn empty_patch_changes_nothing() {
        assert_eq!(merge_call(record(), CallPatch::default()), record());
    }

    #[test]
    fn first_set_fields_are_kept() {
        let first = merge_call(
            record(),
            CallPatch {
                caller: Some("+15550100".to_owned()),
                did: Some("+18005550100".to_owned()),
                answered_at: Some(at(20)),
                ended_at: Some(at(90)),
                ..CallPatch::default()
            },
        );
        let second = merge_call(
            first.clone(),
            CallPatch {
                caller: Some("+19990000".to_owned()),
                did: Some("+18009990000".to_owned()),
                answered_at: Some(at(40)),
                ended_at: Some(at(95)),
                ..CallPatch::default()
            },
        );
        assert_eq!(second, first);
    }

    #[test]
    fn earliest_start_wins() {
        let earlier = merge_call(
            record(),
            CallPatch {
                started_at: Some(at(5)),
                ..CallPatch::default()
            },
        );
        assert_eq!(earlier.started_at, at(5));
        let later = merge_call(
            earlier,
            CallPatch {
                started_at: Some(at(7)),
                ..CallPatch::default()
            },
        );
        assert_eq!(later.started_at, at(5));
    }

    #[test]
    fn latest_wins_for_routing_fields() {
        let queue = |q: &str| Some(QueueId::new(q).expect("valid"));
        let agent = |a: &str| Some(AgentId::new(a).expect("valid"));
        let one = merge_call(
            record(),
            CallPatch {
                queue: queue("sales"),
                agent: agent("alice"),
                disposition: Some(Disposition::Overflowed),
                ivr_path: Some(vec!["1".to_owned()]),
                wait_seconds: Some(3),
                talk_seconds: Some(0),
                ..CallPatch::default()
            },
        );
        let two = merge_call(
            one,
            CallPatch {
                queue: queue("night"),
                agent: agent("bob"),
                disposition: Some(Disposition::Answered),
                ivr_path: Some(vec!["1".to_owned(), "2".to_owned()]),
                wait_seconds: Some(9),
                talk_seconds: Some(60),
                ..CallPatch::default()
            },
        );
        assert_eq!(two.queue, queue("night"));
        assert_eq!(two.agent, agent("bob"));
        assert_eq!(two.disposition, Some(Disposition::Answered));
        assert_eq!(two.ivr_path, ["1", "2"]);
        assert_eq!((two.wait_seconds, two.talk_seconds), (Some(9), Some(60)));
    }

    #[test]
    fn times_are_truncated_to_microseconds() {
        let mut event = CallEventRow {
            tenant: TenantId::new("acme").expect("valid"),
            call: CallId::new("c1").expect("valid"),
            event: EventId::generate(),
            kind: "CallOffered".to_owned(),
            at: at(1) + Duration::from_nanos(1_999),
            body: "{}".to_owned(),
        };
        let mut patch = CallPatch {
            started_at: Some(at(1) + Duration::from_nanos(2_500)),
            ..CallPatch::default()
        };
        validate_call_event(&mut event, &mut patch).expect("valid");
        assert_eq!(event.at, at(1) + Duration::from_micros(1));
        assert_eq!(patch.started_at, Some(at(1) + Duration::from_micros(2)));
    }

    #[test]
    fn bad_events_are_refused_by_field() {
        let event = CallEventRow {
            tenant: TenantId::new("acme").expect("valid"),
            call: CallId::new("c1").expect("valid"),
            event: EventId::generate(),
            kind: "CallOffered".to_owned(),
            at: at(1),
            body: "{}".to_owned(),
        };
        let cases: Vec<(CallEventRow, CallPatch, &str)> = vec![
            (
                CallEventRow {
                    kind: "Call Offered".to_owned(),
                    ..event.clone()
                },
                CallPatch::default(),
                "call event type",
            ),
            (
                CallEventRow {
                    at: SystemTime::UNIX_EPOCH - Duration::from_secs(1),
                    ..event.clone()
                },
                CallPatch::default(),
                "call event time",
            ),
            (
                CallEventRow {
                    body: "\0".to_owned(),
                    ..event.clone()
                },
                CallPatch::default(),
                "call event body",
            ),
            (
                event.clone(),
                CallPatch {
                    caller: Some("x\0".to_owned()),
                    ..CallPatch::default()
                },
                "caller",
            ),
            (
                event.clone(),
                CallPatch {
                    ended_at: Some(SystemTime::UNIX_EPOCH + Duration::from_secs(1 << 40)),
                    ..CallPatch::default()
                },
                "ended_at",
            ),
            (
                event.clone(),
                CallPatch {
                    ivr_path: Some(vec!["1".to_owned(); MAX_IVR_LEVELS + 1]),
                    ..CallPatch::default()
                },
                "ivr path",
            ),
        ];
        for (mut event, mut patch, field) in cases {
            match validate_call_event(&mut event, &mut patch) {
                Err(Error::Invalid { what, .. }) => assert_eq!(what, field),
                other => panic!("{field}: {other:?}"),
            }
        }
    }
}

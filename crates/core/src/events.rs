//! Domain events and the envelope they travel in.
//!
//! `Event::decode` is the one edge where bytes from the bus become domain events: it
//! rejects garbage, unknown schema versions, invalid ids and missing payloads with a
//! specific [`DecodeError`], which the bus consumer uses to park the record.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hotline_proto::v1 as pb;
use prost::Message;

use crate::ids::{CallId, EventId, IdError, TenantId};

/// The envelope schema version this build writes and understands.
pub const SCHEMA_VERSION: u32 = hotline_proto::SCHEMA_VERSION;

/// One fact that happened, with its envelope.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub id: EventId,
    pub tenant: TenantId,
    /// The call it belongs to; `None` for events about agents, recordings or
    /// configuration alone.
    pub call: Option<CallId>,
    /// When it happened. Written with nanosecond precision; must lie between the Unix
    /// epoch and the end of year 9999 to be read back.
    pub occurred_at: SystemTime,
    pub payload: Payload,
}

/// Why bytes from the bus are not an event this build can handle.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DecodeError {
    #[error("not a protobuf envelope: {0}")]
    Malformed(String),
    #[error("unsupported schema version {found} (this build understands {SCHEMA_VERSION})")]
    UnsupportedSchema { found: u32 },
    #[error("envelope has no payload (an event type this build does not know?)")]
    MissingPayload,
    #[error("envelope has no occurred_at timestamp")]
    MissingTimestamp,
    #[error("envelope occurred_at is out of range")]
    BadTimestamp,
    #[error("invalid {field}: {source}")]
    InvalidId {
        field: &'static str,
        #[source]
        source: IdError,
    },
    #[error("invalid {field}: {reason}")]
    InvalidField { field: &'static str, reason: String },
}

impl DecodeError {
    /// A short, fixed label for metrics (never includes data from the record).
    pub fn label(&self) -> &'static str {
        match self {
            Self::Malformed(_) => "malformed",
            Self::UnsupportedSchema { .. } => "unsupported_schema",
            Self::MissingPayload => "missing_payload",
            Self::MissingTimestamp | Self::BadTimestamp => "bad_timestamp",
            Self::InvalidId { .. } | Self::InvalidField { .. } => "invalid_field",
        }
    }
}

pub mod payload;

pub use payload::Payload;

impl Event {
    /// A new event that happened at `occurred_at`, with a fresh UUIDv7.
    pub fn at(
        tenant: TenantId,
        call: Option<CallId>,
        payload: Payload,
        occurred_at: SystemTime,
    ) -> Self {
        Self {
            id: EventId::generate(),
            tenant,
            call,
            occurred_at,
            payload,
        }
    }

    /// A new event, stamped now: for the service edge where a fact is first observed.
    #[allow(clippy::disallowed_methods)] // the one clock read of this crate, by design
    pub fn new(tenant: TenantId, call: Option<CallId>, payload: Payload) -> Self {
        Self::at(tenant, call, payload, SystemTime::now())
    }

    /// The bus key: the call id (per-call order), else the payload's own subject (the
    /// agent for agent events), else the tenant.
    pub fn key(&self) -> String {
        match (&self.call, self.payload.subject()) {
            (Some(call), _) => call.to_string(),
            (None, Some(subject)) => format!("{}/{}", self.tenant, subject),
            (None, None) => self.tenant.to_string(),
        }
    }

    /// The event type name, e.g. `CallOffered` (a fixed set, fit for metric labels).
    pub fn kind(&self) -> &'static str {
        self.payload.kind()
    }

    /// Serialises the event in its envelope.
    pub fn encode_to_vec(&self) -> Vec<u8> {
        pb::Envelope::from(self.clone()).encode_to_vec()
    }

    /// Parses an envelope from the bus.
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let env = pb::Envelope::decode(bytes).map_err(|e| DecodeError::Malformed(e.to_string()))?;
        Self::try_from(env)
    }
}

/// Seconds from the Unix epoch to 9999-12-31T23:59:59Z, the last second a protobuf
/// `Timestamp` may hold.
pub(crate) const MAX_TIMESTAMP_SECS: u64 = 253_402_300_799;

/// A time to the wire. Times before the Unix epoch are written as the epoch: no Hotline
/// event happened before 1970, and the decoder rejects negative seconds.
pub(crate) fn to_timestamp(t: SystemTime) -> prost_types::Timestamp {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO);
    prost_types::Timestamp {
        seconds: i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        nanos: i32::try_from(d.subsec_nanos()).unwrap_or(0),
    }
}

/// A time from the wire: between the Unix epoch and the end of year 9999, nanos in range.
pub(crate) fn from_timestamp(ts: &prost_types::Timestamp) -> Result<SystemTime, DecodeError> {
    let secs = u64::try_from(ts.seconds).map_err(|_| DecodeError::BadTimestamp)?;
    let nanos = u32::try_from(ts.nanos).map_err(|_| DecodeError::BadTimestamp)?;
    if secs > MAX_TIMESTAMP_SECS || nanos >= 1_000_000_000 {
        return Err(DecodeError::BadTimestamp);
    }
    UNIX_EPOCH
        .checked_add(Duration::new(secs, nanos))
        .ok_or(DecodeError::BadTimestamp)
}

impl TryFrom<pb::Envelope> for Event {
    type Error = DecodeError;

    fn try_from(env: pb::Envelope) -> Result<Self, Self::Error> {
        if env.schema_version != SCHEMA_VERSION {
            return Err(DecodeError::UnsupportedSchema {
                found: env.schema_version,
            });
        }
        let id = env
            .event_id
            .parse::<EventId>()
            .map_err(|source| DecodeError::InvalidId {
                field: "event_id",
                source,
            })?;
        let tenant = TenantId::new(env.tenant_id).map_err(|source| DecodeError::InvalidId {
            field: "tenant_id",
            source,
        })?;
        let call = if env.call_id.is_empty() {
            None
        } else {
            Some(
                CallId::new(env.call_id).map_err(|source| DecodeError::InvalidId {
                    field: "call_id",
                    source,
                })?,
            )
        };
        let occurred_at = from_timestamp(
            env.occurred_at
                .as_ref()
                .ok_or(DecodeError::MissingTimestamp)?,
        )?;
        let payload = Payload::try_from(env.payload.ok_or(DecodeError::MissingPayload)?)?;
        Ok(Self {
            id,
            tenant,
            call,
            occurred_at,
            payload,
        })
    }
}

impl From<Event> for pb::Envelope {
    fn from(e: Event) -> Self {
        pb::Envelope {
            event_id: e.id.to_string(),
            tenant_id: e.tenant.to_string(),
            call_id: e.call.map(|c| c.to_string()).unwrap_or_default(),
            occurred_at: Some(to_timestamp(e.occurred_at)),
            schema_version: SCHEMA_VERSION,
            payload: Some(e.payload.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{AgentId, QueueId};
    use payload::{AgentState, AgentStateChanged, CallEnded, CallQueued, Disposition};

    fn valid_envelope() -> pb::Envelope {
        let event = Event {
            id: EventId::generate(),
            tenant: TenantId::new("acme").expect("valid id"),
            call: Some(CallId::new("call-1").expect("valid id")),
            occurred_at: UNIX_EPOCH + Duration::new(1_750_000_000, 123_456_789),
            payload: Payload::CallEnded(CallEnded::new(Disposition::Answered)),
        };
        pb::Envelope::from(event)
    }

    fn decode(env: pb::Envelope) -> Result<Event, DecodeError> {
        Event::decode(&env.encode_to_vec())
    }

    #[test]
    fn valid_envelope_decodes() {
        let env = valid_envelope();
        let event = decode(env.clone()).expect("decodes");
        assert_eq!(pb::Envelope::from(event), env);
    }

    #[test]
    fn schema_version_2_is_unsupported() {
        let mut env = valid_envelope();
        env.schema_version = 2;
        assert_eq!(
            decode(env),
            Err(DecodeError::UnsupportedSchema { found: 2 })
        );
        let mut env = valid_envelope();
        env.schema_version = 0;
        assert_eq!(
            decode(env),
            Err(DecodeError::UnsupportedSchema { found: 0 })
        );
    }

    #[test]
    fn envelope_without_payload_is_missing_payload() {
        let mut env = valid_envelope();
        env.payload = None;
        let err = decode(env).expect_err("no payload");
        assert_eq!(err, DecodeError::MissingPayload);
        assert_eq!(err.label(), "missing_payload");
    }

    #[test]
    fn unknown_payload_type_from_a_newer_producer_is_missing_payload() {
        // A oneof member this build does not know (tag 99) is skipped by prost, so the
        // envelope looks payload-less: it is parked, not mistaken for another event.
        let mut env = valid_envelope();
        env.payload = None;
        let mut bytes = env.encode_to_vec();
        bytes.extend_from_slice(&[0x9a, 0x06, 0x02, 0x0a, 0x00]); // field 99, 2 bytes
        assert_eq!(Event::decode(&bytes), Err(DecodeError::MissingPayload));
    }

    #[test]
    fn bad_ids_in_the_envelope_name_their_field() {
        for (tenant, expected) in [
            ("", IdError::Empty { kind: "tenant" }),
            (
                "acme/../other",
                IdError::BadChar {
                    kind: "tenant",
                    found: '/',
                },
            ),
        ] {
            let mut env = valid_envelope();
            env.tenant_id = tenant.to_owned();
            assert_eq!(
                decode(env),
                Err(DecodeError::InvalidId {
                    field: "tenant_id",
                    source: expected
                })
            );
        }

        let mut env = valid_envelope();
        env.event_id = "not-a-uuid".into();
        assert!(matches!(
            decode(env),
            Err(DecodeError::InvalidId {
                field: "event_id",
                ..
            })
        ));

        let mut env = valid_envelope();
        env.call_id = "call 1".into();
        let err = decode(env).expect_err("bad call id");
        assert!(matches!(
            err,
            DecodeError::InvalidId {
                field: "call_id",
                ..
            }
        ));
        assert_eq!(err.label(), "invalid_field");
    }

    #[test]
    fn empty_call_id_is_an_event_without_a_call() {
        let mut env = valid_envelope();
        env.call_id.clear();
        assert_eq!(decode(env).expect("decodes").call, None);
    }

    #[test]
    fn timestamps_outside_the_protobuf_range_are_rejected() {
        let mut env = valid_envelope();
        env.occurred_at = None;
        assert_eq!(decode(env), Err(DecodeError::MissingTimestamp));

        for (seconds, nanos) in [
            (-1, 0),
            (0, -1),
            (0, 1_000_000_000),
            (253_402_300_800, 0),
            (i64::MAX, 0),
        ] {
            let mut env = valid_envelope();
            env.occurred_at = Some(prost_types::Timestamp { seconds, nanos });
            assert_eq!(
                decode(env),
                Err(DecodeError::BadTimestamp),
                "{seconds}s {nanos}ns"
            );
        }

        let mut env = valid_envelope();
        env.occurred_at = Some(prost_types::Timestamp {
            seconds: 253_402_300_799,
            nanos: 999_999_999,
        });
        assert!(
            decode(env).is_ok(),
            "the last instant of year 9999 is valid"
        );
    }

    #[test]
    fn times_before_the_epoch_are_written_as_the_epoch() {
        let ts = to_timestamp(UNIX_EPOCH - Duration::from_secs(5));
        assert_eq!((ts.seconds, ts.nanos), (0, 0));
    }

    #[test]
    fn garbage_bytes_are_malformed() {
        let err = Event::decode(&[0xff, 0xff, 0xff]).expect_err("garbage");
        assert!(matches!(err, DecodeError::Malformed(_)));
        assert_eq!(err.label(), "malformed");
    }

    #[test]
    fn keys_keep_per_call_order_and_scope_agents_by_tenant() {
        let agent = AgentId::new("a1").expect("valid id");
        let agent_event = |tenant: &str| Event {
            id: EventId::generate(),
            tenant: TenantId::new(tenant).expect("valid id"),
            call: None,
            occurred_at: UNIX_EPOCH,
            payload: Payload::from(AgentStateChanged {
                agent_id: agent.clone(),
                from: AgentState::Available,
                to: AgentState::Reserved,
                reason: String::new(),
                queue_id: None,
            }),
        };
        // The same agent id in two tenants is two subjects, never one.
        assert_eq!(agent_event("tenant-a").key(), "tenant-a/a1");
        assert_eq!(agent_event("tenant-b").key(), "tenant-b/a1");

        let call_event = Event {
            call: Some(CallId::new("call-9").expect("valid id")),
            payload: Payload::from(CallQueued {
                queue_id: QueueId::new("sales").expect("valid id"),
                priority: 0,
                position: 1,
                expected_wait_seconds: 0,
                preferred_agent_id: None,
                required_skills: vec![],
                vip: false,
            }),
            ..agent_event("tenant-a")
        };
        assert_eq!(call_event.key(), "call-9");
        assert_eq!(call_event.kind(), "CallQueued");

        let tenant_event = Event {
            payload: Payload::from(CallEnded::new(Disposition::Failed)),
            ..agent_event("tenant-a")
        };
        assert_eq!(tenant_event.key(), "tenant-a");
    }

    #[test]
    fn config_changes_are_keyed_by_their_tenant_alone() {
        use payload::ConfigChanged;

        let change = |tenant: &str, kind: &str, id: &str| Event {
            id: EventId::generate(),
            tenant: TenantId::new(tenant).expect("valid id"),
            call: None,
            occurred_at: UNIX_EPOCH,
            payload: Payload::from(ConfigChanged {
                kind: kind.into(),
                id: id.into(),
                version: 2,
                deleted: false,
            }),
        };
        // Every change of one tenant shares a key, whatever the resource, so a cache
        // sees them in the order they were made; other tenants have keys of their own.
        let queue = change("tenant-a", "queue", "sales");
        let agent = change("tenant-a", "agent", "a1");
        assert_eq!(queue.key(), "tenant-a");
        assert_eq!(agent.key(), "tenant-a");
        assert_eq!(change("tenant-b", "queue", "sales").key(), "tenant-b");
        assert_eq!(queue.kind(), "ConfigChanged");

        // Through the wire and back, the key is unchanged.
        let decoded = Event::decode(&queue.encode_to_vec()).expect("decodes");
        assert_eq!(decoded.key(), "tenant-a");
        assert_eq!(decoded, queue);
    }

    #[test]
    fn decoding_keeps_the_tenant_of_the_record() {
        let mut env = valid_envelope();
        env.tenant_id = "tenant-b".into();
        let event = decode(env).expect("decodes");
        assert_eq!(event.tenant.as_str(), "tenant-b");
        assert_eq!(
            pb::Envelope::from(event).tenant_id,
            "tenant-b",
            "re-encoding never changes the tenant"
        );
    }
}

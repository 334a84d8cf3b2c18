//! The payload of each event type, as domain types, with their wire conversions.
//!
//! One domain type per message of the `Envelope.payload` oneof in
//! `proto/hotline/v1/events.proto`, grouped by what they are about: the call's path
//! (`call`), the agent (`agent`), what a call leaves behind (`followup`) and the
//! tenant's configuration (`config`). Each has a
//! `TryFrom<pb::…>` that validates what comes from the bus (ids typed as [`AgentId`] /
//! [`QueueId`], enum numbers known and not `UNSPECIFIED`, required oneofs set, required
//! strings non-empty) and a `From<…> for pb::…` that writes it back. An empty optional
//! id on the wire is `None` here.
//!
//! Plain strings documented as "never empty" are rejected on decode when empty, so a
//! producer must not build them empty either.
//!
//! [`AgentId`]: crate::ids::AgentId
//! [`QueueId`]: crate::ids::QueueId

use std::num::NonZeroU16;

use hotline_proto::v1 as pb;
use pb::envelope::Payload as Wire;

use super::DecodeError;
use crate::ids::IdError;

mod agent;
mod call;
mod config;
mod enums;
mod followup;

pub use agent::{AgentStateChanged, WrapUpEnded};
pub use call::{
    AgentReserved, CallConnected, CallEnded, CallHeld, CallOffered, CallOverflowed, CallQueued,
    CallResumed, CallTransferred, IvrAction, IvrPathChosen, OverflowTarget, QueuePositionChanged,
    ReservationRejected, TransferTarget,
};
pub use config::ConfigChanged;
pub use enums::{AgentState, Disposition, OverflowRule, Party, RejectionReason, TransferKind};
pub use followup::{CallbackRequested, RecordingStored, SurveyAnswered, VoicemailLeft};

/// Declares [`Payload`] over the event types, which share their names with the variants
/// of the wire oneof, so the enum, its labels and both conversions cannot drift apart.
macro_rules! payloads {
    ($($name:ident,)+) => {
        /// What happened. One variant per event type of `proto/hotline/v1/events.proto`.
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub enum Payload {
            $(
                #[doc = concat!("See [`", stringify!($name), "`].")]
                $name($name),
            )+
        }

        impl Payload {
            /// Every event type name, in wire order.
            pub const KINDS: &'static [&'static str] = &[$(stringify!($name),)+];

            /// The event type name (a fixed set, fit for metric labels).
            pub fn kind(&self) -> &'static str {
                match self {
                    $(Self::$name(_) => stringify!($name),)+
                }
            }
        }

        impl TryFrom<Wire> for Payload {
            type Error = DecodeError;
            fn try_from(w: Wire) -> Result<Self, DecodeError> {
                Ok(match w {
                    $(Wire::$name(m) => Self::$name($name::try_from(m)?),)+
                })
            }
        }

        impl From<Payload> for Wire {
            fn from(p: Payload) -> Self {
                match p {
                    $(Payload::$name(m) => Wire::$name(m.into()),)+
                }
            }
        }

        $(
            impl From<$name> for Payload {
                fn from(p: $name) -> Self {
                    Self::$name(p)
                }
            }
        )+
    };
}

payloads! {
    CallOffered,
    IvrPathChosen,
    CallQueued,
    AgentReserved,
    ReservationRejected,
    CallConnected,
    CallHeld,
    CallResumed,
    CallTransferred,
    CallEnded,
    AgentStateChanged,
    RecordingStored,
    VoicemailLeft,
    CallbackRequested,
    SurveyAnswered,
    QueuePositionChanged,
    CallOverflowed,
    WrapUpEnded,
    ConfigChanged,
}

impl Payload {
    /// The subject of an event about an agent alone (`AgentStateChanged`, `WrapUpEnded`):
    /// the agent id. `None` for every other event type, so an event without a call id
    /// (e.g. `ConfigChanged`) is keyed by its tenant alone.
    pub fn subject(&self) -> Option<String> {
        match self {
            Self::AgentStateChanged(e) => Some(e.agent_id.to_string()),
            Self::WrapUpEnded(e) => Some(e.agent_id.to_string()),
            _ => None,
        }
    }
}

// Field readers shared by the submodules. `field` is the proto field name, which the
// error carries so a parked record says what was wrong with it.

/// A required, typed id: empty or malformed is [`DecodeError::InvalidId`].
fn id<T>(field: &'static str, s: String) -> Result<T, DecodeError>
where
    T: TryFrom<String, Error = IdError>,
{
    T::try_from(s).map_err(|source| DecodeError::InvalidId { field, source })
}

/// An optional, typed id: empty is `None`, malformed is [`DecodeError::InvalidId`].
fn opt_id<T>(field: &'static str, s: String) -> Result<Option<T>, DecodeError>
where
    T: TryFrom<String, Error = IdError>,
{
    if s.is_empty() {
        Ok(None)
    } else {
        id(field, s).map(Some)
    }
}

/// A typed id back to its wire form; `None` is the empty string.
fn opt_id_to_wire<T: Into<String>>(id: Option<T>) -> String {
    id.map(Into::into).unwrap_or_default()
}

/// A required plain string (an id without its own type, a number, an object key).
fn non_empty(field: &'static str, s: String) -> Result<String, DecodeError> {
    if s.is_empty() {
        Err(DecodeError::InvalidField {
            field,
            reason: "empty".to_owned(),
        })
    } else {
        Ok(s)
    }
}

/// A required oneof that is not set.
fn missing(field: &'static str) -> DecodeError {
    DecodeError::InvalidField {
        field,
        reason: "missing".to_owned(),
    }
}

/// A `bool` member of a oneof, whose presence is the whole message: `false` contradicts
/// it, so it is rejected rather than guessed at.
fn marker(field: &'static str, set: bool) -> Result<(), DecodeError> {
    if set {
        Ok(())
    } else {
        Err(DecodeError::InvalidField {
            field,
            reason: "set to false".to_owned(),
        })
    }
}

/// A SIP status or Q.850 cause: `0` is none, anything above `u16::MAX` is garbage.
fn sip_code(field: &'static str, v: u32) -> Result<Option<NonZeroU16>, DecodeError> {
    if v == 0 {
        return Ok(None);
    }
    u16::try_from(v)
        .ok()
        .and_then(NonZeroU16::new)
        .map(Some)
        .ok_or_else(|| DecodeError::InvalidField {
            field,
            reason: format!("{v} is out of range"),
        })
}

fn sip_code_to_wire(code: Option<NonZeroU16>) -> u32 {
    code.map_or(0, |c| u32::from(c.get()))
}

#[cfg(test)]
mod tests;

//! Hotline's domain vocabulary: identifiers, and the events that describe a call's life.
//!
//! Pure: no I/O, no async. The wire types live in `hotline-proto`; this crate converts
//! them with `TryFrom` at the edge and the rest of the code only ever sees these types.

pub mod events;
pub mod ids;

pub use events::payload::{AgentState, Disposition, Party};
pub use events::{DecodeError, Event, Payload};
pub use ids::{AgentId, CallId, EventId, IdError, QueueId, TenantId};

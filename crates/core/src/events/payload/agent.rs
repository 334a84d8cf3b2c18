//! Events about an agent alone. They carry no call id and travel keyed by
//! `tenant/agent` (see [`Payload::subject`](super::Payload::subject)), so one agent's
//! changes stay in order.

use hotline_proto::v1 as pb;

use super::{AgentState, id, opt_id, opt_id_to_wire};
use crate::events::DecodeError;
use crate::ids::{AgentId, QueueId};

/// An agent moved between states.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentStateChanged {
    pub agent_id: AgentId,
    pub from: AgentState,
    pub to: AgentState,
    /// Break reason, missed-call count, or what caused the change; empty when none.
    pub reason: String,
    /// The queue whose wrap-up time applies, for [`AgentState::WrapUp`].
    pub queue_id: Option<QueueId>,
}

impl TryFrom<pb::AgentStateChanged> for AgentStateChanged {
    type Error = DecodeError;
    fn try_from(m: pb::AgentStateChanged) -> Result<Self, DecodeError> {
        Ok(Self {
            agent_id: id("agent_id", m.agent_id)?,
            from: AgentState::from_wire("from", m.from)?,
            to: AgentState::from_wire("to", m.to)?,
            reason: m.reason,
            queue_id: opt_id("queue_id", m.queue_id)?,
        })
    }
}

impl From<AgentStateChanged> for pb::AgentStateChanged {
    fn from(m: AgentStateChanged) -> Self {
        Self {
            agent_id: m.agent_id.into(),
            from: m.from.to_wire(),
            to: m.to.to_wire(),
            reason: m.reason,
            queue_id: opt_id_to_wire(m.queue_id),
        }
    }
}

/// An agent's wrap-up after a call finished.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrapUpEnded {
    pub agent_id: AgentId,
    pub wrap_up_seconds: u32,
}

impl TryFrom<pb::WrapUpEnded> for WrapUpEnded {
    type Error = DecodeError;
    fn try_from(m: pb::WrapUpEnded) -> Result<Self, DecodeError> {
        Ok(Self {
            agent_id: id("agent_id", m.agent_id)?,
            wrap_up_seconds: m.wrap_up_seconds,
        })
    }
}

impl From<WrapUpEnded> for pb::WrapUpEnded {
    fn from(m: WrapUpEnded) -> Self {
        Self {
            agent_id: m.agent_id.into(),
            wrap_up_seconds: m.wrap_up_seconds,
        }
    }
}

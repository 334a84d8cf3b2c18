//! Events on a call's path: offered, through the IVR, queued, reserved, connected, held,
//! transferred, overflowed, ended. They travel keyed by their call id.

use std::num::NonZeroU16;

use hotline_proto::v1 as pb;
use pb::call_overflowed::Target as WireOverflowTarget;
use pb::call_transferred::Target as WireTransferTarget;
use pb::ivr_path_chosen::Action as WireIvrAction;

use super::{
    Disposition, OverflowRule, Party, RejectionReason, TransferKind, id, marker, missing,
    non_empty, opt_id, opt_id_to_wire, sip_code, sip_code_to_wire,
};
use crate::events::DecodeError;
use crate::ids::{AgentId, QueueId};

/// A call reached a tenant's number and was accepted by ingress.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CallOffered {
    /// Caller's number as received (E.164 when the carrier provides it); empty when
    /// withheld.
    pub caller: String,
    /// The dialled number (DID) that selected the tenant.
    pub did: String,
    pub entry_flow_id: String,
    /// Queue chosen directly by the entry flow, if any (`None` when an IVR follows).
    /// Not validated as a [`QueueId`]; `Some("")` is written as `None`.
    pub queue_id: Option<String>,
    /// IVR path taken before the offer, if any (digits, in order).
    pub ivr_path: Vec<String>,
    /// The SIP Call-ID of the caller's leg, for correlation with traces and captures.
    pub sip_call_id: String,
    /// True when the call arrived outside business hours.
    pub after_hours: bool,
}

impl TryFrom<pb::CallOffered> for CallOffered {
    type Error = DecodeError;
    fn try_from(m: pb::CallOffered) -> Result<Self, DecodeError> {
        Ok(Self {
            caller: m.caller,
            did: m.did,
            entry_flow_id: m.entry_flow_id,
            queue_id: (!m.queue_id.is_empty()).then_some(m.queue_id),
            ivr_path: m.ivr_path,
            sip_call_id: m.sip_call_id,
            after_hours: m.after_hours,
        })
    }
}

impl From<CallOffered> for pb::CallOffered {
    fn from(m: CallOffered) -> Self {
        Self {
            caller: m.caller,
            did: m.did,
            entry_flow_id: m.entry_flow_id,
            queue_id: m.queue_id.unwrap_or_default(),
            ivr_path: m.ivr_path,
            sip_call_id: m.sip_call_id,
            after_hours: m.after_hours,
        }
    }
}

/// The caller finished the IVR menu with an action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IvrPathChosen {
    /// Never empty.
    pub menu_id: String,
    /// Digits pressed, in order, one entry per menu level.
    pub path: Vec<String>,
    pub action: IvrAction,
}

/// What the IVR menu decided to do with the call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IvrAction {
    /// Send the call to a queue.
    Queue(QueueId),
    /// Take a voicemail.
    Voicemail,
    /// Offer a callback.
    Callback,
    /// Transfer to a number or SIP URI (never empty).
    TransferTo(String),
    /// Hang up.
    Hangup,
}

impl TryFrom<pb::IvrPathChosen> for IvrPathChosen {
    type Error = DecodeError;
    fn try_from(m: pb::IvrPathChosen) -> Result<Self, DecodeError> {
        let menu_id = non_empty("menu_id", m.menu_id)?;
        let action = match m.action.ok_or_else(|| missing("action"))? {
            WireIvrAction::QueueId(q) => IvrAction::Queue(id("queue_id", q)?),
            WireIvrAction::Voicemail(set) => {
                marker("voicemail", set).map(|()| IvrAction::Voicemail)?
            }
            WireIvrAction::Callback(set) => {
                marker("callback", set).map(|()| IvrAction::Callback)?
            }
            WireIvrAction::TransferTo(to) => IvrAction::TransferTo(non_empty("transfer_to", to)?),
            WireIvrAction::Hangup(set) => marker("hangup", set).map(|()| IvrAction::Hangup)?,
        };
        Ok(Self {
            menu_id,
            path: m.path,
            action,
        })
    }
}

impl From<IvrPathChosen> for pb::IvrPathChosen {
    fn from(m: IvrPathChosen) -> Self {
        Self {
            menu_id: m.menu_id,
            path: m.path,
            action: Some(match m.action {
                IvrAction::Queue(q) => WireIvrAction::QueueId(q.into()),
                IvrAction::Voicemail => WireIvrAction::Voicemail(true),
                IvrAction::Callback => WireIvrAction::Callback(true),
                IvrAction::TransferTo(to) => WireIvrAction::TransferTo(to),
                IvrAction::Hangup => WireIvrAction::Hangup(true),
            }),
        }
    }
}

/// The call joined a queue and waits for an agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallQueued {
    pub queue_id: QueueId,
    /// Higher is served first.
    pub priority: i32,
    pub position: u32,
    /// Expected wait, in seconds, when the call joined.
    pub expected_wait_seconds: u32,
    /// The customer's owner agent, if CRM knows one.
    pub preferred_agent_id: Option<AgentId>,
    pub required_skills: Vec<String>,
    pub vip: bool,
}

impl TryFrom<pb::CallQueued> for CallQueued {
    type Error = DecodeError;
    fn try_from(m: pb::CallQueued) -> Result<Self, DecodeError> {
        Ok(Self {
            queue_id: id("queue_id", m.queue_id)?,
            priority: m.priority,
            position: m.position,
            expected_wait_seconds: m.expected_wait_seconds,
            preferred_agent_id: opt_id("preferred_agent_id", m.preferred_agent_id)?,
            required_skills: m.required_skills,
            vip: m.vip,
        })
    }
}

impl From<CallQueued> for pb::CallQueued {
    fn from(m: CallQueued) -> Self {
        Self {
            queue_id: m.queue_id.into(),
            priority: m.priority,
            position: m.position,
            expected_wait_seconds: m.expected_wait_seconds,
            preferred_agent_id: opt_id_to_wire(m.preferred_agent_id),
            required_skills: m.required_skills,
            vip: m.vip,
        }
    }
}

/// Routing gave the call to an agent. Ingress must present `fencing_token` to bridge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentReserved {
    pub queue_id: QueueId,
    pub agent_id: AgentId,
    /// Never empty.
    pub reservation_id: String,
    /// Monotonically increasing per tenant; a stale token is refused at bridge time.
    pub fencing_token: u64,
    /// How long the agent's devices ring before the reservation is rejected.
    pub ring_timeout_seconds: u32,
    /// Devices to ring (SIP contacts or an external number).
    pub targets: Vec<String>,
}

impl TryFrom<pb::AgentReserved> for AgentReserved {
    type Error = DecodeError;
    fn try_from(m: pb::AgentReserved) -> Result<Self, DecodeError> {
        Ok(Self {
            queue_id: id("queue_id", m.queue_id)?,
            agent_id: id("agent_id", m.agent_id)?,
            reservation_id: non_empty("reservation_id", m.reservation_id)?,
            fencing_token: m.fencing_token,
            ring_timeout_seconds: m.ring_timeout_seconds,
            targets: m.targets,
        })
    }
}

impl From<AgentReserved> for pb::AgentReserved {
    fn from(m: AgentReserved) -> Self {
        Self {
            queue_id: m.queue_id.into(),
            agent_id: m.agent_id.into(),
            reservation_id: m.reservation_id,
            fencing_token: m.fencing_token,
            ring_timeout_seconds: m.ring_timeout_seconds,
            targets: m.targets,
        }
    }
}

/// The reserved agent did not take the call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReservationRejected {
    pub queue_id: QueueId,
    pub agent_id: AgentId,
    /// Never empty.
    pub reservation_id: String,
    pub reason: RejectionReason,
    /// SIP status of the agent leg, when there was one.
    pub sip_status: Option<NonZeroU16>,
}

impl TryFrom<pb::ReservationRejected> for ReservationRejected {
    type Error = DecodeError;
    fn try_from(m: pb::ReservationRejected) -> Result<Self, DecodeError> {
        Ok(Self {
            queue_id: id("queue_id", m.queue_id)?,
            agent_id: id("agent_id", m.agent_id)?,
            reservation_id: non_empty("reservation_id", m.reservation_id)?,
            reason: RejectionReason::from_wire("reason", m.reason)?,
            sip_status: sip_code("sip_status", m.sip_status)?,
        })
    }
}

impl From<ReservationRejected> for pb::ReservationRejected {
    fn from(m: ReservationRejected) -> Self {
        Self {
            queue_id: m.queue_id.into(),
            agent_id: m.agent_id.into(),
            reservation_id: m.reservation_id,
            reason: m.reason.to_wire(),
            sip_status: sip_code_to_wire(m.sip_status),
        }
    }
}

/// Caller and agent are talking.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallConnected {
    pub queue_id: QueueId,
    pub agent_id: AgentId,
    /// Never empty.
    pub reservation_id: String,
    /// Seconds the caller waited in the queue (for ASA and service level).
    pub wait_seconds: u32,
    pub recorded: bool,
}

impl TryFrom<pb::CallConnected> for CallConnected {
    type Error = DecodeError;
    fn try_from(m: pb::CallConnected) -> Result<Self, DecodeError> {
        Ok(Self {
            queue_id: id("queue_id", m.queue_id)?,
            agent_id: id("agent_id", m.agent_id)?,
            reservation_id: non_empty("reservation_id", m.reservation_id)?,
            wait_seconds: m.wait_seconds,
            recorded: m.recorded,
        })
    }
}

impl From<CallConnected> for pb::CallConnected {
    fn from(m: CallConnected) -> Self {
        Self {
            queue_id: m.queue_id.into(),
            agent_id: m.agent_id.into(),
            reservation_id: m.reservation_id,
            wait_seconds: m.wait_seconds,
            recorded: m.recorded,
        }
    }
}

/// A party put the call on hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallHeld {
    pub agent_id: AgentId,
    pub by: Party,
}

impl TryFrom<pb::CallHeld> for CallHeld {
    type Error = DecodeError;
    fn try_from(m: pb::CallHeld) -> Result<Self, DecodeError> {
        Ok(Self {
            agent_id: id("agent_id", m.agent_id)?,
            by: Party::from_wire("by", m.by)?,
        })
    }
}

impl From<CallHeld> for pb::CallHeld {
    fn from(m: CallHeld) -> Self {
        Self {
            agent_id: m.agent_id.into(),
            by: m.by.to_wire(),
        }
    }
}

/// The call came off hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallResumed {
    pub agent_id: AgentId,
    pub by: Party,
    pub held_seconds: u32,
}

impl TryFrom<pb::CallResumed> for CallResumed {
    type Error = DecodeError;
    fn try_from(m: pb::CallResumed) -> Result<Self, DecodeError> {
        Ok(Self {
            agent_id: id("agent_id", m.agent_id)?,
            by: Party::from_wire("by", m.by)?,
            held_seconds: m.held_seconds,
        })
    }
}

impl From<CallResumed> for pb::CallResumed {
    fn from(m: CallResumed) -> Self {
        Self {
            agent_id: m.agent_id.into(),
            by: m.by.to_wire(),
            held_seconds: m.held_seconds,
        }
    }
}

/// The agent transferred the call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallTransferred {
    pub from_agent_id: AgentId,
    pub kind: TransferKind,
    pub target: TransferTarget,
}

/// Where a call was transferred to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransferTarget {
    Agent(AgentId),
    Queue(QueueId),
    /// An external number (never empty).
    Number(String),
}

impl TryFrom<pb::CallTransferred> for CallTransferred {
    type Error = DecodeError;
    fn try_from(m: pb::CallTransferred) -> Result<Self, DecodeError> {
        let from_agent_id = id("from_agent_id", m.from_agent_id)?;
        let kind = TransferKind::from_wire("kind", m.kind)?;
        let target = match m.target.ok_or_else(|| missing("target"))? {
            WireTransferTarget::ToAgentId(a) => TransferTarget::Agent(id("to_agent_id", a)?),
            WireTransferTarget::ToQueueId(q) => TransferTarget::Queue(id("to_queue_id", q)?),
            WireTransferTarget::ToNumber(n) => TransferTarget::Number(non_empty("to_number", n)?),
        };
        Ok(Self {
            from_agent_id,
            kind,
            target,
        })
    }
}

impl From<CallTransferred> for pb::CallTransferred {
    fn from(m: CallTransferred) -> Self {
        Self {
            from_agent_id: m.from_agent_id.into(),
            kind: m.kind.to_wire(),
            target: Some(match m.target {
                TransferTarget::Agent(a) => WireTransferTarget::ToAgentId(a.into()),
                TransferTarget::Queue(q) => WireTransferTarget::ToQueueId(q.into()),
                TransferTarget::Number(n) => WireTransferTarget::ToNumber(n),
            }),
        }
    }
}

/// The call is over. Exactly one per call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallEnded {
    pub disposition: Disposition,
    /// Who hung up; `None` when nobody did (e.g. transferred out).
    pub hung_up_by: Option<Party>,
    /// SIP status or Q.850 cause, when the end came from signalling.
    pub sip_cause: Option<NonZeroU16>,
    /// The queue the call waited in, if any.
    pub queue_id: Option<QueueId>,
    /// The agent who talked to the caller, if any.
    pub agent_id: Option<AgentId>,
    pub talk_seconds: u32,
    pub wait_seconds: u32,
    pub hold_seconds: u32,
    /// Free-text detail for failures (never shown to callers); empty when none.
    pub reason: String,
}

impl CallEnded {
    /// A call end with this disposition and nothing else known: no party, no cause,
    /// no queue or agent, zero durations.
    pub fn new(disposition: Disposition) -> Self {
        Self {
            disposition,
            hung_up_by: None,
            sip_cause: None,
            queue_id: None,
            agent_id: None,
            talk_seconds: 0,
            wait_seconds: 0,
            hold_seconds: 0,
            reason: String::new(),
        }
    }
}

impl TryFrom<pb::CallEnded> for CallEnded {
    type Error = DecodeError;
    fn try_from(m: pb::CallEnded) -> Result<Self, DecodeError> {
        Ok(Self {
            disposition: Disposition::from_wire("disposition", m.disposition)?,
            hung_up_by: Party::from_wire_opt("hung_up_by", m.hung_up_by)?,
            sip_cause: sip_code("sip_cause", m.sip_cause)?,
            queue_id: opt_id("queue_id", m.queue_id)?,
            agent_id: opt_id("agent_id", m.agent_id)?,
            talk_seconds: m.talk_seconds,
            wait_seconds: m.wait_seconds,
            hold_seconds: m.hold_seconds,
            reason: m.reason,
        })
    }
}

impl From<CallEnded> for pb::CallEnded {
    fn from(m: CallEnded) -> Self {
        Self {
            disposition: m.disposition.to_wire(),
            hung_up_by: m.hung_up_by.map_or(0, Party::to_wire),
            sip_cause: sip_code_to_wire(m.sip_cause),
            queue_id: opt_id_to_wire(m.queue_id),
            agent_id: opt_id_to_wire(m.agent_id),
            talk_seconds: m.talk_seconds,
            wait_seconds: m.wait_seconds,
            hold_seconds: m.hold_seconds,
            reason: m.reason,
        }
    }
}

/// A waiting call's position or expected wait changed (drives announcements).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuePositionChanged {
    pub queue_id: QueueId,
    pub position: u32,
    pub expected_wait_seconds: u32,
}

impl TryFrom<pb::QueuePositionChanged> for QueuePositionChanged {
    type Error = DecodeError;
    fn try_from(m: pb::QueuePositionChanged) -> Result<Self, DecodeError> {
        Ok(Self {
            queue_id: id("queue_id", m.queue_id)?,
            position: m.position,
            expected_wait_seconds: m.expected_wait_seconds,
        })
    }
}

impl From<QueuePositionChanged> for pb::QueuePositionChanged {
    fn from(m: QueuePositionChanged) -> Self {
        Self {
            queue_id: m.queue_id.into(),
            position: m.position,
            expected_wait_seconds: m.expected_wait_seconds,
        }
    }
}

/// A queue rule sent the call elsewhere.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallOverflowed {
    /// The queue the call left.
    pub queue_id: QueueId,
    pub rule: OverflowRule,
    pub target: OverflowTarget,
}

/// Where an overflow rule sent the call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OverflowTarget {
    Queue(QueueId),
    /// An external number (never empty).
    Number(String),
    Voicemail,
    Callback,
}

impl TryFrom<pb::CallOverflowed> for CallOverflowed {
    type Error = DecodeError;
    fn try_from(m: pb::CallOverflowed) -> Result<Self, DecodeError> {
        let queue_id = id("queue_id", m.queue_id)?;
        let rule = OverflowRule::from_wire("rule", m.rule)?;
        let target = match m.target.ok_or_else(|| missing("target"))? {
            WireOverflowTarget::ToQueueId(q) => OverflowTarget::Queue(id("to_queue_id", q)?),
            WireOverflowTarget::ToNumber(n) => OverflowTarget::Number(non_empty("to_number", n)?),
            WireOverflowTarget::ToVoicemail(set) => {
                marker("to_voicemail", set).map(|()| OverflowTarget::Voicemail)?
            }
            WireOverflowTarget::ToCallback(set) => {
                marker("to_callback", set).map(|()| OverflowTarget::Callback)?
            }
        };
        Ok(Self {
            queue_id,
            rule,
            target,
        })
    }
}

impl From<CallOverflowed> for pb::CallOverflowed {
    fn from(m: CallOverflowed) -> Self {
        Self {
            queue_id: m.queue_id.into(),
            rule: m.rule.to_wire(),
            target: Some(match m.target {
                OverflowTarget::Queue(q) => WireOverflowTarget::ToQueueId(q.into()),
                OverflowTarget::Number(n) => WireOverflowTarget::ToNumber(n),
                OverflowTarget::Voicemail => WireOverflowTarget::ToVoicemail(true),
                OverflowTarget::Callback => WireOverflowTarget::ToCallback(true),
            }),
        }
    }
}

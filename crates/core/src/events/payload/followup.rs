//! What a call leaves behind: recordings, voicemails, callback requests and survey
//! answers. They travel keyed by the call they came from.

use std::time::SystemTime;

use hotline_proto::v1 as pb;

use super::{non_empty, opt_id, opt_id_to_wire};
use crate::events::{DecodeError, from_timestamp, to_timestamp};
use crate::ids::{AgentId, QueueId};

/// A recording was written to the object store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordingStored {
    /// Never empty.
    pub recording_id: String,
    /// Never empty.
    pub object_key: String,
    pub duration_seconds: u32,
    pub size_bytes: u64,
    pub content_type: String,
}

impl TryFrom<pb::RecordingStored> for RecordingStored {
    type Error = DecodeError;
    fn try_from(m: pb::RecordingStored) -> Result<Self, DecodeError> {
        Ok(Self {
            recording_id: non_empty("recording_id", m.recording_id)?,
            object_key: non_empty("object_key", m.object_key)?,
            duration_seconds: m.duration_seconds,
            size_bytes: m.size_bytes,
            content_type: m.content_type,
        })
    }
}

impl From<RecordingStored> for pb::RecordingStored {
    fn from(m: RecordingStored) -> Self {
        Self {
            recording_id: m.recording_id,
            object_key: m.object_key,
            duration_seconds: m.duration_seconds,
            size_bytes: m.size_bytes,
            content_type: m.content_type,
        }
    }
}

/// A caller left a voicemail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VoicemailLeft {
    /// The caller's number; empty when withheld.
    pub caller: String,
    /// Never empty.
    pub object_key: String,
    pub duration_seconds: u32,
    pub mailbox: String,
}

impl TryFrom<pb::VoicemailLeft> for VoicemailLeft {
    type Error = DecodeError;
    fn try_from(m: pb::VoicemailLeft) -> Result<Self, DecodeError> {
        Ok(Self {
            caller: m.caller,
            object_key: non_empty("object_key", m.object_key)?,
            duration_seconds: m.duration_seconds,
            mailbox: m.mailbox,
        })
    }
}

impl From<VoicemailLeft> for pb::VoicemailLeft {
    fn from(m: VoicemailLeft) -> Self {
        Self {
            caller: m.caller,
            object_key: m.object_key,
            duration_seconds: m.duration_seconds,
            mailbox: m.mailbox,
        }
    }
}

/// A caller asked to be called back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallbackRequested {
    /// The number to call back (never empty).
    pub number: String,
    /// The queue whose agents call back, if any.
    pub queue_id: Option<QueueId>,
    /// Start of the chosen slot; `None` means as soon as possible. Must lie between the
    /// Unix epoch and the end of year 9999 (the range of a protobuf `Timestamp`).
    pub slot_start: Option<SystemTime>,
}

impl TryFrom<pb::CallbackRequested> for CallbackRequested {
    type Error = DecodeError;
    fn try_from(m: pb::CallbackRequested) -> Result<Self, DecodeError> {
        Ok(Self {
            number: non_empty("number", m.number)?,
            queue_id: opt_id("queue_id", m.queue_id)?,
            slot_start: m
                .slot_start
                .as_ref()
                .map(from_timestamp)
                .transpose()
                .map_err(|_| DecodeError::InvalidField {
                    field: "slot_start",
                    reason: "out of range".to_owned(),
                })?,
        })
    }
}

impl From<CallbackRequested> for pb::CallbackRequested {
    fn from(m: CallbackRequested) -> Self {
        Self {
            number: m.number,
            queue_id: opt_id_to_wire(m.queue_id),
            slot_start: m.slot_start.map(to_timestamp),
        }
    }
}

/// The caller answered a post-call survey question.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SurveyAnswered {
    /// Never empty.
    pub survey_id: String,
    /// Never empty.
    pub question_id: String,
    /// The digit pressed, as a score.
    pub score: u32,
    /// The agent the answer is about, if any.
    pub agent_id: Option<AgentId>,
}

impl TryFrom<pb::SurveyAnswered> for SurveyAnswered {
    type Error = DecodeError;
    fn try_from(m: pb::SurveyAnswered) -> Result<Self, DecodeError> {
        Ok(Self {
            survey_id: non_empty("survey_id", m.survey_id)?,
            question_id: non_empty("question_id", m.question_id)?,
            score: m.score,
            agent_id: opt_id("agent_id", m.agent_id)?,
        })
    }
}

impl From<SurveyAnswered> for pb::SurveyAnswered {
    fn from(m: SurveyAnswered) -> Self {
        Self {
            survey_id: m.survey_id,
            question_id: m.question_id,
            score: m.score,
            agent_id: opt_id_to_wire(m.agent_id),
        }
    }
}

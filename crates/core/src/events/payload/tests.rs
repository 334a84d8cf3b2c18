//! Every way a payload from the wire is rejected, each with the field it names.

use std::num::NonZeroU16;

use hotline_proto::v1 as pb;
use pb::envelope::Payload as Wire;

use super::*;
use crate::ids::{AgentId, IdError, QueueId};

fn invalid(field: &'static str, reason: &str) -> DecodeError {
    DecodeError::InvalidField {
        field,
        reason: reason.to_owned(),
    }
}

fn empty_id(field: &'static str, kind: &'static str) -> DecodeError {
    DecodeError::InvalidId {
        field,
        source: IdError::Empty { kind },
    }
}

fn bad_char(field: &'static str, kind: &'static str, found: char) -> DecodeError {
    DecodeError::InvalidId {
        field,
        source: IdError::BadChar { kind, found },
    }
}

fn ivr() -> pb::IvrPathChosen {
    pb::IvrPathChosen {
        menu_id: "main".into(),
        path: vec!["1".into()],
        action: Some(pb::ivr_path_chosen::Action::QueueId("sales".into())),
    }
}

fn queued() -> pb::CallQueued {
    pb::CallQueued {
        queue_id: "sales".into(),
        ..Default::default()
    }
}

fn reserved() -> pb::AgentReserved {
    pb::AgentReserved {
        queue_id: "sales".into(),
        agent_id: "a1".into(),
        reservation_id: "r1".into(),
        fencing_token: 7,
        ..Default::default()
    }
}

fn rejected() -> pb::ReservationRejected {
    pb::ReservationRejected {
        queue_id: "sales".into(),
        agent_id: "a1".into(),
        reservation_id: "r1".into(),
        reason: pb::reservation_rejected::Reason::NoAnswer as i32,
        sip_status: 0,
    }
}

fn connected() -> pb::CallConnected {
    pb::CallConnected {
        queue_id: "sales".into(),
        agent_id: "a1".into(),
        reservation_id: "r1".into(),
        ..Default::default()
    }
}

fn transferred() -> pb::CallTransferred {
    pb::CallTransferred {
        from_agent_id: "a1".into(),
        kind: pb::call_transferred::Kind::Blind as i32,
        target: Some(pb::call_transferred::Target::ToAgentId("a2".into())),
    }
}

fn ended() -> pb::CallEnded {
    pb::CallEnded {
        disposition: pb::Disposition::Answered as i32,
        ..Default::default()
    }
}

fn state_changed() -> pb::AgentStateChanged {
    pb::AgentStateChanged {
        agent_id: "a1".into(),
        from: pb::AgentState::Available as i32,
        to: pb::AgentState::OnCall as i32,
        ..Default::default()
    }
}

fn recording() -> pb::RecordingStored {
    pb::RecordingStored {
        recording_id: "rec-1".into(),
        object_key: "acme/rec-1.wav".into(),
        ..Default::default()
    }
}

fn callback() -> pb::CallbackRequested {
    pb::CallbackRequested {
        number: "+4930123456".into(),
        ..Default::default()
    }
}

fn survey() -> pb::SurveyAnswered {
    pb::SurveyAnswered {
        survey_id: "csat".into(),
        question_id: "q1".into(),
        score: 5,
        agent_id: String::new(),
    }
}

fn overflowed() -> pb::CallOverflowed {
    pb::CallOverflowed {
        queue_id: "sales".into(),
        rule: pb::call_overflowed::Rule::MaxWait as i32,
        target: Some(pb::call_overflowed::Target::ToVoicemail(true)),
    }
}

fn config_changed() -> pb::ConfigChanged {
    pb::ConfigChanged {
        kind: "ivr-menu".into(),
        id: "main menu".into(),
        version: 3,
        deleted: false,
    }
}

/// Each case: a wire payload valid but for one field, and the error it must give.
fn rejections() -> Vec<(&'static str, Wire, DecodeError)> {
    use pb::call_overflowed::Target as OT;
    use pb::call_transferred::Target as TT;
    use pb::ivr_path_chosen::Action as IA;
    vec![
        // IvrPathChosen
        (
            "ivr empty menu",
            Wire::IvrPathChosen(pb::IvrPathChosen {
                menu_id: String::new(),
                ..ivr()
            }),
            invalid("menu_id", "empty"),
        ),
        (
            "ivr no action",
            Wire::IvrPathChosen(pb::IvrPathChosen {
                action: None,
                ..ivr()
            }),
            invalid("action", "missing"),
        ),
        (
            "ivr empty queue",
            Wire::IvrPathChosen(pb::IvrPathChosen {
                action: Some(IA::QueueId(String::new())),
                ..ivr()
            }),
            empty_id("queue_id", "queue"),
        ),
        (
            "ivr bad queue",
            Wire::IvrPathChosen(pb::IvrPathChosen {
                action: Some(IA::QueueId("sales/../x".into())),
                ..ivr()
            }),
            bad_char("queue_id", "queue", '/'),
        ),
        (
            "ivr voicemail false",
            Wire::IvrPathChosen(pb::IvrPathChosen {
                action: Some(IA::Voicemail(false)),
                ..ivr()
            }),
            invalid("voicemail", "set to false"),
        ),
        (
            "ivr callback false",
            Wire::IvrPathChosen(pb::IvrPathChosen {
                action: Some(IA::Callback(false)),
                ..ivr()
            }),
            invalid("callback", "set to false"),
        ),
        (
            "ivr hangup false",
            Wire::IvrPathChosen(pb::IvrPathChosen {
                action: Some(IA::Hangup(false)),
                ..ivr()
            }),
            invalid("hangup", "set to false"),
        ),
        (
            "ivr empty transfer",
            Wire::IvrPathChosen(pb::IvrPathChosen {
                action: Some(IA::TransferTo(String::new())),
                ..ivr()
            }),
            invalid("transfer_to", "empty"),
        ),
        // CallQueued
        (
            "queued empty queue",
            Wire::CallQueued(pb::CallQueued {
                queue_id: String::new(),
                ..queued()
            }),
            empty_id("queue_id", "queue"),
        ),
        (
            "queued bad preferred agent",
            Wire::CallQueued(pb::CallQueued {
                preferred_agent_id: "a 1".into(),
                ..queued()
            }),
            bad_char("preferred_agent_id", "agent", ' '),
        ),
        // AgentReserved
        (
            "reserved empty queue",
            Wire::AgentReserved(pb::AgentReserved {
                queue_id: String::new(),
                ..reserved()
            }),
            empty_id("queue_id", "queue"),
        ),
        (
            "reserved empty agent",
            Wire::AgentReserved(pb::AgentReserved {
                agent_id: String::new(),
                ..reserved()
            }),
            empty_id("agent_id", "agent"),
        ),
        (
            "reserved empty reservation",
            Wire::AgentReserved(pb::AgentReserved {
                reservation_id: String::new(),
                ..reserved()
            }),
            invalid("reservation_id", "empty"),
        ),
        // ReservationRejected
        (
            "rejected empty queue",
            Wire::ReservationRejected(pb::ReservationRejected {
                queue_id: String::new(),
                ..rejected()
            }),
            empty_id("queue_id", "queue"),
        ),
        (
            "rejected empty agent",
            Wire::ReservationRejected(pb::ReservationRejected {
                agent_id: String::new(),
                ..rejected()
            }),
            empty_id("agent_id", "agent"),
        ),
        (
            "rejected empty reservation",
            Wire::ReservationRejected(pb::ReservationRejected {
                reservation_id: String::new(),
                ..rejected()
            }),
            invalid("reservation_id", "empty"),
        ),
        (
            "rejected unspecified reason",
            Wire::ReservationRejected(pb::ReservationRejected {
                reason: 0,
                ..rejected()
            }),
            invalid("reason", "unspecified"),
        ),
        (
            "rejected unknown reason",
            Wire::ReservationRejected(pb::ReservationRejected {
                reason: 99,
                ..rejected()
            }),
            invalid("reason", "unknown value 99"),
        ),
        (
            "rejected sip status too big",
            Wire::ReservationRejected(pb::ReservationRejected {
                sip_status: 65_536,
                ..rejected()
            }),
            invalid("sip_status", "65536 is out of range"),
        ),
        // CallConnected
        (
            "connected empty queue",
            Wire::CallConnected(pb::CallConnected {
                queue_id: String::new(),
                ..connected()
            }),
            empty_id("queue_id", "queue"),
        ),
        (
            "connected empty agent",
            Wire::CallConnected(pb::CallConnected {
                agent_id: String::new(),
                ..connected()
            }),
            empty_id("agent_id", "agent"),
        ),
        (
            "connected empty reservation",
            Wire::CallConnected(pb::CallConnected {
                reservation_id: String::new(),
                ..connected()
            }),
            invalid("reservation_id", "empty"),
        ),
        // CallHeld, CallResumed
        (
            "held empty agent",
            Wire::CallHeld(pb::CallHeld {
                agent_id: String::new(),
                by: pb::Party::Agent as i32,
            }),
            empty_id("agent_id", "agent"),
        ),
        (
            "held unspecified party",
            Wire::CallHeld(pb::CallHeld {
                agent_id: "a1".into(),
                by: 0,
            }),
            invalid("by", "unspecified"),
        ),
        (
            "held unknown party",
            Wire::CallHeld(pb::CallHeld {
                agent_id: "a1".into(),
                by: 4,
            }),
            invalid("by", "unknown value 4"),
        ),
        (
            "resumed empty agent",
            Wire::CallResumed(pb::CallResumed {
                agent_id: String::new(),
                by: pb::Party::Caller as i32,
                held_seconds: 3,
            }),
            empty_id("agent_id", "agent"),
        ),
        (
            "resumed unspecified party",
            Wire::CallResumed(pb::CallResumed {
                agent_id: "a1".into(),
                by: 0,
                held_seconds: 3,
            }),
            invalid("by", "unspecified"),
        ),
        (
            "resumed unknown party",
            Wire::CallResumed(pb::CallResumed {
                agent_id: "a1".into(),
                by: -3,
                held_seconds: 3,
            }),
            invalid("by", "unknown value -3"),
        ),
        // CallTransferred
        (
            "transferred empty from agent",
            Wire::CallTransferred(pb::CallTransferred {
                from_agent_id: String::new(),
                ..transferred()
            }),
            empty_id("from_agent_id", "agent"),
        ),
        (
            "transferred unspecified kind",
            Wire::CallTransferred(pb::CallTransferred {
                kind: 0,
                ..transferred()
            }),
            invalid("kind", "unspecified"),
        ),
        (
            "transferred unknown kind",
            Wire::CallTransferred(pb::CallTransferred {
                kind: 3,
                ..transferred()
            }),
            invalid("kind", "unknown value 3"),
        ),
        (
            "transferred no target",
            Wire::CallTransferred(pb::CallTransferred {
                target: None,
                ..transferred()
            }),
            invalid("target", "missing"),
        ),
        (
            "transferred empty agent target",
            Wire::CallTransferred(pb::CallTransferred {
                target: Some(TT::ToAgentId(String::new())),
                ..transferred()
            }),
            empty_id("to_agent_id", "agent"),
        ),
        (
            "transferred empty queue target",
            Wire::CallTransferred(pb::CallTransferred {
                target: Some(TT::ToQueueId(String::new())),
                ..transferred()
            }),
            empty_id("to_queue_id", "queue"),
        ),
        (
            "transferred empty number",
            Wire::CallTransferred(pb::CallTransferred {
                target: Some(TT::ToNumber(String::new())),
                ..transferred()
            }),
            invalid("to_number", "empty"),
        ),
        // CallEnded
        (
            "ended unspecified disposition",
            Wire::CallEnded(pb::CallEnded {
                disposition: 0,
                ..ended()
            }),
            invalid("disposition", "unspecified"),
        ),
        (
            "ended unknown disposition",
            Wire::CallEnded(pb::CallEnded {
                disposition: 11,
                ..ended()
            }),
            invalid("disposition", "unknown value 11"),
        ),
        (
            "ended unknown hung up by",
            Wire::CallEnded(pb::CallEnded {
                hung_up_by: 9,
                ..ended()
            }),
            invalid("hung_up_by", "unknown value 9"),
        ),
        (
            "ended sip cause too big",
            Wire::CallEnded(pb::CallEnded {
                sip_cause: u32::MAX,
                ..ended()
            }),
            invalid("sip_cause", "4294967295 is out of range"),
        ),
        (
            "ended bad queue",
            Wire::CallEnded(pb::CallEnded {
                queue_id: "sales queue".into(),
                ..ended()
            }),
            bad_char("queue_id", "queue", ' '),
        ),
        (
            "ended agent id too long",
            Wire::CallEnded(pb::CallEnded {
                agent_id: "a".repeat(65),
                ..ended()
            }),
            DecodeError::InvalidId {
                field: "agent_id",
                source: IdError::TooLong {
                    kind: "agent",
                    max: 64,
                },
            },
        ),
        // AgentStateChanged
        (
            "state empty agent",
            Wire::AgentStateChanged(pb::AgentStateChanged {
                agent_id: String::new(),
                ..state_changed()
            }),
            empty_id("agent_id", "agent"),
        ),
        (
            "state unspecified from",
            Wire::AgentStateChanged(pb::AgentStateChanged {
                from: 0,
                ..state_changed()
            }),
            invalid("from", "unspecified"),
        ),
        (
            "state unknown to",
            Wire::AgentStateChanged(pb::AgentStateChanged {
                to: 42,
                ..state_changed()
            }),
            invalid("to", "unknown value 42"),
        ),
        (
            "state unspecified to",
            Wire::AgentStateChanged(pb::AgentStateChanged {
                to: 0,
                ..state_changed()
            }),
            invalid("to", "unspecified"),
        ),
        (
            "state bad queue",
            Wire::AgentStateChanged(pb::AgentStateChanged {
                queue_id: "q\u{0}".into(),
                ..state_changed()
            }),
            bad_char("queue_id", "queue", '\u{0}'),
        ),
        // RecordingStored, VoicemailLeft
        (
            "recording empty id",
            Wire::RecordingStored(pb::RecordingStored {
                recording_id: String::new(),
                ..recording()
            }),
            invalid("recording_id", "empty"),
        ),
        (
            "recording empty key",
            Wire::RecordingStored(pb::RecordingStored {
                object_key: String::new(),
                ..recording()
            }),
            invalid("object_key", "empty"),
        ),
        (
            "voicemail empty key",
            Wire::VoicemailLeft(pb::VoicemailLeft {
                caller: "+4930".into(),
                ..Default::default()
            }),
            invalid("object_key", "empty"),
        ),
        // CallbackRequested
        (
            "callback empty number",
            Wire::CallbackRequested(pb::CallbackRequested {
                number: String::new(),
                ..callback()
            }),
            invalid("number", "empty"),
        ),
        (
            "callback bad queue",
            Wire::CallbackRequested(pb::CallbackRequested {
                queue_id: "ü".into(),
                ..callback()
            }),
            bad_char("queue_id", "queue", 'ü'),
        ),
        (
            "callback slot before epoch",
            Wire::CallbackRequested(pb::CallbackRequested {
                slot_start: Some(prost_types::Timestamp {
                    seconds: -1,
                    nanos: 0,
                }),
                ..callback()
            }),
            invalid("slot_start", "out of range"),
        ),
        (
            "callback slot bad nanos",
            Wire::CallbackRequested(pb::CallbackRequested {
                slot_start: Some(prost_types::Timestamp {
                    seconds: 1,
                    nanos: 1_000_000_000,
                }),
                ..callback()
            }),
            invalid("slot_start", "out of range"),
        ),
        // SurveyAnswered
        (
            "survey empty survey",
            Wire::SurveyAnswered(pb::SurveyAnswered {
                survey_id: String::new(),
                ..survey()
            }),
            invalid("survey_id", "empty"),
        ),
        (
            "survey empty question",
            Wire::SurveyAnswered(pb::SurveyAnswered {
                question_id: String::new(),
                ..survey()
            }),
            invalid("question_id", "empty"),
        ),
        (
            "survey bad agent",
            Wire::SurveyAnswered(pb::SurveyAnswered {
                agent_id: "a:1".into(),
                ..survey()
            }),
            bad_char("agent_id", "agent", ':'),
        ),
        // QueuePositionChanged
        (
            "position empty queue",
            Wire::QueuePositionChanged(pb::QueuePositionChanged::default()),
            empty_id("queue_id", "queue"),
        ),
        // CallOverflowed
        (
            "overflow empty queue",
            Wire::CallOverflowed(pb::CallOverflowed {
                queue_id: String::new(),
                ..overflowed()
            }),
            empty_id("queue_id", "queue"),
        ),
        (
            "overflow unspecified rule",
            Wire::CallOverflowed(pb::CallOverflowed {
                rule: 0,
                ..overflowed()
            }),
            invalid("rule", "unspecified"),
        ),
        (
            "overflow unknown rule",
            Wire::CallOverflowed(pb::CallOverflowed {
                rule: 4,
                ..overflowed()
            }),
            invalid("rule", "unknown value 4"),
        ),
        (
            "overflow no target",
            Wire::CallOverflowed(pb::CallOverflowed {
                target: None,
                ..overflowed()
            }),
            invalid("target", "missing"),
        ),
        (
            "overflow empty queue target",
            Wire::CallOverflowed(pb::CallOverflowed {
                target: Some(OT::ToQueueId(String::new())),
                ..overflowed()
            }),
            empty_id("to_queue_id", "queue"),
        ),
        (
            "overflow empty number",
            Wire::CallOverflowed(pb::CallOverflowed {
                target: Some(OT::ToNumber(String::new())),
                ..overflowed()
            }),
            invalid("to_number", "empty"),
        ),
        (
            "overflow voicemail false",
            Wire::CallOverflowed(pb::CallOverflowed {
                target: Some(OT::ToVoicemail(false)),
                ..overflowed()
            }),
            invalid("to_voicemail", "set to false"),
        ),
        (
            "overflow callback false",
            Wire::CallOverflowed(pb::CallOverflowed {
                target: Some(OT::ToCallback(false)),
                ..overflowed()
            }),
            invalid("to_callback", "set to false"),
        ),
        // WrapUpEnded
        (
            "wrap-up empty agent",
            Wire::WrapUpEnded(pb::WrapUpEnded::default()),
            empty_id("agent_id", "agent"),
        ),
        // ConfigChanged
        (
            "config empty kind",
            Wire::ConfigChanged(pb::ConfigChanged {
                kind: String::new(),
                ..config_changed()
            }),
            invalid("kind", "empty"),
        ),
        (
            "config kind too long",
            Wire::ConfigChanged(pb::ConfigChanged {
                kind: "k".repeat(65),
                ..config_changed()
            }),
            invalid("kind", "longer than 64 bytes"),
        ),
        (
            "config kind upper case",
            Wire::ConfigChanged(pb::ConfigChanged {
                kind: "Queue".into(),
                ..config_changed()
            }),
            invalid("kind", "contains 'Q'; allowed are a-z, 0-9 and '-'"),
        ),
        (
            "config kind underscore",
            Wire::ConfigChanged(pb::ConfigChanged {
                kind: "ivr_menu".into(),
                ..config_changed()
            }),
            invalid("kind", "contains '_'; allowed are a-z, 0-9 and '-'"),
        ),
        (
            "config kind slash",
            Wire::ConfigChanged(pb::ConfigChanged {
                kind: "queue/../agent".into(),
                ..config_changed()
            }),
            invalid("kind", "contains '/'; allowed are a-z, 0-9 and '-'"),
        ),
        (
            "config empty id",
            Wire::ConfigChanged(pb::ConfigChanged {
                id: String::new(),
                ..config_changed()
            }),
            invalid("id", "empty"),
        ),
        (
            "config id too long",
            Wire::ConfigChanged(pb::ConfigChanged {
                // 43 three-byte characters: 43 characters, 129 bytes.
                id: "€".repeat(43),
                ..config_changed()
            }),
            invalid("id", "longer than 128 bytes"),
        ),
        (
            "config id with newline",
            Wire::ConfigChanged(pb::ConfigChanged {
                id: "sales\nforged log line".into(),
                ..config_changed()
            }),
            invalid("id", "contains control character '\\n'"),
        ),
        (
            "config id with nul",
            Wire::ConfigChanged(pb::ConfigChanged {
                id: "sales\u{0}".into(),
                ..config_changed()
            }),
            invalid("id", "contains control character '\\0'"),
        ),
        (
            "config id with c1 control",
            Wire::ConfigChanged(pb::ConfigChanged {
                id: "sales\u{85}".into(),
                ..config_changed()
            }),
            invalid("id", "contains control character '\\u{85}'"),
        ),
        (
            "config negative version",
            Wire::ConfigChanged(pb::ConfigChanged {
                version: -1,
                ..config_changed()
            }),
            invalid("version", "-1 is negative"),
        ),
        (
            "config min version",
            Wire::ConfigChanged(pb::ConfigChanged {
                version: i64::MIN,
                ..config_changed()
            }),
            invalid("version", "-9223372036854775808 is negative"),
        ),
    ]
}

#[test]
fn each_invalid_field_is_rejected_naming_it() {
    let cases = rejections();
    for (name, wire, expected) in cases {
        assert_eq!(Payload::try_from(wire), Err(expected), "case {name:?}");
    }
}

#[test]
fn every_payload_type_with_a_required_field_has_a_rejection_case() {
    // CallOffered has no required field; every other event type must appear above.
    let mut covered: Vec<&str> = rejections()
        .iter()
        .map(|(_, wire, _)| wire_kind(wire))
        .collect();
    covered.sort_unstable();
    covered.dedup();
    let mut expected: Vec<&str> = Payload::KINDS
        .iter()
        .copied()
        .filter(|k| *k != "CallOffered")
        .collect();
    expected.sort_unstable();
    assert_eq!(covered, expected);
}

fn wire_kind(w: &Wire) -> &'static str {
    // Written out by hand (not via `Payload::kind`) so that a rejected payload, which
    // has no domain value, still has a name, and so the macro is checked independently.
    match w {
        Wire::CallOffered(_) => "CallOffered",
        Wire::IvrPathChosen(_) => "IvrPathChosen",
        Wire::CallQueued(_) => "CallQueued",
        Wire::AgentReserved(_) => "AgentReserved",
        Wire::ReservationRejected(_) => "ReservationRejected",
        Wire::CallConnected(_) => "CallConnected",
        Wire::CallHeld(_) => "CallHeld",
        Wire::CallResumed(_) => "CallResumed",
        Wire::CallTransferred(_) => "CallTransferred",
        Wire::CallEnded(_) => "CallEnded",
        Wire::AgentStateChanged(_) => "AgentStateChanged",
        Wire::RecordingStored(_) => "RecordingStored",
        Wire::VoicemailLeft(_) => "VoicemailLeft",
        Wire::CallbackRequested(_) => "CallbackRequested",
        Wire::SurveyAnswered(_) => "SurveyAnswered",
        Wire::QueuePositionChanged(_) => "QueuePositionChanged",
        Wire::CallOverflowed(_) => "CallOverflowed",
        Wire::WrapUpEnded(_) => "WrapUpEnded",
        Wire::ConfigChanged(_) => "ConfigChanged",
    }
}

#[test]
fn fixtures_are_valid_so_each_case_fails_for_its_one_field() {
    for wire in [
        Wire::IvrPathChosen(ivr()),
        Wire::CallQueued(queued()),
        Wire::AgentReserved(reserved()),
        Wire::ReservationRejected(rejected()),
        Wire::CallConnected(connected()),
        Wire::CallTransferred(transferred()),
        Wire::CallEnded(ended()),
        Wire::AgentStateChanged(state_changed()),
        Wire::RecordingStored(recording()),
        Wire::VoicemailLeft(pb::VoicemailLeft {
            object_key: "acme/vm-1.wav".into(),
            ..Default::default()
        }),
        Wire::CallbackRequested(callback()),
        Wire::SurveyAnswered(survey()),
        Wire::CallOverflowed(overflowed()),
        Wire::ConfigChanged(config_changed()),
    ] {
        let kind = wire_kind(&wire);
        let payload = Payload::try_from(wire).expect("fixture is valid");
        assert_eq!(payload.kind(), kind);
    }
}

#[test]
fn empty_optional_fields_read_as_none() {
    let offered = Payload::try_from(Wire::CallOffered(pb::CallOffered::default()))
        .expect("CallOffered has no required field");
    assert_eq!(offered, Payload::CallOffered(CallOffered::default()));

    assert_eq!(
        Payload::try_from(Wire::CallEnded(ended())),
        Ok(Payload::CallEnded(CallEnded::new(Disposition::Answered)))
    );
    let Ok(Payload::CallQueued(q)) = Payload::try_from(Wire::CallQueued(queued())) else {
        panic!("valid CallQueued");
    };
    assert_eq!(q.preferred_agent_id, None);
    let Ok(Payload::CallbackRequested(c)) = Payload::try_from(Wire::CallbackRequested(callback()))
    else {
        panic!("valid CallbackRequested");
    };
    assert_eq!((c.queue_id, c.slot_start), (None, None));
    let Ok(Payload::ReservationRejected(r)) =
        Payload::try_from(Wire::ReservationRejected(rejected()))
    else {
        panic!("valid ReservationRejected");
    };
    assert_eq!(r.sip_status, None);
}

#[test]
fn oneof_markers_are_written_as_true() {
    let w = Wire::from(Payload::from(CallOverflowed {
        queue_id: QueueId::new("sales").expect("valid id"),
        rule: OverflowRule::Empty,
        target: OverflowTarget::Callback,
    }));
    let Wire::CallOverflowed(m) = w else {
        panic!("CallOverflowed");
    };
    assert_eq!(
        m.target,
        Some(pb::call_overflowed::Target::ToCallback(true))
    );
    assert_eq!(m.rule, pb::call_overflowed::Rule::Empty as i32);

    let w = Wire::from(Payload::from(IvrPathChosen {
        menu_id: "main".into(),
        path: vec![],
        action: IvrAction::Hangup,
    }));
    let Wire::IvrPathChosen(m) = w else {
        panic!("IvrPathChosen");
    };
    assert_eq!(m.action, Some(pb::ivr_path_chosen::Action::Hangup(true)));
}

#[test]
fn call_ended_mirrors_every_wire_field() {
    let wire = pb::CallEnded {
        disposition: pb::Disposition::AbandonedInQueue as i32,
        hung_up_by: pb::Party::Caller as i32,
        sip_cause: 487,
        queue_id: "sales".into(),
        agent_id: "a1".into(),
        talk_seconds: 1,
        wait_seconds: 2,
        hold_seconds: 3,
        reason: "caller hung up".into(),
    };
    let ended = CallEnded::try_from(wire.clone()).expect("valid");
    assert_eq!(
        ended,
        CallEnded {
            disposition: Disposition::AbandonedInQueue,
            hung_up_by: Some(Party::Caller),
            sip_cause: NonZeroU16::new(487),
            queue_id: Some(QueueId::new("sales").expect("valid id")),
            agent_id: Some(AgentId::new("a1").expect("valid id")),
            talk_seconds: 1,
            wait_seconds: 2,
            hold_seconds: 3,
            reason: "caller hung up".into(),
        }
    );
    assert_eq!(pb::CallEnded::from(ended), wire);
}

#[test]
fn subject_is_the_agent_for_agent_only_events() {
    let agent = AgentId::new("agent-7").expect("valid id");
    let changed = Payload::from(AgentStateChanged {
        agent_id: agent.clone(),
        from: AgentState::Available,
        to: AgentState::Break,
        reason: "lunch".into(),
        queue_id: None,
    });
    let wrap = Payload::from(WrapUpEnded {
        agent_id: agent.clone(),
        wrap_up_seconds: 30,
    });
    assert_eq!(changed.subject().as_deref(), Some("agent-7"));
    assert_eq!(wrap.subject().as_deref(), Some("agent-7"));
    assert_eq!(changed.kind(), "AgentStateChanged");

    // A call event that names an agent is still keyed by its call, not the agent.
    let held = Payload::from(CallHeld {
        agent_id: agent,
        by: Party::Agent,
    });
    assert_eq!(held.subject(), None);
    assert_eq!(held.kind(), "CallHeld");
}

#[test]
fn kinds_are_unique_and_cover_the_wire_oneof() {
    assert_eq!(Payload::KINDS.len(), 19);
    let mut k = Payload::KINDS.to_vec();
    k.sort_unstable();
    k.dedup();
    assert_eq!(k.len(), 19);
    assert_eq!(Payload::KINDS.last(), Some(&"ConfigChanged"), "wire order");
}

#[test]
fn config_changed_accepts_its_limits_and_leaves_delete_and_version_unchecked() {
    let at_limits = pb::ConfigChanged {
        kind: "a".repeat(ConfigChanged::MAX_KIND_LEN),
        // 32 four-byte characters: exactly 128 bytes.
        id: "🎧".repeat(32),
        version: i64::MAX,
        deleted: false,
    };
    let decoded = ConfigChanged::try_from(at_limits.clone()).expect("at the limits is valid");
    assert_eq!(decoded.id.len(), ConfigChanged::MAX_ID_LEN);
    assert_eq!(pb::ConfigChanged::from(decoded), at_limits);

    // Ids are free text apart from control characters: spaces, '/', non-ASCII are kept.
    for id in ["main menu", "acme/sales", "Ünïcode-ïd", "a"] {
        let m = pb::ConfigChanged {
            id: id.into(),
            ..config_changed()
        };
        assert_eq!(ConfigChanged::try_from(m).map(|c| c.id), Ok(id.to_owned()));
    }
    for kind in ["queue", "api-key", "ivr-menu", "tenant", "v2", "-"] {
        let m = pb::ConfigChanged {
            kind: kind.into(),
            ..config_changed()
        };
        assert_eq!(
            ConfigChanged::try_from(m).map(|c| c.kind),
            Ok(kind.to_owned())
        );
    }

    // Whether `deleted` agrees with `version == 0` is deliberately not checked: all four
    // combinations decode, and each comes back out as it went in.
    for (version, deleted) in [(0, true), (4, false), (0, false), (4, true)] {
        let m = pb::ConfigChanged {
            version,
            deleted,
            ..config_changed()
        };
        let c = ConfigChanged::try_from(m.clone()).expect("lenient on delete/version");
        assert_eq!((c.version, c.deleted), (version, deleted));
        assert_eq!(pb::ConfigChanged::from(c), m);
    }
}

#[test]
fn config_changed_has_no_subject() {
    let p = Payload::try_from(Wire::ConfigChanged(config_changed())).expect("valid");
    assert_eq!(p.kind(), "ConfigChanged");
    assert_eq!(p.subject(), None);
    assert_eq!(
        p,
        Payload::ConfigChanged(ConfigChanged {
            kind: "ivr-menu".into(),
            id: "main menu".into(),
            version: 3,
            deleted: false,
        })
    );
}

#[test]
fn sip_codes_map_zero_to_none_and_reject_overflow() {
    assert_eq!(sip_code("sip_status", 0), Ok(None));
    assert_eq!(sip_code("sip_status", 486), Ok(NonZeroU16::new(486)));
    assert_eq!(
        sip_code("sip_status", 70_000),
        Err(invalid("sip_status", "70000 is out of range"))
    );
    assert_eq!(sip_code_to_wire(NonZeroU16::new(603)), 603);
    assert_eq!(sip_code_to_wire(None), 0);
}

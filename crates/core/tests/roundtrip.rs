//! Properties of the wire edge, through the public API only: every valid domain event of
//! every type survives encode → decode unchanged, and no input bytes make `decode` panic.

use std::collections::BTreeSet;
use std::num::NonZeroU16;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hotline_core::events::payload::*;
use hotline_core::{AgentId, CallId, DecodeError, Event, EventId, Payload, QueueId, TenantId};
use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;
use proptest::sample::select;

/// 9999-12-31T23:59:59Z, the last second a protobuf `Timestamp` holds.
const MAX_SECS: u64 = 253_402_300_799;

fn id_text() -> impl Strategy<Value = String> {
    "[A-Za-z0-9][A-Za-z0-9._-]{0,63}"
}

fn agent() -> impl Strategy<Value = AgentId> {
    id_text().prop_map(|s| AgentId::new(s).expect("strategy yields valid ids"))
}

fn queue() -> impl Strategy<Value = QueueId> {
    id_text().prop_map(|s| QueueId::new(s).expect("strategy yields valid ids"))
}

/// Any text, including empty, control characters and non-ASCII.
fn text() -> impl Strategy<Value = String> {
    "(?s).{0,24}"
}

/// Text for fields documented "never empty".
fn non_empty() -> impl Strategy<Value = String> {
    "(?s).{1,24}"
}

fn texts() -> impl Strategy<Value = Vec<String>> {
    vec(text(), 0..4)
}

/// A whole number of nanoseconds between the epoch and the end of year 9999.
fn time() -> impl Strategy<Value = SystemTime> {
    (0..=MAX_SECS, 0..1_000_000_000u32).prop_map(|(s, n)| UNIX_EPOCH + Duration::new(s, n))
}

fn sip_code() -> impl Strategy<Value = Option<NonZeroU16>> {
    option::of(any::<NonZeroU16>())
}

fn call_offered() -> impl Strategy<Value = Payload> {
    (
        text(),
        text(),
        text(),
        option::of(non_empty()),
        texts(),
        text(),
        any::<bool>(),
    )
        .prop_map(
            |(caller, did, entry_flow_id, queue_id, ivr_path, sip_call_id, after_hours)| {
                CallOffered {
                    caller,
                    did,
                    entry_flow_id,
                    queue_id,
                    ivr_path,
                    sip_call_id,
                    after_hours,
                }
                .into()
            },
        )
}

fn ivr_path_chosen() -> impl Strategy<Value = Payload> {
    let action = prop_oneof![
        queue().prop_map(IvrAction::Queue),
        Just(IvrAction::Voicemail),
        Just(IvrAction::Callback),
        non_empty().prop_map(IvrAction::TransferTo),
        Just(IvrAction::Hangup),
    ];
    (non_empty(), texts(), action).prop_map(|(menu_id, path, action)| {
        IvrPathChosen {
            menu_id,
            path,
            action,
        }
        .into()
    })
}

fn call_queued() -> impl Strategy<Value = Payload> {
    (
        queue(),
        any::<i32>(),
        any::<u32>(),
        any::<u32>(),
        option::of(agent()),
        texts(),
        any::<bool>(),
    )
        .prop_map(
            |(queue_id, priority, position, expected_wait_seconds, preferred, skills, vip)| {
                CallQueued {
                    queue_id,
                    priority,
                    position,
                    expected_wait_seconds,
                    preferred_agent_id: preferred,
                    required_skills: skills,
                    vip,
                }
                .into()
            },
        )
}

fn agent_reserved() -> impl Strategy<Value = Payload> {
    (
        queue(),
        agent(),
        non_empty(),
        any::<u64>(),
        any::<u32>(),
        texts(),
    )
        .prop_map(
            |(queue_id, agent_id, reservation_id, fencing_token, ring_timeout_seconds, targets)| {
                AgentReserved {
                    queue_id,
                    agent_id,
                    reservation_id,
                    fencing_token,
                    ring_timeout_seconds,
                    targets,
                }
                .into()
            },
        )
}

fn reservation_rejected() -> impl Strategy<Value = Payload> {
    (
        queue(),
        agent(),
        non_empty(),
        select(RejectionReason::ALL),
        sip_code(),
    )
        .prop_map(|(queue_id, agent_id, reservation_id, reason, sip_status)| {
            ReservationRejected {
                queue_id,
                agent_id,
                reservation_id,
                reason,
                sip_status,
            }
            .into()
        })
}

fn call_connected() -> impl Strategy<Value = Payload> {
    (queue(), agent(), non_empty(), any::<u32>(), any::<bool>()).prop_map(
        |(queue_id, agent_id, reservation_id, wait_seconds, recorded)| {
            CallConnected {
                queue_id,
                agent_id,
                reservation_id,
                wait_seconds,
                recorded,
            }
            .into()
        },
    )
}

fn call_held() -> impl Strategy<Value = Payload> {
    (agent(), select(Party::ALL)).prop_map(|(agent_id, by)| CallHeld { agent_id, by }.into())
}

fn call_resumed() -> impl Strategy<Value = Payload> {
    (agent(), select(Party::ALL), any::<u32>()).prop_map(|(agent_id, by, held_seconds)| {
        CallResumed {
            agent_id,
            by,
            held_seconds,
        }
        .into()
    })
}

fn call_transferred() -> impl Strategy<Value = Payload> {
    let target = prop_oneof![
        agent().prop_map(TransferTarget::Agent),
        queue().prop_map(TransferTarget::Queue),
        non_empty().prop_map(TransferTarget::Number),
    ];
    (agent(), select(TransferKind::ALL), target).prop_map(|(from_agent_id, kind, target)| {
        CallTransferred {
            from_agent_id,
            kind,
            target,
        }
        .into()
    })
}

fn call_ended() -> impl Strategy<Value = Payload> {
    (
        select(Disposition::ALL),
        option::of(select(Party::ALL)),
        sip_code(),
        option::of(queue()),
        option::of(agent()),
        any::<[u32; 3]>(),
        text(),
    )
        .prop_map(
            |(disposition, hung_up_by, sip_cause, queue_id, agent_id, secs, reason)| {
                CallEnded {
                    disposition,
                    hung_up_by,
                    sip_cause,
                    queue_id,
                    agent_id,
                    talk_seconds: secs[0],
                    wait_seconds: secs[1],
                    hold_seconds: secs[2],
                    reason,
                }
                .into()
            },
        )
}

fn agent_state_changed() -> impl Strategy<Value = Payload> {
    (
        agent(),
        select(AgentState::ALL),
        select(AgentState::ALL),
        text(),
        option::of(queue()),
    )
        .prop_map(|(agent_id, from, to, reason, queue_id)| {
            AgentStateChanged {
                agent_id,
                from,
                to,
                reason,
                queue_id,
            }
            .into()
        })
}

fn recording_stored() -> impl Strategy<Value = Payload> {
    (non_empty(), non_empty(), any::<u32>(), any::<u64>(), text()).prop_map(
        |(recording_id, object_key, duration_seconds, size_bytes, content_type)| {
            RecordingStored {
                recording_id,
                object_key,
                duration_seconds,
                size_bytes,
                content_type,
            }
            .into()
        },
    )
}

fn voicemail_left() -> impl Strategy<Value = Payload> {
    (text(), non_empty(), any::<u32>(), text()).prop_map(
        |(caller, object_key, duration_seconds, mailbox)| {
            VoicemailLeft {
                caller,
                object_key,
                duration_seconds,
                mailbox,
            }
            .into()
        },
    )
}

fn callback_requested() -> impl Strategy<Value = Payload> {
    (non_empty(), option::of(queue()), option::of(time())).prop_map(
        |(number, queue_id, slot_start)| {
            CallbackRequested {
                number,
                queue_id,
                slot_start,
            }
            .into()
        },
    )
}

fn survey_answered() -> impl Strategy<Value = Payload> {
    (non_empty(), non_empty(), any::<u32>(), option::of(agent())).prop_map(
        |(survey_id, question_id, score, agent_id)| {
            SurveyAnswered {
                survey_id,
                question_id,
                score,
                agent_id,
            }
            .into()
        },
    )
}

fn queue_position_changed() -> impl Strategy<Value = Payload> {
    (queue(), any::<u32>(), any::<u32>()).prop_map(|(queue_id, position, expected_wait_seconds)| {
        QueuePositionChanged {
            queue_id,
            position,
            expected_wait_seconds,
        }
        .into()
    })
}

fn call_overflowed() -> impl Strategy<Value = Payload> {
    let target = prop_oneof![
        queue().prop_map(OverflowTarget::Queue),
        non_empty().prop_map(OverflowTarget::Number),
        Just(OverflowTarget::Voicemail),
        Just(OverflowTarget::Callback),
    ];
    (queue(), select(OverflowRule::ALL), target).prop_map(|(queue_id, rule, target)| {
        CallOverflowed {
            queue_id,
            rule,
            target,
        }
        .into()
    })
}

fn wrap_up_ended() -> impl Strategy<Value = Payload> {
    (agent(), any::<u32>()).prop_map(|(agent_id, wrap_up_seconds)| {
        WrapUpEnded {
            agent_id,
            wrap_up_seconds,
        }
        .into()
    })
}

fn config_changed() -> impl Strategy<Value = Payload> {
    // Ids up to the 128-byte limit: printable ASCII up to 128 characters, or any
    // non-control characters up to 32 (at most 4 bytes each).
    let id = prop_oneof!["[ -~]{1,128}", "[^\\p{Cc}]{1,32}"];
    // `deleted` and `version` are drawn independently: decoding does not tie them.
    ("[a-z0-9-]{1,64}", id, 0..=i64::MAX, any::<bool>()).prop_map(|(kind, id, version, deleted)| {
        ConfigChanged {
            kind,
            id,
            version,
            deleted,
        }
        .into()
    })
}

/// Every event type, equally likely.
fn payload() -> impl Strategy<Value = Payload> {
    prop_oneof![
        call_offered(),
        ivr_path_chosen(),
        call_queued(),
        agent_reserved(),
        reservation_rejected(),
        call_connected(),
        call_held(),
        call_resumed(),
        call_transferred(),
        call_ended(),
        agent_state_changed(),
        recording_stored(),
        voicemail_left(),
        callback_requested(),
        survey_answered(),
        queue_position_changed(),
        call_overflowed(),
        wrap_up_ended(),
        config_changed(),
    ]
}

fn event() -> impl Strategy<Value = Event> {
    (
        any::<u128>(),
        id_text(),
        option::of(id_text()),
        time(),
        payload(),
    )
        .prop_map(|(id, tenant, call, occurred_at, payload)| Event {
            id: format!("{id:032x}")
                .parse::<EventId>()
                .expect("32 hex digits are a UUID"),
            tenant: TenantId::new(tenant).expect("strategy yields valid ids"),
            call: call.map(|c| CallId::new(c).expect("strategy yields valid ids")),
            occurred_at,
            payload,
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2048))]

    #[test]
    fn every_valid_event_round_trips(e in event()) {
        let bytes = e.encode_to_vec();
        prop_assert_eq!(Event::decode(&bytes), Ok(e));
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in vec(any::<u8>(), 0..512)) {
        let _ = Event::decode(&bytes);
    }

    /// Random bytes rarely parse as protobuf, so also corrupt real envelopes: flip, drop
    /// and splice bytes of a valid encoding. Whatever decodes must then re-encode to the
    /// same event, so a record that passes the edge once always passes it again.
    #[test]
    fn corrupted_envelopes_never_panic_and_what_decodes_is_stable(
        e in event(),
        edits in vec((any::<prop::sample::Index>(), any::<u8>(), 0..3u8), 1..6),
    ) {
        let mut bytes = e.encode_to_vec();
        for (at, byte, op) in edits {
            if bytes.is_empty() {
                break;
            }
            let i = at.index(bytes.len());
            match op {
                0 => bytes[i] ^= byte | 1,
                1 => { bytes.remove(i); }
                _ => bytes.insert(i, byte),
            }
        }
        if let Ok(decoded) = Event::decode(&bytes) {
            prop_assert_eq!(Event::decode(&decoded.encode_to_vec()), Ok(decoded));
        }
    }
}

#[test]
fn the_generator_covers_every_event_type() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;

    let mut runner = TestRunner::deterministic();
    let strategy = payload();
    let mut seen = BTreeSet::new();
    for _ in 0..2000 {
        let tree = strategy
            .new_tree(&mut runner)
            .expect("strategy always yields");
        seen.insert(tree.current().kind());
    }
    let all: BTreeSet<&str> = Payload::KINDS.iter().copied().collect();
    assert_eq!(seen, all);
}

#[test]
fn decode_errors_have_fixed_labels() {
    let labels = [
        Event::decode(b"\xff").expect_err("garbage"),
        Event::decode(&[]).expect_err("empty envelope"),
    ]
    .map(|e: DecodeError| e.label());
    // An empty buffer is a valid, empty envelope: schema version 0.
    assert_eq!(labels, ["malformed", "unsupported_schema"]);
}

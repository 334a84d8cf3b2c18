//! The closed vocabularies events use: dispositions, agent states, parties, and the
//! reasons, kinds and rules of single events.
//!
//! Each mirrors a protobuf enum without its `UNSPECIFIED` zero value: on the wire a
//! required enum left at zero, or set to a number this build does not know, is rejected
//! with [`DecodeError::InvalidField`] naming the field, so a consumer never guesses.

use hotline_proto::v1 as pb;

use crate::events::DecodeError;

/// Declares a domain enum that mirrors a prost enum variant for variant (same names,
/// minus `Unspecified`), with its wire conversions and a fixed snake_case label.
macro_rules! wire_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident: $wire:ty {
            $($(#[$vmeta:meta])* $variant:ident = $label:literal,)+
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name {
            $($(#[$vmeta])* $variant,)+
        }

        impl $name {
            /// Every value, in wire order.
            pub const ALL: &'static [Self] = &[$(Self::$variant,)+];

            /// A short, fixed snake_case name (fit for metric labels and storage).
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $label,)+
                }
            }

            /// Reads an optional wire value: `UNSPECIFIED` is `None`, an unknown number
            /// is an error naming `field`.
            pub(crate) fn from_wire_opt(
                field: &'static str,
                value: i32,
            ) -> Result<Option<Self>, DecodeError> {
                type W = $wire;
                match W::try_from(value) {
                    Ok(W::Unspecified) => Ok(None),
                    $(Ok(W::$variant) => Ok(Some(Self::$variant)),)+
                    Err(_) => Err(DecodeError::InvalidField {
                        field,
                        reason: format!("unknown value {value}"),
                    }),
                }
            }

            /// Reads a required wire value: `UNSPECIFIED` and unknown numbers are errors
            /// naming `field`.
            pub(crate) fn from_wire(field: &'static str, value: i32) -> Result<Self, DecodeError> {
                Self::from_wire_opt(field, value)?.ok_or_else(|| DecodeError::InvalidField {
                    field,
                    reason: "unspecified".to_owned(),
                })
            }

            /// The wire number.
            pub(crate) fn to_wire(self) -> i32 {
                <$wire>::from(self) as i32
            }
        }

        impl From<$name> for $wire {
            fn from(value: $name) -> Self {
                type W = $wire;
                match value {
                    $($name::$variant => W::$variant,)+
                }
            }
        }
    };
}

wire_enum! {
    /// Why a call ended: the outcome analytics counts and reports.
    pub enum Disposition: pb::Disposition {
        /// Talked to an agent.
        Answered = "answered",
        /// Caller hung up while in the IVR.
        AbandonedInIvr = "abandoned_in_ivr",
        /// Caller hung up while waiting in a queue.
        AbandonedInQueue = "abandoned_in_queue",
        /// Caller hung up within the queue's short-abandon threshold.
        ShortAbandon = "short_abandon",
        /// Left the queue by an overflow rule (max wait, max length, empty queue).
        Overflowed = "overflowed",
        /// Caller left a voicemail.
        Voicemail = "voicemail",
        /// Caller asked to be called back.
        Callback = "callback",
        /// Handled by the after-hours rule (announcement and hang-up).
        AfterHours = "after_hours",
        /// Technical failure (media timeout, no route, SIP error).
        Failed = "failed",
        /// Transferred out to an external number.
        Transferred = "transferred",
    }
}

/// Kept for callers that read the raw wire number; the field is named `disposition`.
impl TryFrom<i32> for Disposition {
    type Error = DecodeError;
    fn try_from(v: i32) -> Result<Self, DecodeError> {
        Self::from_wire("disposition", v)
    }
}

wire_enum! {
    /// An agent's presence, as routing sees it.
    pub enum AgentState: pb::AgentState {
        LoggedOut = "logged_out",
        Available = "available",
        /// Holding a reservation: the agent's devices ring.
        Reserved = "reserved",
        OnCall = "on_call",
        OnHold = "on_hold",
        WrapUp = "wrap_up",
        Break = "break",
        /// Did not answer a reservation; out of routing until the agent comes back.
        Missed = "missed",
    }
}

wire_enum! {
    /// Which side of a call a leg, hang-up or action belongs to.
    pub enum Party: pb::Party {
        Caller = "caller",
        Agent = "agent",
        /// Hotline itself (timeouts, rules, shutdown).
        System = "system",
    }
}

wire_enum! {
    /// Why a reserved agent did not take the call.
    pub enum RejectionReason: pb::reservation_rejected::Reason {
        /// The devices rang for the whole ring timeout.
        NoAnswer = "no_answer",
        Busy = "busy",
        /// The agent declined the call.
        Declined = "declined",
        /// No device could be reached (not registered, no route).
        Unreachable = "unreachable",
        /// The fencing token was older than the agent's current reservation.
        StaleToken = "stale_token",
        /// The caller hung up while the agent's devices rang.
        CallerGone = "caller_gone",
    }
}

wire_enum! {
    /// How an agent transferred a call.
    pub enum TransferKind: pb::call_transferred::Kind {
        /// Sent on without talking to the target first.
        Blind = "blind",
        /// The agent talked to the target first (attended / consultative).
        Consultative = "consultative",
    }
}

wire_enum! {
    /// The queue rule that made a call overflow.
    pub enum OverflowRule: pb::call_overflowed::Rule {
        /// The caller waited longer than the queue's maximum wait.
        MaxWait = "max_wait",
        /// The queue already held its maximum number of calls.
        MaxLength = "max_length",
        /// No agent was logged in to the queue.
        Empty = "empty",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn invalid(field: &'static str, reason: &str) -> DecodeError {
        DecodeError::InvalidField {
            field,
            reason: reason.to_owned(),
        }
    }

    #[test]
    fn every_value_round_trips_through_its_wire_number() {
        for &d in Disposition::ALL {
            assert_eq!(Disposition::from_wire("f", d.to_wire()), Ok(d));
        }
        for &s in AgentState::ALL {
            assert_eq!(AgentState::from_wire("f", s.to_wire()), Ok(s));
        }
        for &p in Party::ALL {
            assert_eq!(Party::from_wire("f", p.to_wire()), Ok(p));
        }
        for &r in RejectionReason::ALL {
            assert_eq!(RejectionReason::from_wire("f", r.to_wire()), Ok(r));
        }
        for &k in TransferKind::ALL {
            assert_eq!(TransferKind::from_wire("f", k.to_wire()), Ok(k));
        }
        for &r in OverflowRule::ALL {
            assert_eq!(OverflowRule::from_wire("f", r.to_wire()), Ok(r));
        }
    }

    #[test]
    fn all_lists_every_non_zero_wire_value() {
        // One past the last known number must be unknown, so ALL cannot lag the proto.
        assert_eq!(Disposition::ALL.len(), 10);
        assert!(Disposition::from_wire_opt("f", 11).is_err());
        assert_eq!(AgentState::ALL.len(), 8);
        assert!(AgentState::from_wire_opt("f", 9).is_err());
        assert_eq!(Party::ALL.len(), 3);
        assert!(Party::from_wire_opt("f", 4).is_err());
        assert_eq!(RejectionReason::ALL.len(), 6);
        assert!(RejectionReason::from_wire_opt("f", 7).is_err());
        assert_eq!(TransferKind::ALL.len(), 2);
        assert!(TransferKind::from_wire_opt("f", 3).is_err());
        assert_eq!(OverflowRule::ALL.len(), 3);
        assert!(OverflowRule::from_wire_opt("f", 4).is_err());
    }

    #[test]
    fn required_rejects_unspecified_and_unknown_naming_the_field() {
        assert_eq!(Party::from_wire("by", 0), Err(invalid("by", "unspecified")));
        assert_eq!(
            Party::from_wire("by", 99),
            Err(invalid("by", "unknown value 99"))
        );
        assert_eq!(
            AgentState::from_wire("to", -1),
            Err(invalid("to", "unknown value -1"))
        );
    }

    #[test]
    fn optional_reads_unspecified_as_none_but_still_rejects_unknown() {
        assert_eq!(Party::from_wire_opt("hung_up_by", 0), Ok(None));
        assert_eq!(
            Party::from_wire_opt("hung_up_by", 1),
            Ok(Some(Party::Caller))
        );
        assert_eq!(
            Party::from_wire_opt("hung_up_by", 7),
            Err(invalid("hung_up_by", "unknown value 7"))
        );
    }

    #[test]
    fn disposition_try_from_i32_names_disposition() {
        assert_eq!(Disposition::try_from(1), Ok(Disposition::Answered));
        assert_eq!(
            Disposition::try_from(0),
            Err(invalid("disposition", "unspecified"))
        );
        assert_eq!(
            Disposition::try_from(42),
            Err(invalid("disposition", "unknown value 42"))
        );
    }

    #[test]
    fn labels_are_distinct_snake_case() {
        let labels: Vec<&str> = AgentState::ALL.iter().map(|s| s.as_str()).collect();
        let mut unique = labels.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), labels.len());
        assert!(
            Disposition::ALL
                .iter()
                .map(|d| d.as_str())
                .all(|l| l.chars().all(|c| c.is_ascii_lowercase() || c == '_'))
        );
    }
}

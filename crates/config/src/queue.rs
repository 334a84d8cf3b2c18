//! Queues: where calls wait for an agent, and the rules of that wait. The strategy picks
//! which agent is offered a call (the routing service implements them); the rest says how
//! long agents ring, how long callers wait, what callers hear, when a call leaves for
//! somewhere else, and whether it is recorded. Defaults follow Asterisk's `queues.conf`.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::check;
use crate::entry_flow::Voicemail;
use crate::error::{Errors, ValidationError, join, rule};
use crate::ivr::describe_loop;
use crate::number::normalize_number;
use crate::parse::Validate;
use crate::resource::{Reference, Resource};
use crate::time::unique_map;

/// A queue.
///
/// ```json
/// {"name": "Support", "strategy": "least-recent", "ring_timeout_seconds": 15,
///  "wrap_up_seconds": 10, "max_wait_seconds": 300, "max_length": 0,
///  "join_when_empty": ["paused", "logged-out"], "leave_when_empty": ["logged-out"],
///  "overflow": {"type": "voicemail", "email": "support@acme.example", "max_seconds": 120},
///  "priority": 0, "weight": 0, "service_level_seconds": 20,
///  "announcements": {"position_every_seconds": 60, "expected_wait": true, "music_on_hold": "moh"},
///  "recording": {"mode": "always", "notice_prompt": "recording-notice"},
///  "required_skills": {"english": 50},
///  "penalty_widening": [{"after_seconds": 30, "max_penalty": 5}, {"after_seconds": 90, "max_penalty": 10}]}
/// ```
/// plus `"ring_progressively_interval_seconds": 5` when the strategy is
/// `ring-progressively`. Every field but `name` has a default.
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Queue {
    /// Display name.
    pub name: String,
    /// How the agent for a call is chosen (default `ring-all`, as Asterisk's `ringall`).
    #[serde(default)]
    pub strategy: Strategy,
    /// How long an offered agent rings before the next is tried (default 15, 1–600).
    #[serde(default = "default_ring_timeout")]
    pub ring_timeout_seconds: u32,
    /// Seconds an agent rests after a call of this queue before the next (default 0,
    /// at most 3600).
    #[serde(default)]
    pub wrap_up_seconds: u32,
    /// Longest wait before the overflow rule (0 = unlimited, the default; at most 86400).
    #[serde(default)]
    pub max_wait_seconds: u32,
    /// Most calls waiting at once; the next caller overflows (0 = unlimited, the
    /// default; at most 10000).
    #[serde(default)]
    pub max_length: u32,
    /// Agents in these conditions do not count when a caller joins; when no agent counts,
    /// the caller does not join but overflows. Empty (the default): callers always join
    /// (Asterisk `joinempty=yes`).
    #[serde(default)]
    pub join_when_empty: Vec<EmptyCondition>,
    /// Agents in these conditions do not count while callers wait; when no agent counts,
    /// waiting callers overflow. Empty (the default): callers stay (Asterisk
    /// `leavewhenempty=no`).
    #[serde(default)]
    pub leave_when_empty: Vec<EmptyCondition>,
    /// Where a call goes when it overflows (max wait, max length, empty queue); `None`:
    /// the caller hears a closing announcement and the call ends.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub overflow: Option<OverflowTarget>,
    /// Priority of this queue's calls against other queues' calls for agents in several
    /// queues: higher first (default 0, at most 100).
    #[serde(default)]
    pub priority: u32,
    /// Weight against other queues when an agent in several is free (Asterisk `weight`;
    /// default 0, at most 100).
    #[serde(default)]
    pub weight: u32,
    /// Answer-time threshold of the service-level KPI (default 20, 1–3600).
    #[serde(default = "default_service_level")]
    pub service_level_seconds: u32,
    /// What waiting callers hear.
    #[serde(default)]
    pub announcements: Announcements,
    /// Whether calls are recorded.
    #[serde(default)]
    pub recording: RecordingPolicy,
    /// Skills an agent needs, with the least level of each (0–100), to be offered calls.
    #[serde(
        default,
        deserialize_with = "unique_map",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    #[cfg_attr(feature = "openapi", schemars(with = "BTreeMap<String, u32>"))]
    pub required_skills: BTreeMap<String, u32>,
    /// Penalty widening: as a call waits longer, agents with higher penalties are offered
    /// it too. Empty (the default): every member is offered the call from the start, lower
    /// penalty first. Otherwise only penalty-0 members until the first step; both fields
    /// strictly increase from step to step.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub penalty_widening: Vec<PenaltyStep>,
    /// For `ring-progressively` only, and required there: seconds between adding one more
    /// ringing agent (1–60, at most `ring_timeout_seconds`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ring_progressively_interval_seconds: Option<u32>,
}

fn default_ring_timeout() -> u32 {
    15
}
fn default_service_level() -> u32 {
    20
}

/// How a queue picks the agent for a call. JSON: the kebab-case identifier.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize, Deserialize,
)]
#[serde(rename_all = "kebab-case")]
pub enum Strategy {
    /// `ring-all`: ring every available agent; the first to answer gets the call.
    #[default]
    RingAll,
    /// `linear`: in the order agents are listed (by penalty, then membership order),
    /// always from the first.
    Linear,
    /// `least-recent`: the agent whose last call ended longest ago.
    LeastRecent,
    /// `fewest-calls`: the agent with the fewest calls taken today.
    FewestCalls,
    /// `least-talk-time`: the agent with the least talk time today.
    LeastTalkTime,
    /// `random`: any available agent.
    Random,
    /// `weighted-random`: random, weighted towards agents with a lower penalty.
    WeightedRandom,
    /// `round-robin`: take turns, remembering who was last.
    RoundRobin,
    /// `round-robin-ordered`: take turns in membership order, remembering who was last.
    RoundRobinOrdered,
    /// `top-down`: in membership order, always from the top (FreeSWITCH `top-down`).
    TopDown,
    /// `ring-progressively`: ring one agent, then add one more every
    /// `ring_progressively_interval_seconds` while the earlier ones keep ringing.
    RingProgressively,
}

impl Strategy {
    /// Every strategy, in the order of the routing issue.
    pub const ALL: [Strategy; 11] = [
        Self::RingAll,
        Self::Linear,
        Self::LeastRecent,
        Self::FewestCalls,
        Self::LeastTalkTime,
        Self::Random,
        Self::WeightedRandom,
        Self::RoundRobin,
        Self::RoundRobinOrdered,
        Self::TopDown,
        Self::RingProgressively,
    ];

    /// The identifier, as in JSON: `ring-all`, `least-recent`, ….
    pub fn as_str(self) -> &'static str {
        match self {
            Self::RingAll => "ring-all",
            Self::Linear => "linear",
            Self::LeastRecent => "least-recent",
            Self::FewestCalls => "fewest-calls",
            Self::LeastTalkTime => "least-talk-time",
            Self::Random => "random",
            Self::WeightedRandom => "weighted-random",
            Self::RoundRobin => "round-robin",
            Self::RoundRobinOrdered => "round-robin-ordered",
            Self::TopDown => "top-down",
            Self::RingProgressively => "ring-progressively",
        }
    }
}

impl fmt::Display for Strategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The identifier is not a strategy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownStrategy(pub String);

impl fmt::Display for UnknownStrategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unknown strategy {:?}", check::truncate(&self.0))
    }
}

impl std::error::Error for UnknownStrategy {}

impl FromStr for Strategy {
    type Err = UnknownStrategy;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|x| x.as_str() == s)
            .ok_or_else(|| UnknownStrategy(s.to_owned()))
    }
}

/// A condition in which an agent does not count as able to take the queue's calls (as
/// Asterisk's `joinempty` / `leavewhenempty` lists). JSON: `"paused"`, `"logged-out"`,
/// `"no-skill-match"`.
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EmptyCondition {
    /// The agent is on a break (paused).
    Paused,
    /// The agent is not logged in (no registered device).
    LoggedOut,
    /// The agent lacks a skill or level the queue (or the call) requires.
    NoSkillMatch,
}

/// Where an overflowing call goes. JSON by `type`:
/// `{"type": "queue", "id": "night-team"}`, `{"type": "number", "number": "+74951234567"}`,
/// `{"type": "voicemail", "email": "…", "max_seconds": 120}`,
/// `{"type": "callback"}` (this queue's agents call back) or
/// `{"type": "callback", "queue": "callbacks"}`.
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case", deny_unknown_fields)]
pub enum OverflowTarget {
    /// Another queue (the call keeps its place in time: wait counts on).
    Queue {
        /// Queue id.
        id: String,
    },
    /// An outside number (E.164; written forms are normalised on parse).
    Number {
        /// The number.
        number: String,
    },
    /// Take a voicemail.
    Voicemail(Voicemail),
    /// Take the caller's number for a callback.
    Callback {
        /// Queue whose agents call back; `None`: this queue.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        queue: Option<String>,
    },
}

/// What waiting callers hear besides music.
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Announcements {
    /// Announce the caller's position every this many seconds (0 = never, the default;
    /// else 15–3600, as Asterisk's `min-announce-frequency` floor).
    #[serde(default)]
    pub position_every_seconds: u32,
    /// Also announce the expected wait (Asterisk `announce-holdtime`; default false).
    #[serde(default)]
    pub expected_wait: bool,
    /// Prompt id played as music on hold; `None`: the system music.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub music_on_hold: Option<String>,
}

/// Whether a queue's calls are recorded.
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordingPolicy {
    /// Default `never`.
    #[serde(default)]
    pub mode: RecordingMode,
    /// Prompt id played to the caller before a recorded call is connected ("this call
    /// may be recorded"); `None`: no notice.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notice_prompt: Option<String>,
}

/// When calls are recorded. JSON: `"never"`, `"always"`, `"on-demand"`.
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RecordingMode {
    /// Not recorded.
    #[default]
    Never,
    /// Every connected call, from the moment the agent answers.
    Always,
    /// Only when the agent (or a supervisor) starts it during the call.
    OnDemand,
}

/// One step of penalty widening: after `after_seconds` of waiting, members with a
/// penalty up to `max_penalty` are offered the call.
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PenaltyStep {
    /// Seconds of waiting (0–86400).
    pub after_seconds: u32,
    /// Highest member penalty offered from then on (0–100).
    pub max_penalty: u32,
}

impl Queue {
    /// Resource kind.
    pub const KIND: &'static str = "queue";
    /// Highest penalty, of a member or a widening step.
    pub const MAX_PENALTY: u32 = 100;
    /// Most required skills.
    pub const MAX_SKILLS: usize = 32;
    /// Most penalty-widening steps.
    pub const MAX_PENALTY_STEPS: usize = 20;

    /// A queue with every default and this name.
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            strategy: Strategy::default(),
            ring_timeout_seconds: default_ring_timeout(),
            wrap_up_seconds: 0,
            max_wait_seconds: 0,
            max_length: 0,
            join_when_empty: Vec::new(),
            leave_when_empty: Vec::new(),
            overflow: None,
            priority: 0,
            weight: 0,
            service_level_seconds: default_service_level(),
            announcements: Announcements::default(),
            recording: RecordingPolicy::default(),
            required_skills: BTreeMap::new(),
            penalty_widening: Vec::new(),
            ring_progressively_interval_seconds: None,
        }
    }
}

fn check_conditions(e: &mut Errors, field: &str, list: &[EmptyCondition]) {
    let mut seen = BTreeSet::new();
    for (i, c) in list.iter().enumerate() {
        if !seen.insert(c) {
            e.add(
                format!("{field}[{i}]"),
                rule::DUPLICATE,
                "condition is listed twice",
            );
        }
    }
}

impl Validate for Queue {
    fn validate(&self) -> Result<(), Vec<ValidationError>> {
        let mut e = Errors::default();
        check::name(&mut e, "name", &self.name);
        check::range(
            &mut e,
            "ring_timeout_seconds",
            self.ring_timeout_seconds,
            1,
            600,
            "seconds",
        );
        check::range(
            &mut e,
            "wrap_up_seconds",
            self.wrap_up_seconds,
            0,
            3600,
            "seconds",
        );
        check::range(
            &mut e,
            "max_wait_seconds",
            self.max_wait_seconds,
            0,
            86_400,
            "seconds",
        );
        check::range(&mut e, "max_length", self.max_length, 0, 10_000, "calls");
        check_conditions(&mut e, "join_when_empty", &self.join_when_empty);
        check_conditions(&mut e, "leave_when_empty", &self.leave_when_empty);
        if let Some(o) = &self.overflow {
            match o {
                OverflowTarget::Queue { id } => check::id(&mut e, "overflow.id", "queue id", id),
                OverflowTarget::Number { number } => check::e164(&mut e, "overflow.number", number),
                OverflowTarget::Voicemail(v) => v.check(&mut e, "overflow"),
                OverflowTarget::Callback { queue: Some(q) } => {
                    check::id(&mut e, "overflow.queue", "queue id", q);
                }
                OverflowTarget::Callback { queue: None } => {}
            }
        }
        check::range(&mut e, "priority", self.priority, 0, 100, "");
        check::range(&mut e, "weight", self.weight, 0, 100, "");
        check::range(
            &mut e,
            "service_level_seconds",
            self.service_level_seconds,
            1,
            3600,
            "seconds",
        );
        let every = self.announcements.position_every_seconds;
        if every != 0 && !(15..=3600).contains(&every) {
            e.add(
                "announcements.position_every_seconds",
                rule::RANGE,
                format!("{every} is out of range: must be 0 (never) or from 15 to 3600 seconds"),
            );
        }
        if let Some(p) = &self.announcements.music_on_hold {
            check::id(&mut e, "announcements.music_on_hold", "prompt id", p);
        }
        if let Some(p) = &self.recording.notice_prompt {
            check::id(&mut e, "recording.notice_prompt", "prompt id", p);
        }
        check::count(
            &mut e,
            "required_skills",
            self.required_skills.len(),
            Self::MAX_SKILLS,
        );
        for (skill, level) in &self.required_skills {
            let at = join("required_skills", skill);
            check::id(&mut e, &at, "skill name", skill);
            check::range(&mut e, &at, *level, 0, 100, "");
        }
        check::count(
            &mut e,
            "penalty_widening",
            self.penalty_widening.len(),
            Self::MAX_PENALTY_STEPS,
        );
        for (i, step) in self.penalty_widening.iter().enumerate() {
            let at = format!("penalty_widening[{i}]");
            check::range(
                &mut e,
                &join(&at, "after_seconds"),
                step.after_seconds,
                0,
                86_400,
                "seconds",
            );
            check::range(
                &mut e,
                &join(&at, "max_penalty"),
                step.max_penalty,
                0,
                Self::MAX_PENALTY,
                "",
            );
            if let Some(prev) = i.checked_sub(1).and_then(|p| self.penalty_widening.get(p)) {
                if step.after_seconds <= prev.after_seconds {
                    e.add(
                        join(&at, "after_seconds"),
                        rule::ORDER,
                        format!(
                            "steps must be in increasing time: {} is not after {}",
                            step.after_seconds, prev.after_seconds
                        ),
                    );
                }
                if step.max_penalty <= prev.max_penalty {
                    e.add(
                        join(&at, "max_penalty"),
                        rule::ORDER,
                        format!(
                            "each step must widen: {} is not above {}",
                            step.max_penalty, prev.max_penalty
                        ),
                    );
                }
            }
        }
        match (self.strategy, self.ring_progressively_interval_seconds) {
            (Strategy::RingProgressively, None) => e.add(
                "ring_progressively_interval_seconds",
                rule::REQUIRED,
                "the ring-progressively strategy needs the interval between added agents",
            ),
            (Strategy::RingProgressively, Some(s)) => {
                let max = self.ring_timeout_seconds.clamp(1, 60);
                check::range(
                    &mut e,
                    "ring_progressively_interval_seconds",
                    s,
                    1,
                    max,
                    "seconds (at most 60 and the ring timeout)",
                );
            }
            (other, Some(_)) => e.add(
                "ring_progressively_interval_seconds",
                rule::NOT_APPLICABLE,
                format!("only the ring-progressively strategy uses it, not {other}"),
            ),
            (_, None) => {}
        }
        e.finish()
    }

    fn normalize(&mut self) {
        if let Some(OverflowTarget::Number { number }) = &mut self.overflow
            && let Ok(n) = normalize_number(number)
        {
            *number = n;
        }
    }
}

impl Resource for Queue {
    const KIND: &'static str = Self::KIND;
    fn name(&self) -> &str {
        &self.name
    }
    fn references(&self) -> Vec<Reference> {
        let mut r = Vec::new();
        match &self.overflow {
            Some(OverflowTarget::Queue { id }) => {
                r.push(Reference::new("overflow.id", Self::KIND, id));
            }
            Some(OverflowTarget::Callback { queue: Some(q) }) => {
                r.push(Reference::new("overflow.queue", Self::KIND, q));
            }
            _ => {}
        }
        if let Some(p) = &self.announcements.music_on_hold {
            r.push(Reference::new(
                "announcements.music_on_hold",
                crate::Prompt::KIND,
                p,
            ));
        }
        if let Some(p) = &self.recording.notice_prompt {
            r.push(Reference::new(
                "recording.notice_prompt",
                crate::Prompt::KIND,
                p,
            ));
        }
        r
    }
}

/// Checks the overflow rules of a tenant's queues together, keyed by queue id: every
/// queue an overflow names exists, and overflows do not go round in a loop (`a`
/// overflows to `b`, `b` to `a`: a full or empty queue would bounce its calls between
/// them forever). Fields are paths into the map: `support.overflow.id`.
pub fn validate_overflow_graph(
    queues: &BTreeMap<String, Queue>,
) -> Result<(), Vec<ValidationError>> {
    let mut e = Errors::default();
    let next = |id: &str| match queues.get(id).and_then(|q| q.overflow.as_ref()) {
        Some(OverflowTarget::Queue { id: to }) => queues.get_key_value(to).map(|(k, _)| k.as_str()),
        _ => None,
    };
    for (id, q) in queues {
        let (field, to) = match &q.overflow {
            Some(OverflowTarget::Queue { id: to }) => ("overflow.id", to),
            Some(OverflowTarget::Callback { queue: Some(to) }) => ("overflow.queue", to),
            _ => continue,
        };
        if !queues.contains_key(to) {
            e.add(
                join(id, field),
                rule::UNKNOWN_REFERENCE,
                format!("queue {id:?} overflows to queue {to:?}, which does not exist"),
            );
        }
    }
    // Each queue overflows to at most one queue: follow the chain from every queue; a
    // loop is reported once, at its first queue in id order.
    let mut done: BTreeSet<&str> = BTreeSet::new();
    for start in queues.keys() {
        let mut path: Vec<&str> = Vec::new();
        let mut at = Some(start.as_str());
        while let Some(cur) = at {
            if done.contains(cur) {
                break;
            }
            if let Some(pos) = path.iter().position(|p| *p == cur) {
                let ring = &path[pos..];
                let first = ring.iter().min().copied().unwrap_or(cur);
                let from = ring.iter().position(|r| *r == first).unwrap_or(0);
                let ordered: Vec<&str> =
                    ring[from..].iter().chain(&ring[..from]).copied().collect();
                e.add(
                    join(first, "overflow.id"),
                    rule::CYCLE,
                    format!(
                        "queues {} overflow into each other",
                        describe_loop(&ordered)
                    ),
                );
                break;
            }
            path.push(cur);
            at = next(cur);
        }
        done.extend(path);
    }
    e.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse;
    use crate::test_util::{fields_rules, round_trip};

    #[test]
    fn strategies_have_exactly_the_routing_identifiers() {
        let ids: Vec<&str> = Strategy::ALL.iter().map(|s| s.as_str()).collect();
        assert_eq!(
            ids,
            [
                "ring-all",
                "linear",
                "least-recent",
                "fewest-calls",
                "least-talk-time",
                "random",
                "weighted-random",
                "round-robin",
                "round-robin-ordered",
                "top-down",
                "ring-progressively"
            ]
        );
        for s in Strategy::ALL {
            assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
            assert_eq!(s.as_str().parse::<Strategy>(), Ok(s));
            assert_eq!(
                serde_json::from_value::<Strategy>(s.as_str().into()).unwrap(),
                s
            );
        }
        assert!("ringall".parse::<Strategy>().is_err());
    }

    #[test]
    fn defaults_are_asterisk_like() {
        let q: Queue = parse(br#"{"name": "Support"}"#).unwrap();
        assert_eq!(q, Queue::new("Support"));
        assert_eq!(q.strategy, Strategy::RingAll);
        assert_eq!(q.ring_timeout_seconds, 15);
        assert_eq!(q.wrap_up_seconds, 0);
        assert_eq!(q.max_wait_seconds, 0);
        assert_eq!(q.service_level_seconds, 20);
        assert_eq!(q.recording.mode, RecordingMode::Never);
        assert!(q.join_when_empty.is_empty());
        round_trip(&q);
    }

    #[test]
    fn a_full_queue_parses_and_round_trips() {
        let q: Queue = parse(
            br#"{"name": "Support", "strategy": "ring-progressively", "ring_timeout_seconds": 20,
                 "wrap_up_seconds": 10, "max_wait_seconds": 300, "max_length": 50,
                 "join_when_empty": ["paused", "logged-out", "no-skill-match"], "leave_when_empty": ["logged-out"],
                 "overflow": {"type": "number", "number": "8-800-555-35-35"},
                 "priority": 5, "weight": 2, "service_level_seconds": 30,
                 "announcements": {"position_every_seconds": 60, "expected_wait": true, "music_on_hold": "moh"},
                 "recording": {"mode": "on-demand", "notice_prompt": "notice"},
                 "required_skills": {"english": 50, "billing": 0},
                 "penalty_widening": [{"after_seconds": 30, "max_penalty": 5}, {"after_seconds": 90, "max_penalty": 10}],
                 "ring_progressively_interval_seconds": 5}"#,
        )
        .unwrap();
        assert_eq!(
            q.overflow,
            Some(OverflowTarget::Number {
                number: "+78005553535".into()
            })
        );
        round_trip(&q);
        for overflow in [
            r#"{"type": "queue", "id": "night"}"#,
            r#"{"type": "voicemail", "email": "a@acme.ru"}"#,
            r#"{"type": "callback"}"#,
            r#"{"type": "callback", "queue": "cb"}"#,
        ] {
            let q: Queue =
                parse(format!(r#"{{"name": "S", "overflow": {overflow}}}"#).as_bytes()).unwrap();
            round_trip(&q);
        }
    }

    #[test]
    fn ranges() {
        let errs = parse::<Queue>(
            br#"{"name": "S", "ring_timeout_seconds": 0, "wrap_up_seconds": 3601,
                 "max_wait_seconds": 86401, "max_length": 10001, "priority": 101, "weight": 101,
                 "service_level_seconds": 0, "announcements": {"position_every_seconds": 5}}"#,
        )
        .unwrap_err();
        assert_eq!(
            fields_rules(&errs),
            [
                ("ring_timeout_seconds", "range"),
                ("wrap_up_seconds", "range"),
                ("max_wait_seconds", "range"),
                ("max_length", "range"),
                ("priority", "range"),
                ("weight", "range"),
                ("service_level_seconds", "range"),
                ("announcements.position_every_seconds", "range"),
            ]
        );
        let errs = parse::<Queue>(br#"{"name": "S", "ring_timeout_seconds": -1}"#).unwrap_err();
        assert_eq!(fields_rules(&errs), [("ring_timeout_seconds", "range")]);
        let errs = parse::<Queue>(br#"{"name": "S", "ring_timeout_seconds": "15"}"#).unwrap_err();
        assert_eq!(fields_rules(&errs), [("ring_timeout_seconds", "type")]);
    }

    #[test]
    fn unknown_strategy_and_conditions() {
        let errs = parse::<Queue>(br#"{"name": "S", "strategy": "ringall"}"#).unwrap_err();
        assert_eq!(fields_rules(&errs), [("strategy", "enum")]);
        assert!(errs[0].message.contains("ring-all"), "{}", errs[0].message);
        let errs = parse::<Queue>(br#"{"name": "S", "join_when_empty": ["paused", "asleep"]}"#)
            .unwrap_err();
        assert_eq!(fields_rules(&errs), [("join_when_empty[1]", "enum")]);
        let errs = parse::<Queue>(br#"{"name": "S", "leave_when_empty": ["paused", "paused"]}"#)
            .unwrap_err();
        assert_eq!(fields_rules(&errs), [("leave_when_empty[1]", "duplicate")]);
    }

    #[test]
    fn skills_and_penalty_widening() {
        let errs = parse::<Queue>(
            br#"{"name": "S", "required_skills": {"english": 101, "bad skill": 1},
                 "penalty_widening": [{"after_seconds": 30, "max_penalty": 5},
                                      {"after_seconds": 30, "max_penalty": 5},
                                      {"after_seconds": 60, "max_penalty": 101}]}"#,
        )
        .unwrap_err();
        assert_eq!(
            fields_rules(&errs),
            [
                ("required_skills.bad skill", "format"),
                ("required_skills.english", "range"),
                ("penalty_widening[1].after_seconds", "order"),
                ("penalty_widening[1].max_penalty", "order"),
                ("penalty_widening[2].max_penalty", "range"),
            ]
        );
        let errs =
            parse::<Queue>(br#"{"name": "S", "required_skills": {"a": 1, "a": 2}}"#).unwrap_err();
        assert_eq!(errs[0].rule, "duplicate");
    }

    #[test]
    fn ring_progressively_interval_goes_with_its_strategy() {
        let errs =
            parse::<Queue>(br#"{"name": "S", "strategy": "ring-progressively"}"#).unwrap_err();
        assert_eq!(
            fields_rules(&errs),
            [("ring_progressively_interval_seconds", "required")]
        );
        let errs = parse::<Queue>(
            br#"{"name": "S", "strategy": "ring-progressively", "ring_timeout_seconds": 10,
                 "ring_progressively_interval_seconds": 11}"#,
        )
        .unwrap_err();
        assert_eq!(
            fields_rules(&errs),
            [("ring_progressively_interval_seconds", "range")]
        );
        let errs = parse::<Queue>(
            br#"{"name": "S", "strategy": "linear", "ring_progressively_interval_seconds": 5}"#,
        )
        .unwrap_err();
        assert_eq!(
            fields_rules(&errs),
            [("ring_progressively_interval_seconds", "not_applicable")]
        );
    }

    #[test]
    fn overflow_targets_are_checked() {
        let errs =
            parse::<Queue>(br#"{"name": "S", "overflow": {"type": "number", "number": "12345"}}"#)
                .unwrap_err();
        assert_eq!(fields_rules(&errs), [("overflow.number", "format")]);
        let errs = parse::<Queue>(br#"{"name": "S", "overflow": {"type": "queue", "id": ""}}"#)
            .unwrap_err();
        assert_eq!(fields_rules(&errs), [("overflow.id", "required")]);
        let errs =
            parse::<Queue>(br#"{"name": "S", "overflow": {"type": "voicemail", "email": "x"}}"#)
                .unwrap_err();
        assert_eq!(fields_rules(&errs), [("overflow.email", "format")]);
    }

    fn overflowing(to: Option<&str>) -> Queue {
        Queue {
            overflow: to.map(|t| OverflowTarget::Queue { id: t.into() }),
            ..Queue::new("q")
        }
    }

    #[test]
    fn overflow_loops_and_dangling_targets() {
        let queues: BTreeMap<String, Queue> = [
            ("a", overflowing(Some("b"))),
            ("b", overflowing(Some("c"))),
            ("c", overflowing(Some("b"))),
            ("d", overflowing(Some("d"))),
            ("e", overflowing(Some("gone"))),
            ("f", overflowing(None)),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        let errs = validate_overflow_graph(&queues).unwrap_err();
        assert_eq!(
            fields_rules(&errs),
            [
                ("e.overflow.id", "unknown_reference"),
                ("b.overflow.id", "cycle"),
                ("d.overflow.id", "cycle"),
            ]
        );
        assert!(
            errs[1].message.contains("b -> c -> b"),
            "{}",
            errs[1].message
        );
        let ok: BTreeMap<String, Queue> = [("a", overflowing(Some("b"))), ("b", overflowing(None))]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect();
        assert_eq!(validate_overflow_graph(&ok), Ok(()));
    }
}

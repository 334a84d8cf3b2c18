//! Agents: the people who take calls. How to reach them (a SIP softphone, an outside
//! number), what they can do (skills), which queues they serve and how preferred they
//! are there (penalty), and when they work.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::check;
use crate::error::{Errors, ValidationError, join, rule};
use crate::number::normalize_number;
use crate::parse::Validate;
use crate::resource::{Reference, Resource};
use crate::secret::{self, Secret};
use crate::time::{Interval, Weekly, check_day, unique_map};

/// An agent.
///
/// `sip_password` is write-only: accepted in a body, never serialised. A body without it
/// keeps the stored one (see [`carry_secrets`](crate::carry_secrets)).
///
/// ```json
/// {"name": "Anna Petrova", "extension": "101", "sip_username": "anna",
///  "sip_password": "s3cret-Passw0rd", "external_number": "+79161234567",
///  "skills": {"english": 80, "billing": 40},
///  "queues": [{"queue": "support", "penalty": 0}, {"queue": "sales", "penalty": 2}],
///  "schedule": {"monday": [{"start": "09:00", "end": "18:00", "lunch": {"start": "13:00", "end": "14:00"}}]},
///  "quota_calls_per_day": 80}
/// ```
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Agent {
    /// Display name.
    pub name: String,
    /// Internal extension, 1 to 10 digits.
    pub extension: String,
    /// SIP digest user name of the agent's softphone.
    pub sip_username: String,
    /// SIP digest password (8–128 characters). Write-only.
    #[serde(default, skip_serializing)]
    pub sip_password: Option<Secret>,
    /// Outside number (E.164) rung when the agent works away from the softphone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_number: Option<String>,
    /// Skill name → level, 0–100.
    #[serde(
        default,
        deserialize_with = "unique_map",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    #[cfg_attr(feature = "openapi", schemars(with = "BTreeMap<String, u32>"))]
    pub skills: BTreeMap<String, u32>,
    /// The queues the agent serves.
    #[serde(default)]
    pub queues: Vec<Membership>,
    /// Working hours per weekday in the tenant's time zone; `None`: available whenever
    /// logged in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule: Option<Weekly<Shift>>,
    /// Most calls per day the agent is offered; `None`: no limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quota_calls_per_day: Option<u32>,
}

/// An agent's place in a queue. JSON: `{"queue": "support", "penalty": 0}`.
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Membership {
    /// Queue id.
    pub queue: String,
    /// 0–100; lower is offered calls first (default 0).
    #[serde(default)]
    pub penalty: u32,
}

/// One shift of a day, `[start, end)`, with an optional lunch break inside it. A night
/// shift is written as two: `22:00`–`24:00` on one day and `00:00`–`06:00` on the next.
/// JSON: `{"start": "09:00", "end": "18:00", "lunch": {"start": "13:00", "end": "14:00"}}`.
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Shift {
    /// First minute of work.
    pub start: crate::TimeOfDay,
    /// First minute off.
    pub end: crate::TimeOfDay,
    /// Break inside the shift, shorter than it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lunch: Option<Interval>,
}

impl Shift {
    /// The shift as an interval.
    pub fn interval(&self) -> Interval {
        Interval::new(self.start, self.end)
    }
}

impl Agent {
    /// Resource kind.
    pub const KIND: &'static str = "agent";
    /// Most skills per agent.
    pub const MAX_SKILLS: usize = 64;
    /// Most queues per agent.
    pub const MAX_QUEUES: usize = 256;
    /// Highest daily quota.
    pub const MAX_QUOTA: u32 = 10_000;

    /// Sets a new SIP password.
    pub fn set_sip_password(&mut self, password: impl Into<String>) {
        self.sip_password = Some(Secret::new(password));
    }
}

impl Validate for Agent {
    fn validate(&self) -> Result<(), Vec<ValidationError>> {
        let mut e = Errors::default();
        check::name(&mut e, "name", &self.name);
        if self.extension.is_empty() {
            e.add("extension", rule::REQUIRED, "extension must not be empty");
        } else if self.extension.len() > 10 || !self.extension.bytes().all(|b| b.is_ascii_digit()) {
            e.add(
                "extension",
                rule::FORMAT,
                "extension must be 1 to 10 digits",
            );
        }
        check::id(&mut e, "sip_username", "sip username", &self.sip_username);
        if let Some(p) = &self.sip_password {
            secret::check(&mut e, "sip_password", "sip password", p, 8, 128);
        }
        if let Some(n) = &self.external_number {
            check::e164(&mut e, "external_number", n);
        }
        check::count(&mut e, "skills", self.skills.len(), Self::MAX_SKILLS);
        for (skill, level) in &self.skills {
            let at = join("skills", skill);
            check::id(&mut e, &at, "skill name", skill);
            check::range(&mut e, &at, *level, 0, 100, "");
        }
        check::count(&mut e, "queues", self.queues.len(), Self::MAX_QUEUES);
        let mut seen = BTreeSet::new();
        for (i, m) in self.queues.iter().enumerate() {
            let at = format!("queues[{i}]");
            check::id(&mut e, &join(&at, "queue"), "queue id", &m.queue);
            if !seen.insert(m.queue.as_str()) {
                e.add(
                    join(&at, "queue"),
                    rule::DUPLICATE,
                    format!("the agent is already in queue {:?}", m.queue),
                );
            }
            check::range(
                &mut e,
                &join(&at, "penalty"),
                m.penalty,
                0,
                crate::Queue::MAX_PENALTY,
                "",
            );
        }
        if let Some(schedule) = &self.schedule {
            for (day, shifts) in schedule.iter() {
                let at = join("schedule", day.as_str());
                let intervals: Vec<Interval> = shifts.iter().map(Shift::interval).collect();
                check_day(&mut e, &at, &intervals);
                for (i, s) in shifts.iter().enumerate() {
                    let Some(lunch) = s.lunch else { continue };
                    let field = format!("{at}[{i}].lunch");
                    if lunch.start >= lunch.end {
                        e.add(
                            join(&field, "end"),
                            rule::ORDER,
                            format!("lunch must end after it starts ({lunch})"),
                        );
                    } else if !s.interval().covers(&lunch) || lunch == s.interval() {
                        e.add(
                            field,
                            rule::CONTAINMENT,
                            format!(
                                "lunch {lunch} must lie inside the shift {} and be shorter than it",
                                s.interval()
                            ),
                        );
                    }
                }
            }
        }
        if let Some(q) = self.quota_calls_per_day {
            check::range(
                &mut e,
                "quota_calls_per_day",
                q,
                1,
                Self::MAX_QUOTA,
                "calls",
            );
        }
        e.finish()
    }

    fn normalize(&mut self) {
        if let Some(n) = &mut self.external_number
            && let Ok(norm) = normalize_number(n)
        {
            *n = norm;
        }
    }
}

impl Resource for Agent {
    const KIND: &'static str = Self::KIND;
    fn name(&self) -> &str {
        &self.name
    }
    fn references(&self) -> Vec<Reference> {
        self.queues
            .iter()
            .enumerate()
            .map(|(i, m)| {
                Reference::new(format!("queues[{i}].queue"), crate::Queue::KIND, &m.queue)
            })
            .collect()
    }
    fn secrets(&self) -> Vec<(&'static str, Option<&Secret>)> {
        vec![("sip_password", self.sip_password.as_ref())]
    }
    fn secrets_mut(&mut self) -> Vec<(&'static str, &mut Option<Secret>)> {
        vec![("sip_password", &mut self.sip_password)]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::{fields_rules, round_trip};
    use crate::{carry_secrets, parse, to_stored_json};

    const FULL: &[u8] = br#"{"name": "Anna Petrova", "extension": "101", "sip_username": "anna",
        "sip_password": "s3cret-Passw0rd", "external_number": "8 916 123-45-67",
        "skills": {"english": 80, "billing": 40},
        "queues": [{"queue": "support", "penalty": 0}, {"queue": "sales", "penalty": 2}],
        "schedule": {"monday": [{"start": "09:00", "end": "18:00", "lunch": {"start": "13:00", "end": "14:00"}}],
                     "saturday": [{"start": "22:00", "end": "24:00"}]},
        "quota_calls_per_day": 80}"#;

    #[test]
    fn a_full_agent_parses_and_round_trips_without_its_password() {
        let a: Agent = parse(FULL).unwrap();
        assert_eq!(a.external_number.as_deref(), Some("+79161234567"));
        assert_eq!(
            a.sip_password.as_ref().map(Secret::expose),
            Some("s3cret-Passw0rd")
        );
        let out = serde_json::to_value(&a).unwrap();
        assert!(out.get("sip_password").is_none(), "{out}");
        assert!(!out.to_string().contains("s3cret"), "{out}");
        assert!(!format!("{a:?}").contains("s3cret"));
        round_trip(&a);
    }

    #[test]
    fn the_password_is_kept_on_update_and_required_on_create() {
        let stored: Agent = parse(FULL).unwrap();
        let mut update: Agent =
            parse(br#"{"name": "Anna P.", "extension": "101", "sip_username": "anna"}"#).unwrap();
        assert_eq!(update.sip_password, None);
        carry_secrets(&mut update, Some(&stored)).unwrap();
        assert_eq!(update.sip_password, stored.sip_password);

        update.set_sip_password("another-password");
        carry_secrets(&mut update, Some(&stored)).unwrap();
        assert_eq!(
            update.sip_password.as_ref().map(Secret::expose),
            Some("another-password")
        );

        let mut create: Agent =
            parse(br#"{"name": "Bob", "extension": "102", "sip_username": "bob"}"#).unwrap();
        let errs = carry_secrets(&mut create, None).unwrap_err();
        assert_eq!(fields_rules(&errs), [("sip_password", "required")]);

        let doc = to_stored_json(&stored).unwrap();
        assert_eq!(doc["sip_password"], "s3cret-Passw0rd");
        let back: Agent = crate::parse_stored(doc.to_string().as_bytes()).unwrap();
        assert_eq!(back, stored);
    }

    #[test]
    fn every_field_is_checked() {
        let errs = parse::<Agent>(
            br#"{"name": "A", "extension": "10a", "sip_username": "anna smith",
                 "sip_password": "short", "external_number": "12345",
                 "skills": {"english": 101},
                 "queues": [{"queue": "support"}, {"queue": "support", "penalty": 101}],
                 "quota_calls_per_day": 0}"#,
        )
        .unwrap_err();
        assert_eq!(
            fields_rules(&errs),
            [
                ("extension", "format"),
                ("sip_username", "format"),
                ("sip_password", "length"),
                ("external_number", "format"),
                ("skills.english", "range"),
                ("queues[1].queue", "duplicate"),
                ("queues[1].penalty", "range"),
                ("quota_calls_per_day", "range"),
            ]
        );
    }

    #[test]
    fn shifts_and_lunch_breaks() {
        let errs = parse::<Agent>(
            br#"{"name": "A", "extension": "1", "sip_username": "a",
                 "schedule": {
                   "monday": [{"start": "09:00", "end": "18:00", "lunch": {"start": "17:00", "end": "19:00"}}],
                   "tuesday": [{"start": "09:00", "end": "18:00"}, {"start": "17:00", "end": "20:00"}],
                   "wednesday": [{"start": "09:00", "end": "18:00", "lunch": {"start": "14:00", "end": "13:00"}}],
                   "thursday": [{"start": "09:00", "end": "13:00", "lunch": {"start": "09:00", "end": "13:00"}}],
                   "friday": [{"start": "18:00", "end": "09:00"}]}}"#,
        )
        .unwrap_err();
        assert_eq!(
            fields_rules(&errs),
            [
                ("schedule.monday[0].lunch", "containment"),
                ("schedule.tuesday[1].start", "overlap"),
                ("schedule.wednesday[0].lunch.end", "order"),
                ("schedule.thursday[0].lunch", "containment"),
                ("schedule.friday[0].end", "order"),
            ]
        );
    }

    #[test]
    fn references_are_the_queues() {
        let a: Agent = parse(FULL).unwrap();
        let r: Vec<_> = a
            .references()
            .into_iter()
            .map(|r| (r.field, r.id))
            .collect();
        assert_eq!(
            r,
            [
                ("queues[0].queue".to_owned(), "support".to_owned()),
                ("queues[1].queue".to_owned(), "sales".to_owned())
            ]
        );
    }
}

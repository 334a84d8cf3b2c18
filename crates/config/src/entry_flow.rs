//! Entry flows: what happens to a call that reaches one of the tenant's numbers. Check
//! the business hours; inside them, greet and go to the IVR menu or straight to a queue;
//! outside them, follow the after-hours rule.

use serde::{Deserialize, Serialize};

use crate::check;
use crate::error::{Errors, ValidationError, join};
use crate::parse::Validate;
use crate::resource::{Reference, Resource};

/// The path of a call from the moment it reaches a number. Its id is the storage key
/// (as for every resource, it comes from the URL, not the body).
///
/// ```json
/// {"name": "Main line", "greeting": "welcome", "business_hours": "office",
///  "start": {"type": "ivr-menu", "id": "main"},
///  "after_hours": {"type": "voicemail", "email": "support@acme.example", "max_seconds": 120}}
/// ```
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EntryFlow {
    /// Display name.
    pub name: String,
    /// Prompt id played first, before the hours check (`None`: none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub greeting: Option<String>,
    /// Business-hours id; `None` means always open.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub business_hours: Option<String>,
    /// Where the call goes when open.
    pub start: FirstStep,
    /// What happens when closed. Default: a closed announcement, then hang up.
    #[serde(default)]
    pub after_hours: AfterHours,
}

/// The first step of an open entry flow.
///
/// JSON: `{"type": "ivr-menu", "id": "main"}` or `{"type": "queue", "id": "support"}`.
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case", deny_unknown_fields)]
pub enum FirstStep {
    /// Play an IVR menu.
    IvrMenu {
        /// IVR menu id.
        id: String,
    },
    /// Put the call in a queue.
    Queue {
        /// Queue id.
        id: String,
    },
}

/// What an entry flow does outside business hours.
///
/// JSON, by `type`:
/// - `{"type": "announce-and-hangup", "prompt": "closed"}` (`prompt` optional: without
///   it the system announcement of the opening hours in the tenant's locale),
/// - `{"type": "voicemail", "email": "…", "max_seconds": 120}`,
/// - `{"type": "callback", "queue": "support"}`: take the caller's number; the queue's
///   agents call back when it opens,
/// - `{"type": "route", "queue": "night-team"}`: route to another queue (a night team in
///   another time zone).
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case", deny_unknown_fields)]
pub enum AfterHours {
    /// Play an announcement, then hang up.
    AnnounceAndHangup {
        /// Prompt id; `None` for the system announcement.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        prompt: Option<String>,
    },
    /// Take a voicemail.
    Voicemail(Voicemail),
    /// Offer a callback served by a queue.
    Callback {
        /// Queue id whose agents call back.
        queue: String,
    },
    /// Send the call to another queue.
    Route {
        /// Queue id.
        queue: String,
    },
}

impl Default for AfterHours {
    fn default() -> Self {
        Self::AnnounceAndHangup { prompt: None }
    }
}

/// Where and how long a voicemail is taken. JSON (inside a tagged action):
/// `"email": "support@acme.example", "max_seconds": 120`.
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Voicemail {
    /// Address the recording is delivered to.
    pub email: String,
    /// Longest message, in seconds (default 120, at most 600).
    #[serde(default = "default_voicemail_seconds")]
    pub max_seconds: u32,
}

fn default_voicemail_seconds() -> u32 {
    120
}

impl Voicemail {
    /// Shortest allowed `max_seconds`.
    pub const MIN_SECONDS: u32 = 5;
    /// Longest allowed `max_seconds`.
    pub const MAX_SECONDS: u32 = 600;

    pub(crate) fn check(&self, e: &mut Errors, at: &str) {
        check::email(e, &join(at, "email"), &self.email);
        check::range(
            e,
            &join(at, "max_seconds"),
            self.max_seconds,
            Self::MIN_SECONDS,
            Self::MAX_SECONDS,
            "seconds",
        );
    }
}

impl EntryFlow {
    /// Resource kind.
    pub const KIND: &'static str = "entry-flow";
}

impl Validate for EntryFlow {
    fn validate(&self) -> Result<(), Vec<ValidationError>> {
        let mut e = Errors::default();
        check::name(&mut e, "name", &self.name);
        if let Some(p) = &self.greeting {
            check::id(&mut e, "greeting", "prompt id", p);
        }
        if let Some(h) = &self.business_hours {
            check::id(&mut e, "business_hours", "business hours id", h);
        }
        match &self.start {
            FirstStep::IvrMenu { id } => check::id(&mut e, "start.id", "ivr menu id", id),
            FirstStep::Queue { id } => check::id(&mut e, "start.id", "queue id", id),
        }
        match &self.after_hours {
            AfterHours::AnnounceAndHangup { prompt: Some(p) } => {
                check::id(&mut e, "after_hours.prompt", "prompt id", p);
            }
            AfterHours::AnnounceAndHangup { prompt: None } => {}
            AfterHours::Voicemail(v) => v.check(&mut e, "after_hours"),
            AfterHours::Callback { queue } | AfterHours::Route { queue } => {
                check::id(&mut e, "after_hours.queue", "queue id", queue);
            }
        }
        e.finish()
    }
}

impl Resource for EntryFlow {
    const KIND: &'static str = Self::KIND;
    fn name(&self) -> &str {
        &self.name
    }
    fn references(&self) -> Vec<Reference> {
        let mut r = Vec::new();
        if let Some(p) = &self.greeting {
            r.push(Reference::new("greeting", crate::Prompt::KIND, p));
        }
        if let Some(h) = &self.business_hours {
            r.push(Reference::new(
                "business_hours",
                crate::BusinessHours::KIND,
                h,
            ));
        }
        r.push(match &self.start {
            FirstStep::IvrMenu { id } => Reference::new("start.id", crate::IvrMenu::KIND, id),
            FirstStep::Queue { id } => Reference::new("start.id", crate::Queue::KIND, id),
        });
        match &self.after_hours {
            AfterHours::AnnounceAndHangup { prompt: Some(p) } => {
                r.push(Reference::new("after_hours.prompt", crate::Prompt::KIND, p));
            }
            AfterHours::Callback { queue } | AfterHours::Route { queue } => {
                r.push(Reference::new(
                    "after_hours.queue",
                    crate::Queue::KIND,
                    queue,
                ));
            }
            AfterHours::AnnounceAndHangup { prompt: None } | AfterHours::Voicemail(_) => {}
        }
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::{fields_rules, round_trip};
    use crate::{check_references, parse};

    #[test]
    fn every_after_hours_rule_parses_and_round_trips() {
        for after in [
            r#"{"type": "announce-and-hangup"}"#,
            r#"{"type": "announce-and-hangup", "prompt": "closed"}"#,
            r#"{"type": "voicemail", "email": "support@acme.example", "max_seconds": 60}"#,
            r#"{"type": "callback", "queue": "support"}"#,
            r#"{"type": "route", "queue": "night-team"}"#,
        ] {
            let body = format!(
                r#"{{"name": "Main", "business_hours": "office",
                    "start": {{"type": "ivr-menu", "id": "main"}}, "after_hours": {after}}}"#
            );
            let f: EntryFlow = parse(body.as_bytes()).unwrap();
            round_trip(&f);
        }
        let f: EntryFlow =
            parse(br#"{"name": "Main", "start": {"type": "queue", "id": "support"}}"#).unwrap();
        assert_eq!(
            f.after_hours,
            AfterHours::AnnounceAndHangup { prompt: None }
        );
        assert_eq!(f.business_hours, None);
        let f: EntryFlow = parse(
            br#"{"name": "M", "start": {"type": "queue", "id": "q"},
                 "after_hours": {"type": "voicemail", "email": "a@b.ru"}}"#,
        )
        .unwrap();
        assert_eq!(
            f.after_hours,
            AfterHours::Voicemail(Voicemail {
                email: "a@b.ru".into(),
                max_seconds: 120
            })
        );
    }

    #[test]
    fn errors_name_nested_fields() {
        let errs = parse::<EntryFlow>(
            br#"{"name": "Main", "start": {"type": "ivr-menu", "id": ""},
                 "after_hours": {"type": "voicemail", "email": "nobody", "max_seconds": 9999}}"#,
        )
        .unwrap_err();
        assert_eq!(
            fields_rules(&errs),
            [
                ("start.id", "required"),
                ("after_hours.email", "format"),
                ("after_hours.max_seconds", "range"),
            ]
        );
        let errs = parse::<EntryFlow>(
            br#"{"name": "Main", "start": {"type": "queue", "id": "q"},
                 "after_hours": {"type": "voicemail"}}"#,
        )
        .unwrap_err();
        assert_eq!(fields_rules(&errs), [("after_hours.email", "required")]);
        let errs = parse::<EntryFlow>(
            br#"{"name": "Main", "start": {"type": "queue", "id": "q"},
                 "after_hours": {"type": "pray"}}"#,
        )
        .unwrap_err();
        assert_eq!(fields_rules(&errs), [("after_hours.type", "enum")]);
        let errs = parse::<EntryFlow>(
            br#"{"name": "Main", "start": {"type": "queue", "id": "q", "extra": 1}}"#,
        )
        .unwrap_err();
        assert_eq!(fields_rules(&errs), [("start.extra", "unknown_field")]);
    }

    #[test]
    fn references_are_listed_and_checked() {
        let f: EntryFlow = parse(
            br#"{"name": "Main", "greeting": "hi", "business_hours": "office",
                 "start": {"type": "ivr-menu", "id": "main"},
                 "after_hours": {"type": "route", "queue": "night"}}"#,
        )
        .unwrap();
        let kinds: Vec<_> = f
            .references()
            .iter()
            .map(|r| (r.kind, r.id.clone()))
            .collect();
        assert_eq!(
            kinds,
            [
                ("prompt", "hi".to_owned()),
                ("business-hours", "office".to_owned()),
                ("ivr-menu", "main".to_owned()),
                ("queue", "night".to_owned()),
            ]
        );
        let errs =
            check_references(&f, |kind, id| !(kind == "queue" && id == "night")).unwrap_err();
        assert_eq!(
            fields_rules(&errs),
            [("after_hours.queue", "unknown_reference")]
        );
        assert!(check_references(&f, |_, _| true).is_ok());
    }
}

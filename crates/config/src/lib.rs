//! A tenant's contact-center configuration: the resources it sets up through the API
//! (its settings, phone numbers, entry flows, business hours, IVR menus, prompts, queues,
//! agents, webhooks) as domain types, and their validation.
//!
//! These types are the JSON bodies of the REST API: serde with `deny_unknown_fields`,
//! `snake_case` fields, enums as kebab-case strings, tagged unions as
//! `{"type": "…", …}`. The api service parses a body with [`parse`] (which names the
//! field of every error), checks references with [`check_references`] and, across a
//! tenant's menus and queues, [`validate_ivr_graph`] and [`validate_overflow_graph`],
//! keeps write-only secrets with [`carry_secrets`], and stores [`to_stored_json`]. Every
//! error is a [`ValidationError`] `{field, rule, message}`, for a 4xx answer.
//!
//! Pure: no I/O, no async, no clock (time zones come from the tz database compiled in).

mod agent;
mod business_hours;
mod check;
mod entry_flow;
mod error;
mod ivr;
mod number;
mod parse;
mod phone_number;
mod prompt;
mod queue;
mod resource;
#[cfg(feature = "openapi")]
mod schema;
mod secret;
mod tenant;
mod time;
mod webhook;

#[cfg(test)]
mod test_util;

pub use agent::{Agent, Membership, Shift};
pub use business_hours::{BusinessHours, DayException};
pub use check::{MAX_ID_LEN, MAX_NAME_CHARS, is_valid_id};
pub use entry_flow::{AfterHours, EntryFlow, FirstStep, Voicemail};
pub use error::{NumberError, ValidationError, rule};
pub use ivr::{IvrAction, IvrChoice, IvrMenu, validate_ivr_graph};
pub use number::{E164_MAX_DIGITS, is_e164, normalize_number};
pub use parse::{Validate, parse, parse_stored};
pub use phone_number::PhoneNumber;
pub use prompt::{Prompt, PromptAudio};
pub use queue::{
    Announcements, EmptyCondition, OverflowTarget, PenaltyStep, Queue, RecordingMode,
    RecordingPolicy, Strategy, UnknownStrategy, validate_overflow_graph,
};
pub use resource::{KINDS, Reference, Resource, carry_secrets, check_references, to_stored_json};
#[cfg(feature = "openapi")]
pub use schema::TIME_OF_DAY_PATTERN;
pub use secret::Secret;
pub use tenant::{TenantSettings, TenantStatus};
pub use time::{Interval, MAX_INTERVALS_PER_DAY, TimeOfDay, Weekday, Weekly, parse_date};
pub use webhook::{EVENT_TYPES, EventFilter, Webhook};

/// Checks a resource id (from a URL path, or chosen by the api) by the rules of
/// `hotline_core::ids`; the error names the field `id`. A phone number's id is its E.164
/// number, checked by [`PhoneNumber`]'s own validation instead.
pub fn validate_id(id: &str) -> Result<(), ValidationError> {
    let mut e = error::Errors::default();
    check::id(&mut e, "id", "id", id);
    e.finish().map_err(|mut v| {
        v.pop()
            .unwrap_or_else(|| ValidationError::new("id", rule::FORMAT, "bad id"))
    })
}

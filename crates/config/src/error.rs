//! What is wrong with a resource: [`ValidationError`] names the field (a JSON path), the
//! rule it broke (a short machine code from [`rule`]) and says why in words. The api
//! returns a list of them as the body of a 4xx answer.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The machine codes of [`ValidationError::rule`]. Clients may switch on them; the set
/// only grows.
pub mod rule {
    /// The body is not JSON, or is cut short.
    pub const SYNTAX: &str = "syntax";
    /// A JSON value has the wrong type (a string where a number belongs).
    pub const TYPE: &str = "type";
    /// A field that the resource does not have.
    pub const UNKNOWN_FIELD: &str = "unknown_field";
    /// A required field or value is missing or empty.
    pub const REQUIRED: &str = "required";
    /// A string that is not one of the allowed names (an enum value, an event type).
    pub const ENUM: &str = "enum";
    /// A number outside its allowed range.
    pub const RANGE: &str = "range";
    /// A string that does not have the required shape (a time, a number, an id).
    pub const FORMAT: &str = "format";
    /// A string or list that is too long.
    pub const LENGTH: &str = "length";
    /// The same key, digit, name or id given twice.
    pub const DUPLICATE: &str = "duplicate";
    /// A reference to a resource that does not exist.
    pub const UNKNOWN_REFERENCE: &str = "unknown_reference";
    /// References that go round in a loop where a loop is not allowed.
    pub const CYCLE: &str = "cycle";
    /// A time zone that is not in the IANA time-zone database.
    pub const TIMEZONE: &str = "timezone";
    /// A calendar date that does not exist (2025-02-30).
    pub const DATE: &str = "date";
    /// Two time intervals of one day overlap.
    pub const OVERLAP: &str = "overlap";
    /// Values that must increase do not (an interval that ends before it starts).
    pub const ORDER: &str = "order";
    /// An interval that must lie inside another does not (a lunch break outside its shift).
    pub const CONTAINMENT: &str = "containment";
    /// A field that means nothing with the other settings (it must be left out).
    pub const NOT_APPLICABLE: &str = "not_applicable";
    /// A value that is well formed but not allowed in this place.
    pub const NOT_ALLOWED: &str = "not_allowed";
}

/// One thing wrong with a resource.
///
/// Serialises as `{"field": "schedule.monday[0].start", "rule": "format", "message": "…"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ValidationError {
    /// JSON path of the offending value, e.g. `ring_timeout_seconds`,
    /// `schedule.monday[0].start` or `choices[2].action.id`; empty for the body as a whole.
    pub field: String,
    /// Short machine code of the broken rule: one of the constants in [`rule`].
    pub rule: String,
    /// What is wrong, for people: lowercase, no trailing period.
    pub message: String,
}

impl ValidationError {
    /// Longest `field`, in characters; a longer path (a client's own map key, echoed) is
    /// cut and ends with `…`.
    pub const MAX_FIELD_CHARS: usize = 256;
    /// Longest `message`, in characters, cut likewise.
    pub const MAX_MESSAGE_CHARS: usize = 1024;

    /// Builds an error.
    pub fn new(field: impl Into<String>, rule: &str, message: impl Into<String>) -> Self {
        Self {
            field: cut(field.into(), Self::MAX_FIELD_CHARS),
            rule: rule.to_owned(),
            message: cut(message.into(), Self::MAX_MESSAGE_CHARS),
        }
    }

    /// The same error with its field path placed under `prefix` (e.g. a menu id, so
    /// `choices[0].digit` becomes `main.choices[0].digit`).
    pub fn under(mut self, prefix: &str) -> Self {
        self.field = join(prefix, &self.field);
        self
    }
}

impl fmt::Display for ValidationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.field.is_empty() {
            write!(f, "{} ({})", self.message, self.rule)
        } else {
            write!(f, "{}: {} ({})", self.field, self.message, self.rule)
        }
    }
}

impl std::error::Error for ValidationError {}

/// Why [`normalize_number`](crate::normalize_number) refused a phone number.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NumberError {
    /// Nothing but separators.
    #[error("number is empty")]
    Empty,
    /// A character that is neither a digit nor a separator (space, `-`, `.`, `(`, `)`).
    #[error(
        "number contains {0:?}; only digits, a leading '+' and the separators ' ', '-', '.', '(', ')' are allowed"
    )]
    BadChar(char),
    /// Digits without `+` and country code, and not a Russian `8…` number.
    #[error(
        "number must start with '+' and the country code (e.g. +74951234567), or be a Russian number written 8xxxxxxxxxx"
    )]
    NoCountryCode,
    /// `+0…`: no country code starts with 0.
    #[error("the country code cannot start with 0")]
    LeadingZero,
    /// More than the 15 digits E.164 allows.
    #[error("number has {0} digits; E.164 allows at most 15")]
    TooLong(usize),
}

/// `s` if it has at most `max` characters, else its first `max - 1` and `…`: errors echo
/// what a client sent, and a client can send a megabyte.
fn cut(s: String, max: usize) -> String {
    match s.char_indices().nth(max) {
        None => s,
        Some(_) => {
            let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
            out.push('…');
            out
        }
    }
}

/// Joins a JSON path prefix and a relative path: `("a", "b")` → `a.b`,
/// `("a", "[0]")` → `a[0]`, `("", "b")` → `b`, `("a", "")` → `a`.
pub(crate) fn join(prefix: &str, field: &str) -> String {
    if prefix.is_empty() {
        field.to_owned()
    } else if field.is_empty() {
        prefix.to_owned()
    } else if field.starts_with('[') {
        format!("{prefix}{field}")
    } else {
        format!("{prefix}.{field}")
    }
}

/// Collects the errors of one validation run, so that a client sees all of them at once.
#[derive(Debug, Default)]
pub(crate) struct Errors(Vec<ValidationError>);

impl Errors {
    /// Records one error.
    pub(crate) fn add(&mut self, field: impl Into<String>, rule: &str, message: impl Into<String>) {
        self.0.push(ValidationError::new(field, rule, message));
    }

    /// `Ok` when nothing was recorded.
    pub(crate) fn finish(self) -> Result<(), Vec<ValidationError>> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(self.0)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_fields_and_messages_are_cut() {
        let e = ValidationError::new("k".repeat(1000), rule::UNKNOWN_FIELD, "m".repeat(5000));
        assert_eq!(e.field.chars().count(), ValidationError::MAX_FIELD_CHARS);
        assert!(e.field.ends_with('…'));
        assert_eq!(
            e.message.chars().count(),
            ValidationError::MAX_MESSAGE_CHARS
        );
        let short = ValidationError::new("a", rule::FORMAT, "b");
        assert_eq!((short.field.as_str(), short.message.as_str()), ("a", "b"));
    }

    #[test]
    fn join_builds_json_paths() {
        assert_eq!(join("a", "b"), "a.b");
        assert_eq!(join("a", "[0].b"), "a[0].b");
        assert_eq!(join("", "b"), "b");
        assert_eq!(join("a", ""), "a");
    }

    #[test]
    fn serialises_as_field_rule_message() {
        let e = ValidationError::new("choices[0].digit", rule::FORMAT, "bad digit");
        assert_eq!(
            serde_json::to_value(&e).unwrap(),
            serde_json::json!({"field": "choices[0].digit", "rule": "format", "message": "bad digit"})
        );
        assert_eq!(e.to_string(), "choices[0].digit: bad digit (format)");
        assert_eq!(e.under("main").field, "main.choices[0].digit");
    }
}

//! Write-only values: a SIP password, a webhook signing secret. A client sets them; no
//! answer ever shows them again.
//!
//! [`Secret`] deserialises from a JSON string but does not implement `Serialize` at all,
//! so a resource can only hold it in a field marked `#[serde(skip_serializing)]`: leaking
//! it through the API is a compile error, not a review finding. Storage, which must keep
//! it, goes through [`Resource::secrets`](crate::Resource::secrets) and
//! [`to_stored_json`](crate::to_stored_json).

use std::fmt;

use serde::{Deserialize, Deserializer};

/// A write-only string. `Debug` shows `Secret(***)`; there is no `Display` and no
/// `Serialize`. Read it with [`Secret::expose`].
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The value, for the code that needs it (digest authentication, HMAC signing,
    /// storage) and for nothing that prints or answers.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(Self)
    }
}

/// Checks a secret that is present: `min..=max` characters, no control characters.
pub(crate) fn check(
    e: &mut crate::error::Errors,
    field: &str,
    what: &str,
    secret: &Secret,
    min: usize,
    max: usize,
) {
    use crate::error::rule;
    let n = secret.0.chars().count();
    if n < min {
        e.add(
            field,
            rule::LENGTH,
            format!("{what} must be at least {min} characters"),
        );
    } else if n > max {
        e.add(
            field,
            rule::LENGTH,
            format!("{what} must be at most {max} characters"),
        );
    } else if secret.0.chars().any(char::is_control) {
        e.add(
            field,
            rule::FORMAT,
            format!("{what} contains control characters"),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_value() {
        let s = Secret::new("hunter2hunter2");
        assert_eq!(format!("{s:?}"), "Secret(***)");
        assert_eq!(format!("{:?}", Some(&s)), "Some(Secret(***))");
        assert_eq!(s.expose(), "hunter2hunter2");
    }

    #[test]
    fn deserialises_from_a_string_only() {
        let s: Secret = serde_json::from_str("\"abc\"").unwrap();
        assert_eq!(s.expose(), "abc");
        assert!(serde_json::from_str::<Secret>("12").is_err());
    }
}

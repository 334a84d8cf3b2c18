//! Helpers for the unit tests.

use std::fmt::Debug;

use crate::{Resource, parse, parse_stored, to_stored_json};

/// `(field, rule)` of each error, for compact assertions.
pub(crate) fn fields_rules(errs: &[crate::ValidationError]) -> Vec<(&str, &str)> {
    errs.iter()
        .map(|e| (e.field.as_str(), e.rule.as_str()))
        .collect()
}

/// Serialising then parsing gives the same resource, less its write-only secrets; the
/// stored form (secrets included) gives it back whole.
pub(crate) fn round_trip<T: Resource + Clone + PartialEq + Debug>(r: &T) {
    let public = serde_json::to_vec(r).unwrap();
    let back: T = parse(&public).unwrap_or_else(|e| {
        panic!(
            "{} does not parse back: {e:?}",
            String::from_utf8_lossy(&public)
        )
    });
    let mut expected = r.clone();
    for (_, s) in expected.secrets_mut() {
        *s = None;
    }
    assert_eq!(back, expected);

    let stored = to_stored_json(r).unwrap().to_string();
    let whole: T = parse_stored(stored.as_bytes()).unwrap();
    assert_eq!(&whole, r);
}

//! Phone numbers (DIDs) a tenant owns, each leading to an entry flow.

use serde::{Deserialize, Serialize};

use crate::check;
use crate::error::{Errors, ValidationError};
use crate::number::normalize_number;
use crate::parse::Validate;
use crate::resource::{Reference, Resource};

/// A dialled number that reaches the tenant, and where its calls go. The number, in
/// E.164, is also the resource's id: a number belongs to at most one tenant of the
/// platform, which the api enforces across tenants.
///
/// A body may write the number as people do (`8-800-555-35-35`); [`parse`](crate::parse)
/// stores it as E.164 (`+78005553535`), see [`normalize_number`].
///
/// ```json
/// {"number": "+78005553535", "name": "Hotline", "entry_flow": "main"}
/// ```
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PhoneNumber {
    /// The number, E.164.
    pub number: String,
    /// Optional label ("Moscow office").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Id of the entry flow its calls follow.
    pub entry_flow: String,
}

impl PhoneNumber {
    /// Resource kind.
    pub const KIND: &'static str = "phone-number";
}

impl Validate for PhoneNumber {
    fn validate(&self) -> Result<(), Vec<ValidationError>> {
        let mut e = Errors::default();
        check::e164(&mut e, "number", &self.number);
        if let Some(name) = &self.name {
            check::name(&mut e, "name", name);
        }
        check::id(&mut e, "entry_flow", "entry flow id", &self.entry_flow);
        e.finish()
    }

    fn normalize(&mut self) {
        if let Ok(n) = normalize_number(&self.number) {
            self.number = n;
        }
    }
}

impl Resource for PhoneNumber {
    const KIND: &'static str = Self::KIND;
    /// The label, or the number itself when there is none.
    fn name(&self) -> &str {
        self.name.as_deref().unwrap_or(&self.number)
    }
    fn references(&self) -> Vec<Reference> {
        vec![Reference::new(
            "entry_flow",
            crate::EntryFlow::KIND,
            &self.entry_flow,
        )]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse;
    use crate::test_util::{fields_rules, round_trip};

    #[test]
    fn toll_free_is_stored_as_e164() {
        let n: PhoneNumber =
            parse(br#"{"number": "8-800-555-35-35", "entry_flow": "main"}"#).unwrap();
        assert_eq!(n.number, "+78005553535");
        assert_eq!(Resource::name(&n), "+78005553535");
        round_trip(&n);
    }

    #[test]
    fn bad_numbers_are_specific() {
        let errs =
            parse::<PhoneNumber>(br#"{"number": "4951234567", "entry_flow": "-x"}"#).unwrap_err();
        assert_eq!(
            fields_rules(&errs),
            [("number", "format"), ("entry_flow", "format")]
        );
        assert!(
            errs[0].message.contains("country code"),
            "{}",
            errs[0].message
        );
        let errs =
            parse::<PhoneNumber>(br#"{"number": "+0800", "entry_flow": "main"}"#).unwrap_err();
        assert!(errs[0].message.contains("cannot start with 0"));
        let errs = parse::<PhoneNumber>(br#"{"entry_flow": "main"}"#).unwrap_err();
        assert_eq!(fields_rules(&errs), [("number", "required")]);
    }

    #[test]
    fn a_number_built_in_code_must_already_be_e164() {
        let n = PhoneNumber {
            number: "8-800-555-35-35".into(),
            name: None,
            entry_flow: "main".into(),
        };
        let errs = n.validate().unwrap_err();
        assert_eq!(
            errs[0].message,
            "number must be written in E.164 form: +78005553535"
        );
    }
}

//! The tenant's own settings: its display name, the time zone its business hours are
//! written in, and the language of its system prompts.

use serde::{Deserialize, Serialize};

use crate::check;
use crate::error::{Errors, ValidationError};
use crate::parse::Validate;
use crate::resource::Resource;

/// What a tenant sets about itself. Its status is not here: only the provider suspends
/// or reactivates a tenant, so the api keeps [`TenantStatus`] beside these settings.
///
/// ```json
/// {"name": "Acme", "time_zone": "Europe/Moscow", "locale": "ru"}
/// ```
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TenantSettings {
    /// Display name.
    pub name: String,
    /// IANA time zone, e.g. `Europe/Moscow`; business hours without a zone of their own
    /// are read in it.
    pub time_zone: String,
    /// BCP 47 language tag (`en`, `ru`, `en-US`) for system prompts and messages.
    #[serde(default = "default_locale")]
    pub locale: String,
}

fn default_locale() -> String {
    "en".to_owned()
}

impl TenantSettings {
    /// Resource kind.
    pub const KIND: &'static str = "tenant";
}

/// Whether a tenant may take calls. Set by the provider (admin token), never by the
/// tenant. JSON: `"active"` / `"suspended"`.
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TenantStatus {
    /// Calls are taken.
    #[default]
    Active,
    /// Calls are refused and the configuration is read-only.
    Suspended,
}

impl Validate for TenantSettings {
    fn validate(&self) -> Result<(), Vec<ValidationError>> {
        let mut e = Errors::default();
        check::name(&mut e, "name", &self.name);
        check::time_zone(&mut e, "time_zone", &self.time_zone);
        check::locale(&mut e, "locale", &self.locale);
        e.finish()
    }

    fn normalize(&mut self) {
        if let Some(tz) = check::canonical_time_zone(&self.time_zone) {
            self.time_zone = tz;
        }
        if let Some(l) = check::canonical_locale(&self.locale) {
            self.locale = l;
        }
    }
}

impl Resource for TenantSettings {
    const KIND: &'static str = Self::KIND;
    fn name(&self) -> &str {
        &self.name
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse;
    use crate::test_util::{fields_rules, round_trip};

    #[test]
    fn parses_and_normalises() {
        let t: TenantSettings =
            parse(br#"{"name": "Acme", "time_zone": "europe/moscow", "locale": "RU"}"#).unwrap();
        assert_eq!(t.time_zone, "Europe/Moscow");
        assert_eq!(t.locale, "ru");
        let t: TenantSettings = parse(br#"{"name": "Acme", "time_zone": "UTC"}"#).unwrap();
        assert_eq!(t.locale, "en");
        round_trip(&t);
    }

    #[test]
    fn reports_every_bad_field() {
        let errs = parse::<TenantSettings>(
            br#"{"name": "", "time_zone": "Moon/Base", "locale": "en_US"}"#,
        )
        .unwrap_err();
        assert_eq!(
            fields_rules(&errs),
            [
                ("name", "required"),
                ("time_zone", "timezone"),
                ("locale", "format")
            ]
        );
    }

    #[test]
    fn status_is_not_client_settable() {
        let errs =
            parse::<TenantSettings>(br#"{"name": "Acme", "time_zone": "UTC", "status": "active"}"#)
                .unwrap_err();
        assert_eq!(fields_rules(&errs), [("status", "unknown_field")]);
        assert_eq!(
            serde_json::to_value(TenantStatus::Suspended).unwrap(),
            "suspended"
        );
    }
}

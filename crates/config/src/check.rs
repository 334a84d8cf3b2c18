//! Field checks shared by the resources: names, ids, numbers, e-mail addresses, time
//! zones, locales, list sizes. Each records what is wrong into [`Errors`] under the
//! field path it is given.

use crate::error::{Errors, rule};
use crate::number::{is_e164, normalize_number};

/// Longest display name, in characters.
pub const MAX_NAME_CHARS: usize = 200;

/// Longest identifier, in bytes (the same bound as `hotline_core::ids`).
pub const MAX_ID_LEN: usize = hotline_core::ids::MAX_ID_LEN;

/// A display name: not blank, at most [`MAX_NAME_CHARS`], no control characters.
pub(crate) fn name(e: &mut Errors, field: &str, value: &str) {
    if value.trim().is_empty() {
        e.add(field, rule::REQUIRED, "name must not be empty");
    } else if value.chars().count() > MAX_NAME_CHARS {
        e.add(
            field,
            rule::LENGTH,
            format!("name is longer than {MAX_NAME_CHARS} characters"),
        );
    } else if value.chars().any(char::is_control) {
        e.add(field, rule::FORMAT, "name contains control characters");
    }
}

/// An identifier of another resource (or a skill name), by the rules of
/// `hotline_core::ids`: 1 to 64 bytes of ASCII letters, digits, `.`, `_`, `-`, starting
/// with a letter or digit. `what` names it in the message ("queue id").
pub(crate) fn id(e: &mut Errors, field: &str, what: &str, value: &str) {
    if value.is_empty() {
        e.add(field, rule::REQUIRED, format!("{what} must not be empty"));
    } else if value.len() > MAX_ID_LEN {
        e.add(
            field,
            rule::LENGTH,
            format!("{what} is longer than {MAX_ID_LEN} bytes"),
        );
    } else if let Some(c) = value
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
    {
        e.add(
            field,
            rule::FORMAT,
            format!("{what} contains {c:?}; allowed are ASCII letters, digits, '-', '_' and '.'"),
        );
    } else if !value.starts_with(|c: char| c.is_ascii_alphanumeric()) {
        e.add(
            field,
            rule::FORMAT,
            format!("{what} must start with an ASCII letter or digit"),
        );
    }
}

/// Whether `value` is a valid identifier: 1 to 64 bytes of ASCII letters, digits, `.`,
/// `_` and `-`, starting with a letter or digit (the rules of `hotline_core::ids`).
pub fn is_valid_id(value: &str) -> bool {
    let mut e = Errors::default();
    id(&mut e, "", "id", value);
    e.finish().is_ok()
}

/// A number within `min..=max`; `unit` follows the bounds in the message ("seconds").
pub(crate) fn range(e: &mut Errors, field: &str, value: u32, min: u32, max: u32, unit: &str) {
    if value < min || value > max {
        let unit = if unit.is_empty() {
            String::new()
        } else {
            format!(" {unit}")
        };
        e.add(
            field,
            rule::RANGE,
            format!("{value} is out of range: must be from {min} to {max}{unit}"),
        );
    }
}

/// A list of at most `max` items.
pub(crate) fn count(e: &mut Errors, field: &str, len: usize, max: usize) {
    if len > max {
        e.add(
            field,
            rule::LENGTH,
            format!("{len} items is too many: at most {max} are allowed"),
        );
    }
}

/// A phone number in E.164 form (`+` and 1 to 15 digits, the first not 0).
pub(crate) fn e164(e: &mut Errors, field: &str, value: &str) {
    if is_e164(value) {
        return;
    }
    let message = match normalize_number(value) {
        Err(err) => err.to_string(),
        Ok(n) => format!("number must be written in E.164 form: {n}"),
    };
    e.add(field, rule::FORMAT, message);
}

/// An e-mail address, loosely: `local@domain.tld`, no spaces, at most 254 bytes.
/// Deliverability is the mail server's business; this catches typos and garbage.
pub(crate) fn email(e: &mut Errors, field: &str, value: &str) {
    if value.is_empty() {
        e.add(field, rule::REQUIRED, "e-mail address must not be empty");
        return;
    }
    if value.len() > 254 {
        e.add(
            field,
            rule::LENGTH,
            "e-mail address is longer than 254 bytes",
        );
        return;
    }
    let ok = match value.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && !domain.contains('@')
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !domain.contains("..")
                && !value.chars().any(|c| c.is_whitespace() || c.is_control())
        }
        None => false,
    };
    if !ok {
        e.add(
            field,
            rule::FORMAT,
            format!("{value:?} is not an e-mail address"),
        );
    }
}

/// The IANA database compiled into jiff, never the machine's `/usr/share/zoneinfo`:
/// the answer must not depend on where the api runs (nor on another crate of the
/// workspace turning on jiff's system-database features, which `jiff::tz::db()` would
/// then follow).
static TZDB: std::sync::LazyLock<jiff::tz::TimeZoneDatabase> =
    std::sync::LazyLock::new(jiff::tz::TimeZoneDatabase::bundled);

/// Looks a zone up in the bundled IANA database (case-insensitively) and returns its
/// name as the database spells it.
pub(crate) fn canonical_time_zone(value: &str) -> Option<String> {
    // jiff answers `Etc/Unknown` (a CLDR placeholder, not an IANA zone) with a zone.
    if value.eq_ignore_ascii_case("Etc/Unknown") {
        return None;
    }
    let tz = TZDB.get(value).ok()?;
    tz.iana_name().map(str::to_owned)
}

/// An IANA time-zone name that exists, spelled as the database spells it.
pub(crate) fn time_zone(e: &mut Errors, field: &str, value: &str) {
    if value.is_empty() {
        e.add(field, rule::REQUIRED, "time zone must not be empty");
        return;
    }
    match canonical_time_zone(value) {
        Some(canon) if canon == value => {}
        Some(canon) => e.add(
            field,
            rule::TIMEZONE,
            format!("time zone must be written {canon:?}"),
        ),
        None => e.add(
            field,
            rule::TIMEZONE,
            format!(
                "{:?} is not an IANA time zone (e.g. \"Europe/Moscow\", \"UTC\")",
                truncate(value)
            ),
        ),
    }
}

/// Canonical spelling of a locale tag of the shape [`locale`] accepts, else `None`:
/// language lowercase, script title case, region uppercase.
pub(crate) fn canonical_locale(value: &str) -> Option<String> {
    let mut parts = value.split('-');
    let lang = parts.next()?;
    if !(2..=3).contains(&lang.len()) || !lang.bytes().all(|b| b.is_ascii_alphabetic()) {
        return None;
    }
    let mut out = lang.to_ascii_lowercase();
    let mut rest: Vec<&str> = parts.collect();
    if rest.len() > 2 {
        return None;
    }
    if let Some(script) = rest.first().copied()
        && script.len() == 4
        && script.bytes().all(|b| b.is_ascii_alphabetic())
    {
        let mut s = script.to_ascii_lowercase();
        s[..1].make_ascii_uppercase();
        out.push('-');
        out.push_str(&s);
        rest.remove(0);
    }
    match rest.as_slice() {
        [] => {}
        [region] => {
            let alpha = region.len() == 2 && region.bytes().all(|b| b.is_ascii_alphabetic());
            let numeric = region.len() == 3 && region.bytes().all(|b| b.is_ascii_digit());
            if !(alpha || numeric) {
                return None;
            }
            out.push('-');
            out.push_str(&region.to_ascii_uppercase());
        }
        _ => return None,
    }
    Some(out)
}

/// A BCP 47 language tag of the common shapes: `en`, `ru`, `en-US`, `zh-Hant-TW`,
/// `es-419` (language, optional script, optional region), in canonical case.
pub(crate) fn locale(e: &mut Errors, field: &str, value: &str) {
    match canonical_locale(value) {
        Some(c) if c == value => {}
        Some(c) => e.add(field, rule::FORMAT, format!("locale must be written {c:?}")),
        None => e.add(
            field,
            rule::FORMAT,
            format!(
                "{:?} is not a language tag such as \"en\", \"ru\" or \"en-US\"",
                truncate(value)
            ),
        ),
    }
}

/// Echoing a client's value in a message is useful, echoing a megabyte is not.
pub(crate) fn truncate(value: &str) -> String {
    const MAX: usize = 64;
    if value.chars().count() <= MAX {
        value.to_owned()
    } else {
        let mut s: String = value.chars().take(MAX).collect();
        s.push('…');
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(f: impl FnOnce(&mut Errors)) -> Vec<String> {
        let mut e = Errors::default();
        f(&mut e);
        e.finish()
            .err()
            .unwrap_or_default()
            .into_iter()
            .map(|e| e.rule)
            .collect()
    }

    #[test]
    fn names() {
        assert!(rules(|e| name(e, "name", "Support")).is_empty());
        assert_eq!(rules(|e| name(e, "name", "  ")), ["required"]);
        assert_eq!(rules(|e| name(e, "name", &"x".repeat(201))), ["length"]);
        assert_eq!(rules(|e| name(e, "name", "a\u{0}b")), ["format"]);
    }

    #[test]
    fn ids_follow_core_rules() {
        for ok in ["a", "sales", "Q-1_x.y", &"a".repeat(64)] {
            assert!(is_valid_id(ok), "{ok}");
            assert!(hotline_core::QueueId::new(ok).is_ok());
        }
        for bad in ["", "-a", ".x", "a b", "a/b", "ä", &"a".repeat(65)] {
            assert!(!is_valid_id(bad), "{bad}");
            assert!(hotline_core::QueueId::new(bad).is_err());
        }
    }

    #[test]
    fn ranges_and_counts() {
        assert!(rules(|e| range(e, "x", 5, 1, 10, "seconds")).is_empty());
        assert_eq!(rules(|e| range(e, "x", 0, 1, 10, "seconds")), ["range"]);
        assert_eq!(rules(|e| range(e, "x", 11, 1, 10, "")), ["range"]);
        assert_eq!(rules(|e| count(e, "x", 3, 2)), ["length"]);
    }

    #[test]
    fn emails() {
        assert!(rules(|e| email(e, "email", "ops@acme.example")).is_empty());
        for bad in [
            "ops", "ops@", "@acme.ru", "a@b", "a b@c.d", "a@b..c", "a@@b.c",
        ] {
            assert_eq!(rules(|e| email(e, "email", bad)), ["format"], "{bad}");
        }
        assert_eq!(rules(|e| email(e, "email", "")), ["required"]);
    }

    #[test]
    fn time_zones_come_from_the_bundled_database() {
        assert!(rules(|e| time_zone(e, "tz", "Europe/Moscow")).is_empty());
        assert!(rules(|e| time_zone(e, "tz", "UTC")).is_empty());
        assert!(rules(|e| time_zone(e, "tz", "America/Argentina/Buenos_Aires")).is_empty());
        assert_eq!(rules(|e| time_zone(e, "tz", "Mars/Olympus")), ["timezone"]);
        assert_eq!(rules(|e| time_zone(e, "tz", "+03:00")), ["timezone"]);
        assert_eq!(rules(|e| time_zone(e, "tz", "Etc/Unknown")), ["timezone"]);
        assert_eq!(
            rules(|e| time_zone(e, "tz", "../../etc/passwd")),
            ["timezone"]
        );
        assert_eq!(rules(|e| time_zone(e, "tz", "europe/moscow")), ["timezone"]);
        assert_eq!(
            canonical_time_zone("europe/moscow").as_deref(),
            Some("Europe/Moscow")
        );
        assert_eq!(rules(|e| time_zone(e, "tz", "")), ["required"]);
    }

    #[test]
    fn locales() {
        for ok in ["en", "ru", "en-US", "zh-Hant-TW", "es-419", "kk"] {
            assert!(rules(|e| locale(e, "locale", ok)).is_empty(), "{ok}");
        }
        for bad in [
            "", "e", "english", "en_US", "en-", "en-USA", "12", "en-US-x",
        ] {
            assert_eq!(rules(|e| locale(e, "locale", bad)), ["format"], "{bad}");
        }
        assert_eq!(canonical_locale("EN-us").as_deref(), Some("en-US"));
        assert_eq!(
            canonical_locale("zh-hant-tw").as_deref(),
            Some("zh-Hant-TW")
        );
        assert_eq!(rules(|e| locale(e, "locale", "en-us")), ["format"]);
    }
}

//! Phone numbers. Everything Hotline stores is E.164 (`+` and up to 15 digits); people
//! write numbers with spaces and dashes, and in Russia with the domestic trunk prefix
//! `8` (`8-800-555-35-35`, the toll-free form every Russian hotline advertises), which
//! [`normalize_number`] turns into E.164.

use crate::error::NumberError;

/// Most digits an E.164 number has.
pub const E164_MAX_DIGITS: usize = 15;

/// Whether `s` is an E.164 number: `+`, then 1 to 15 digits, the first not 0.
pub fn is_e164(s: &str) -> bool {
    let Some(digits) = s.strip_prefix('+') else {
        return false;
    };
    (1..=E164_MAX_DIGITS).contains(&digits.len())
        && digits.bytes().all(|b| b.is_ascii_digit())
        && !digits.starts_with('0')
}

/// Turns a phone number as people write it into E.164.
///
/// - Separators are dropped: spaces, `-`, `.`, `(` and `)`
///   (`+7 (495) 123-45-67` → `+74951234567`).
/// - `+` and digits is international already; it must have 1 to 15 digits, the first
///   not 0.
/// - Eleven digits starting with `8` are a Russian (or Kazakh) number with the domestic
///   trunk prefix: `8` becomes `+7` (`8-800-555-35-35` → `+78005553535`, the toll-free
///   range; `8 495 123 45 67` → `+74951234567`).
/// - Anything else without `+` is refused: without a country code a number is ambiguous.
///
/// The result satisfies [`is_e164`].
pub fn normalize_number(input: &str) -> Result<String, NumberError> {
    let mut plus = false;
    let mut digits = String::with_capacity(input.len());
    for (i, c) in input.trim().char_indices() {
        match c {
            '0'..='9' => digits.push(c),
            ' ' | '-' | '.' | '(' | ')' => {}
            '+' if i == 0 => plus = true,
            other => return Err(NumberError::BadChar(other)),
        }
    }
    if digits.is_empty() {
        return Err(NumberError::Empty);
    }
    if !plus {
        match digits.strip_prefix('8') {
            Some(national) if digits.len() == 11 => digits = format!("7{national}"),
            _ => return Err(NumberError::NoCountryCode),
        }
    }
    if digits.starts_with('0') {
        return Err(NumberError::LeadingZero);
    }
    if digits.len() > E164_MAX_DIGITS {
        return Err(NumberError::TooLong(digits.len()));
    }
    Ok(format!("+{digits}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn e164_shape() {
        assert!(is_e164("+78005553535"));
        assert!(is_e164("+1"));
        assert!(is_e164("+123456789012345"));
        assert!(!is_e164("+1234567890123456"));
        assert!(!is_e164("+0123"));
        assert!(!is_e164("+"));
        assert!(!is_e164("78005553535"));
        assert!(!is_e164("+7 800"));
    }

    #[test]
    fn russian_toll_free_and_trunk_prefix() {
        for written in [
            "8-800-555-35-35",
            "8 800 555 35 35",
            "8 (800) 555-35-35",
            "+7 (800) 555-35-35",
            "+78005553535",
            "  88005553535 ",
        ] {
            assert_eq!(
                normalize_number(written).as_deref(),
                Ok("+78005553535"),
                "{written}"
            );
        }
        assert_eq!(
            normalize_number("8 495 123-45-67").as_deref(),
            Ok("+74951234567")
        );
    }

    #[test]
    fn refuses_what_it_cannot_place() {
        assert_eq!(normalize_number(""), Err(NumberError::Empty));
        assert_eq!(normalize_number(" - "), Err(NumberError::Empty));
        assert_eq!(
            normalize_number("4951234567"),
            Err(NumberError::NoCountryCode)
        );
        assert_eq!(
            normalize_number("8800555353"),
            Err(NumberError::NoCountryCode)
        );
        assert_eq!(normalize_number("+0123"), Err(NumberError::LeadingZero));
        assert_eq!(normalize_number("+7800x"), Err(NumberError::BadChar('x')));
        assert_eq!(normalize_number("7+800"), Err(NumberError::BadChar('+')));
        assert_eq!(
            normalize_number("+1234567890123456"),
            Err(NumberError::TooLong(16))
        );
    }

    proptest! {
        #[test]
        fn output_is_always_e164_and_stable(s in "[+0-9 ()x.-]{0,24}") {
            if let Ok(n) = normalize_number(&s) {
                prop_assert!(is_e164(&n), "{n}");
                prop_assert_eq!(normalize_number(&n), Ok(n.clone()));
            }
        }
    }
}

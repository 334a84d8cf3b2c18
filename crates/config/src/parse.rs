//! From request body to validated resource: [`parse`] deserialises with the field path
//! tracked, so that bad JSON, wrong types, unknown and missing fields all come back as
//! [`ValidationError`]s naming the field, then normalises and validates.

use serde::de::DeserializeOwned;

use crate::error::{ValidationError, join, rule};

/// A resource that can check itself.
pub trait Validate {
    /// Checks every rule and reports every broken one (not only the first).
    fn validate(&self) -> Result<(), Vec<ValidationError>>;

    /// Rewrites accepted alternative spellings into the one stored form before
    /// validation: `8-800-555-35-35` → `+78005553535`, `europe/moscow` →
    /// `Europe/Moscow`, `en-us` → `en-US`. [`parse`] calls it; values it cannot make
    /// sense of are left alone for [`Validate::validate`] to report. Default: nothing.
    fn normalize(&mut self) {}
}

/// Parses a request body into a resource, normalises it and validates it.
///
/// Every failure is a list of [`ValidationError`]s: a syntax error or a wrong, unknown,
/// missing or duplicate field gives one error naming the field (deserialisation stops at
/// the first), a body that deserialises but breaks rules gives one error per broken rule.
/// Never panics, whatever the input.
pub fn parse<T: DeserializeOwned + Validate>(json: &[u8]) -> Result<T, Vec<ValidationError>> {
    let mut value: T = deserialize(json).map_err(|e| vec![e])?;
    value.normalize();
    value.validate()?;
    Ok(value)
}

/// Deserialises a stored document without normalising or validating it, with the same
/// error mapping as [`parse`]. For reading back what was saved (stored documents may
/// predate a newer rule and must still load).
pub fn parse_stored<T: DeserializeOwned>(json: &[u8]) -> Result<T, ValidationError> {
    deserialize(json)
}

fn deserialize<T: DeserializeOwned>(json: &[u8]) -> Result<T, ValidationError> {
    // serde would also read a struct from an array of its fields in order; a resource
    // body is an object, and saying so beats "invalid length 0, expected struct Queue".
    match json.iter().find(|b| !b.is_ascii_whitespace()) {
        Some(b'{') | None => {}
        Some(_) => {
            return Err(ValidationError::new(
                "",
                rule::TYPE,
                "the body must be a JSON object",
            ));
        }
    }
    let mut de = serde_json::Deserializer::from_slice(json);
    let value = serde_path_to_error::deserialize(&mut de)?;
    // Trailing bytes after the document are an error, not something to ignore.
    de.end().map_err(|e| from_json_error(&e, ""))?;
    Ok(value)
}

impl From<serde_path_to_error::Error<serde_json::Error>> for ValidationError {
    fn from(err: serde_path_to_error::Error<serde_json::Error>) -> Self {
        let path = err.path().to_string();
        // serde_path_to_error writes "." for the root and "?" where it lost track.
        let path = if path == "." || path == "?" {
            ""
        } else {
            path.as_str()
        };
        from_json_error(err.inner(), path)
    }
}

/// Maps a serde_json error at `path` to a field, a rule and a message. serde's messages
/// are stable text ("missing field `x`"), which is what tells the cases apart.
fn from_json_error(err: &serde_json::Error, path: &str) -> ValidationError {
    let full = err.to_string();
    if !err.is_data() {
        // Syntax and end-of-input errors: the position is the useful part. serde_json
        // says "EOF while parsing…"; messages here are lowercase.
        let full = match full.strip_prefix("EOF") {
            Some(rest) => format!("end of input{rest}"),
            None => full,
        };
        return ValidationError::new(path, rule::SYNTAX, full);
    }
    let position = format!(" at line {} column {}", err.line(), err.column());
    let message = full.strip_suffix(&position).unwrap_or(&full).to_owned();
    let named = quoted(&message);

    // `path` already ends at an unknown field's key, except inside an internally tagged
    // variant, where it stops at the enum; it stops at the struct for a missing field.
    let ends_with = |name: &str| path.rsplit(['.', ']']).next() == Some(name);
    let unknown = |name: Option<&str>| match name {
        Some(n) if !ends_with(n) => join(path, n),
        _ => path.to_owned(),
    };
    let inside = |name: Option<&str>| name.map_or_else(|| path.to_owned(), |n| join(path, n));

    let (field, rule) = if message.starts_with("missing field") {
        (inside(named), rule::REQUIRED)
    } else if message.starts_with("unknown field") {
        (unknown(named), rule::UNKNOWN_FIELD)
    } else if message.starts_with("duplicate field") {
        (inside(named), rule::DUPLICATE)
    } else if message.starts_with("duplicate key") {
        (unknown(named), rule::DUPLICATE)
    } else if message.starts_with("unknown variant") {
        (path.to_owned(), rule::ENUM)
    } else if message.starts_with("invalid type") {
        (path.to_owned(), rule::TYPE)
    } else if message.starts_with("invalid value: integer")
        || message.starts_with("invalid value: floating")
        || message.starts_with("number out of range")
    {
        (path.to_owned(), rule::RANGE)
    } else if message.starts_with("invalid length") {
        (path.to_owned(), rule::LENGTH)
    } else {
        // Our own deserialisers (times of day, event filters) report shape errors.
        (path.to_owned(), rule::FORMAT)
    };
    ValidationError::new(field, rule, message)
}

/// The first `backquoted` word of a serde message: the field name.
fn quoted(message: &str) -> Option<&str> {
    let start = message.find('`')? + 1;
    let len = message.get(start..)?.find('`')?;
    message.get(start..start + len)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_body_must_be_an_object() {
        #[derive(Debug, serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Unit {}
        impl Validate for Unit {
            fn validate(&self) -> Result<(), Vec<ValidationError>> {
                Ok(())
            }
        }
        for body in [&b"[]"[..], b" 12", b"\"x\"", b"null"] {
            let errs = parse::<Unit>(body).unwrap_err();
            assert_eq!(
                (errs[0].field.as_str(), errs[0].rule.as_str()),
                ("", "type")
            );
        }
        assert!(parse::<Unit>(b" {} ").is_ok());
        let errs = parse::<Unit>(b"").unwrap_err();
        assert_eq!(errs[0].rule, "syntax");
        assert_eq!(
            errs[0].message,
            "end of input while parsing a value at line 1 column 0"
        );
        assert_eq!(parse::<Unit>(b"{} {}").unwrap_err()[0].rule, "syntax");
        assert_eq!(
            parse::<Unit>(b"{\"a\": 1}").unwrap_err()[0].rule,
            "unknown_field"
        );
    }

    #[test]
    fn quoted_finds_the_first_backquoted_word() {
        assert_eq!(quoted("missing field `name`"), Some("name"));
        assert_eq!(quoted("unknown field `x`, expected `a`"), Some("x"));
        assert_eq!(quoted("no quote"), None);
        assert_eq!(quoted("dangling `quote"), None);
    }
}

//! Prompts: recorded announcements a tenant uploads (greetings, menus, hold music, the
//! recording notice). This is the metadata; the audio itself lives in the object store.

use serde::{Deserialize, Serialize};

use crate::check;
use crate::error::{Errors, ValidationError, rule};
use crate::parse::Validate;
use crate::resource::Resource;

/// A tenant's uploaded prompt.
///
/// `audio` describes the stored audio and is set by the api from the upload itself,
/// never taken from a client's body (a client could otherwise point its prompt at
/// another tenant's object): on every write the api replaces it with what it stored.
///
/// ```json
/// {"name": "Welcome", "language": "ru",
///  "audio": {"object_key": "prompts/welcome.wav", "duration_ms": 4200, "sample_rate": 8000}}
/// ```
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Prompt {
    /// Display name.
    pub name: String,
    /// Language of the recording, a BCP 47 tag (`ru`, `en-US`).
    pub language: String,
    /// The stored audio; `None` until uploaded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audio: Option<PromptAudio>,
}

/// Where a prompt's audio is and what it is: mono 16-bit PCM WAV, at 8 kHz (telephony)
/// or 16 kHz (wideband), resampled on upload if needed.
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PromptAudio {
    /// Object-store key, relative to the tenant's own prefix (`hotline-objects` puts
    /// every key under `tenants/<tenant>/`, so no key can name another tenant's object):
    /// `/`-separated segments of ASCII letters, digits, `.`, `_`, `-`, each starting with a
    /// letter or digit and at most 200 bytes, 512 bytes in all.
    pub object_key: String,
    /// Length of the audio, in milliseconds.
    pub duration_ms: u32,
    /// Samples per second: 8000 or 16000.
    pub sample_rate: u32,
}

impl Prompt {
    /// Resource kind.
    pub const KIND: &'static str = "prompt";
    /// Sample rates a stored prompt may have.
    pub const SAMPLE_RATES: [u32; 2] = [8000, 16000];
    /// Longest prompt (hold music loops), in milliseconds: one hour.
    pub const MAX_DURATION_MS: u32 = 3_600_000;
}

impl Validate for Prompt {
    fn validate(&self) -> Result<(), Vec<ValidationError>> {
        let mut e = Errors::default();
        check::name(&mut e, "name", &self.name);
        check::locale(&mut e, "language", &self.language);
        if let Some(a) = &self.audio {
            check_object_key(&mut e, "audio.object_key", &a.object_key);
            check::range(
                &mut e,
                "audio.duration_ms",
                a.duration_ms,
                1,
                Prompt::MAX_DURATION_MS,
                "ms",
            );
            if !Prompt::SAMPLE_RATES.contains(&a.sample_rate) {
                e.add(
                    "audio.sample_rate",
                    rule::RANGE,
                    format!("sample rate {} Hz is not 8000 or 16000", a.sample_rate),
                );
            }
        }
        e.finish()
    }

    fn normalize(&mut self) {
        if let Some(l) = check::canonical_locale(&self.language) {
            self.language = l;
        }
    }
}

fn check_object_key(e: &mut Errors, field: &str, key: &str) {
    if key.is_empty() {
        e.add(field, rule::REQUIRED, "object key must not be empty");
    } else if key.len() > 512 {
        e.add(field, rule::LENGTH, "object key is longer than 512 bytes");
    } else if !key.split('/').all(segment_ok) {
        e.add(
            field,
            rule::FORMAT,
            "object key must be '/'-separated segments of ASCII letters, digits, '.', '_' and '-', each starting with a letter or digit",
        );
    }
}

/// One segment of a key: the id alphabet, starting with a letter or digit (so never `.`
/// or `..`), at most 200 bytes (the bounds of `hotline_objects::validate_key`).
fn segment_ok(seg: &str) -> bool {
    (1..=200).contains(&seg.len())
        && seg.starts_with(|c: char| c.is_ascii_alphanumeric())
        && seg
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

impl Resource for Prompt {
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
    fn metadata_with_and_without_audio() {
        let p: Prompt = parse(br#"{"name": "Welcome", "language": "ru"}"#).unwrap();
        assert_eq!(p.audio, None);
        round_trip(&p);
        let p: Prompt = parse(
            br#"{"name": "Welcome", "language": "ru",
                 "audio": {"object_key": "prompts/welcome.wav", "duration_ms": 4200, "sample_rate": 8000}}"#,
        )
        .unwrap();
        round_trip(&p);
    }

    #[test]
    fn bad_audio_is_named_field_by_field() {
        let errs = parse::<Prompt>(
            br#"{"name": "W", "language": "xx-yyyy-zz-q",
                 "audio": {"object_key": "../etc/passwd", "duration_ms": 0, "sample_rate": 44100}}"#,
        )
        .unwrap_err();
        assert_eq!(
            fields_rules(&errs),
            [
                ("language", "format"),
                ("audio.object_key", "format"),
                ("audio.duration_ms", "range"),
                ("audio.sample_rate", "range"),
            ]
        );
        let long_segment = format!("a/{}", "x".repeat(201));
        for bad in [
            "/abs",
            "a//b",
            "a/",
            "a/.hidden",
            "a b",
            "a/../b",
            &long_segment,
        ] {
            let mut e = Errors::default();
            check_object_key(&mut e, "k", bad);
            assert!(e.finish().is_err(), "{bad}");
        }
    }
}

//! Events about a tenant's configuration. They carry no call id and no subject, so they
//! travel keyed by the tenant alone (see [`Event::key`](crate::Event::key)): one
//! tenant's configuration changes stay in the order they were made.

use hotline_proto::v1 as pb;

use super::non_empty;
use crate::events::DecodeError;

/// A tenant's configuration changed: a resource was created, replaced or deleted through
/// the API. Services that cache configuration refresh the named resource.
///
/// `deleted` and `version` are written together (a delete carries version 0, a write the
/// version it produced), but decoding does not insist that they agree: a consumer only
/// needs `kind` and `id` to know what to refresh, and a future producer (say, one that
/// keeps the last version of a deleted resource) should not get its events parked. Only
/// a negative version, which no ETag can be, is rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigChanged {
    /// The resource type, e.g. `queue`, `agent`, `ivr-menu`, `tenant`, `api-key`: never
    /// empty, at most [`MAX_KIND_LEN`](Self::MAX_KIND_LEN) bytes of `[a-z0-9-]`.
    pub kind: String,
    /// The resource id: never empty, at most [`MAX_ID_LEN`](Self::MAX_ID_LEN) bytes, no
    /// control characters.
    pub id: String,
    /// The resource's version after the change (its ETag); 0 when deleted. Never negative.
    pub version: i64,
    /// Whether the resource was deleted.
    pub deleted: bool,
}

impl ConfigChanged {
    /// Longest `kind`, in bytes.
    pub const MAX_KIND_LEN: usize = 64;
    /// Longest `id`, in bytes.
    pub const MAX_ID_LEN: usize = 128;
}

impl TryFrom<pb::ConfigChanged> for ConfigChanged {
    type Error = DecodeError;
    fn try_from(m: pb::ConfigChanged) -> Result<Self, DecodeError> {
        Ok(Self {
            kind: kind(m.kind)?,
            id: resource_id(m.id)?,
            version: version(m.version)?,
            deleted: m.deleted,
        })
    }
}

impl From<ConfigChanged> for pb::ConfigChanged {
    fn from(m: ConfigChanged) -> Self {
        Self {
            kind: m.kind,
            id: m.id,
            version: m.version,
            deleted: m.deleted,
        }
    }
}

fn invalid(field: &'static str, reason: String) -> DecodeError {
    DecodeError::InvalidField { field, reason }
}

fn kind(s: String) -> Result<String, DecodeError> {
    let s = non_empty("kind", s)?;
    if s.len() > ConfigChanged::MAX_KIND_LEN {
        return Err(invalid(
            "kind",
            format!("longer than {} bytes", ConfigChanged::MAX_KIND_LEN),
        ));
    }
    if let Some(found) = s
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-'))
    {
        return Err(invalid(
            "kind",
            format!("contains {found:?}; allowed are a-z, 0-9 and '-'"),
        ));
    }
    Ok(s)
}

fn resource_id(s: String) -> Result<String, DecodeError> {
    let s = non_empty("id", s)?;
    if s.len() > ConfigChanged::MAX_ID_LEN {
        return Err(invalid(
            "id",
            format!("longer than {} bytes", ConfigChanged::MAX_ID_LEN),
        ));
    }
    if let Some(found) = s.chars().find(|c| c.is_control()) {
        return Err(invalid(
            "id",
            format!("contains control character {found:?}"),
        ));
    }
    Ok(s)
}

fn version(v: i64) -> Result<i64, DecodeError> {
    if v < 0 {
        Err(invalid("version", format!("{v} is negative")))
    } else {
        Ok(v)
    }
}

//! API keys and idempotency records: what the `api` service needs to authenticate a
//! request and to answer a retried create with the first answer.
//!
//! The store never sees a key's secret: the caller hashes it (SHA-256 of a high-entropy
//! random secret, so a lookup by hash is possible and a salt is not needed) and the store
//! keeps and looks up the 32-byte hash.

use std::fmt;
use std::time::SystemTime;

use hotline_core::TenantId;

use crate::{Error, Result, check_text, from_micros, validate_key};

/// Longest API key label, in characters.
pub const MAX_LABEL_CHARS: usize = 256;

/// Longest idempotency key, in characters.
pub const MAX_IDEMPOTENCY_KEY_CHARS: usize = 255;

/// Largest stored idempotent response body, in bytes.
pub const MAX_RESPONSE_BYTES: usize = 1 << 20;

/// The roles an API key may have (the API's vocabulary, enforced here and by a CHECK
/// constraint so no other value is ever stored).
pub const API_KEY_ROLES: &[&str] = &["admin", "supervisor", "agent", "readonly"];

/// A new API key of a tenant.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKeyNew {
    /// Public identifier (shown in listings, used to revoke); same alphabet as ids.
    pub id: String,
    pub tenant: TenantId,
    /// SHA-256 of the secret, computed by the caller; unique platform-wide.
    pub hash: [u8; 32],
    /// One of [`API_KEY_ROLES`].
    pub role: String,
    /// Free text for people (may be empty).
    pub label: String,
}

/// A stored API key. `hash` is included for internal use; do not put it in responses.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey {
    pub id: String,
    pub tenant: TenantId,
    pub hash: [u8; 32],
    /// One of [`API_KEY_ROLES`].
    pub role: String,
    pub label: String,
    pub created_at: SystemTime,
    /// Set once, by the first revocation.
    pub revoked_at: Option<SystemTime>,
    /// Best effort (see [`crate::Store::touch_api_key`]).
    pub last_used_at: Option<SystemTime>,
}

impl ApiKey {
    /// Whether the key may still authenticate requests.
    pub fn is_active(&self) -> bool {
        self.revoked_at.is_none()
    }
}

// The hash identifies a secret: keep it out of logs.
impl fmt::Debug for ApiKeyNew {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiKeyNew")
            .field("id", &self.id)
            .field("tenant", &self.tenant)
            .field("hash", &"<redacted>")
            .field("role", &self.role)
            .field("label", &self.label)
            .finish()
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiKey")
            .field("id", &self.id)
            .field("tenant", &self.tenant)
            .field("hash", &"<redacted>")
            .field("role", &self.role)
            .field("label", &self.label)
            .field("created_at", &self.created_at)
            .field("revoked_at", &self.revoked_at)
            .field("last_used_at", &self.last_used_at)
            .finish()
    }
}

/// The first answer to a create carrying an idempotency key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotentResponse {
    /// Hash of the first request, so a different request reusing the key is refused.
    pub request_hash: [u8; 32],
    /// HTTP status of the first answer.
    pub status: u16,
    /// Body of the first answer.
    pub body: String,
    pub created_at: SystemTime,
}

pub(crate) fn validate_new_key(key: &ApiKeyNew) -> Result<()> {
    validate_key("api key id", &key.id)?;
    if !API_KEY_ROLES.contains(&key.role.as_str()) {
        return Err(Error::Invalid {
            what: "api key role",
            reason: format!(
                "{:?} is not one of {}",
                key.role.chars().take(64).collect::<String>(),
                API_KEY_ROLES.join(", ")
            ),
        });
    }
    check_text("api key label", &key.label, MAX_LABEL_CHARS)
}

pub(crate) fn validate_idempotency_key(key: &str) -> Result<()> {
    if key.is_empty() {
        return Err(Error::Invalid {
            what: "idempotency key",
            reason: "is empty".to_owned(),
        });
    }
    check_text("idempotency key", key, MAX_IDEMPOTENCY_KEY_CHARS)
}

pub(crate) fn validate_idempotent_response(status: u16, body: &str) -> Result<()> {
    if !(100..=599).contains(&status) {
        return Err(Error::Invalid {
            what: "response status",
            reason: format!("{status} is not an HTTP status"),
        });
    }
    if body.len() > MAX_RESPONSE_BYTES {
        return Err(Error::Invalid {
            what: "response body",
            reason: format!("is larger than {MAX_RESPONSE_BYTES} bytes"),
        });
    }
    check_text("response body", body, usize::MAX)
}

fn hash_from_db(table: &'static str, what: &str, hash: Vec<u8>) -> Result<[u8; 32]> {
    <[u8; 32]>::try_from(hash.as_slice()).map_err(|_| Error::Corrupt {
        table,
        reason: format!("{what}: hash of {} bytes", hash.len()),
    })
}

/// The columns of an `api_keys` row: id, tenant, hash, role, label, then created,
/// revoked and last-used times in microseconds since the epoch.
pub(crate) type ApiKeyRow = (
    String,
    String,
    Vec<u8>,
    String,
    String,
    i64,
    Option<i64>,
    Option<i64>,
);

pub(crate) fn api_key_from_row(row: ApiKeyRow) -> Result<ApiKey> {
    let (id, tenant, hash, role, label, created_at, revoked_at, last_used_at) = row;
    let corrupt = |reason: String| Error::Corrupt {
        table: "api_keys",
        reason,
    };
    let tenant = TenantId::new(tenant).map_err(|e| corrupt(format!("key {id}: {e}")))?;
    if !API_KEY_ROLES.contains(&role.as_str()) {
        return Err(corrupt(format!("key {id} has unknown role {role:?}")));
    }
    let hash = hash_from_db("api_keys", &format!("key {id}"), hash)?;
    Ok(ApiKey {
        id,
        tenant,
        hash,
        role,
        label,
        created_at: from_micros(created_at),
        revoked_at: revoked_at.map(from_micros),
        last_used_at: last_used_at.map(from_micros),
    })
}

/// The columns of an `idempotency` row: request hash, status, response, created_at.
pub(crate) type IdempotencyRow = (Vec<u8>, i32, String, i64);

pub(crate) fn idempotency_from_row(key: &str, row: IdempotencyRow) -> Result<IdempotentResponse> {
    let (request_hash, status, body, created_at) = row;
    let what = format!("idempotency key {key:?}");
    let status = u16::try_from(status).map_err(|_| Error::Corrupt {
        table: "idempotency",
        reason: format!("{what}: status {status}"),
    })?;
    Ok(IdempotentResponse {
        request_hash: hash_from_db("idempotency", &what, request_hash)?,
        status,
        body,
        created_at: from_micros(created_at),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn new_key(role: &str) -> ApiKeyNew {
        ApiKeyNew {
            id: "k1".to_owned(),
            tenant: TenantId::new("acme").expect("valid"),
            hash: [0xab; 32],
            role: role.to_owned(),
            label: "ci".to_owned(),
        }
    }

    #[test]
    fn only_known_roles_are_accepted() {
        for role in API_KEY_ROLES {
            assert!(validate_new_key(&new_key(role)).is_ok(), "{role}");
        }
        for bad in ["root", "", "Admin", "read-only"] {
            assert!(
                matches!(
                    validate_new_key(&new_key(bad)),
                    Err(Error::Invalid {
                        what: "api key role",
                        ..
                    })
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn debug_never_shows_the_hash() {
        let key = new_key("admin");
        let shown = format!("{key:?}");
        assert!(!shown.contains("171"), "{shown}");
        assert!(!shown.to_lowercase().contains("ab, "), "{shown}");
        assert!(shown.contains("<redacted>"));
    }

    #[test]
    fn responses_are_checked() {
        assert!(validate_idempotent_response(201, "{}").is_ok());
        assert!(validate_idempotent_response(99, "").is_err());
        assert!(validate_idempotent_response(600, "").is_err());
        assert!(validate_idempotent_response(200, "\0").is_err());
        assert!(validate_idempotency_key("").is_err());
        assert!(validate_idempotency_key(&"k".repeat(256)).is_err());
        assert!(validate_idempotency_key("8c5f-retry-1").is_ok());
    }
}

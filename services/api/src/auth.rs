//! Who is calling the API: the provider (with the admin token) or one tenant (with one of
//! its API keys, and that key's role).
//!
//! API keys are 256 random bits shown once at creation (`hlk_<64 hex>`); only their
//! SHA-256 is stored. For high-entropy random secrets a fast hash is as safe as a
//! password hash (there is nothing to brute-force) and lets a key be found by its hash
//! in one indexed lookup. Verified keys are cached for [`CACHE_TTL`], so a revoked key
//! is refused within that time on every replica.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hotline_core::TenantId;
use hotline_runtime::Secret;
use hotline_store::Store;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// How long a verified key is trusted before it is looked up again; bounds how late a
/// revocation takes effect.
pub const CACHE_TTL: Duration = Duration::from_millis(500);

/// Entries kept in the key cache before it is cleared.
const CACHE_MAX: usize = 10_000;

const KEY_PREFIX: &str = "hlk_";

/// What a tenant key may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// Everything in the tenant, including API keys and webhooks.
    Admin,
    /// Configuration and the call log, not keys, webhooks or tenant settings.
    Supervisor,
    /// Read the configuration and the call log (the agent desktop).
    Agent,
    /// Read everything but keys.
    Readonly,
}

impl Role {
    /// Every role, for the API's enum.
    pub const ALL: [Role; 4] = [Role::Admin, Role::Supervisor, Role::Agent, Role::Readonly];

    /// The stored and wire form.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Admin => "admin",
            Self::Supervisor => "supervisor",
            Self::Agent => "agent",
            Self::Readonly => "readonly",
        }
    }

    /// Parses the stored and wire form.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

/// The authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// The SaaS provider: manages tenants, sees no tenant's data through tenant routes.
    Provider,
    /// One tenant, through one key.
    Tenant {
        tenant: TenantId,
        role: Role,
        key_id: String,
    },
}

/// Why a request is not authenticated. Every variant is a 401.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("missing Authorization header; send \"Authorization: Bearer <key>\"")]
    Missing,
    #[error("malformed Authorization header; expected \"Bearer <key>\"")]
    Malformed,
    #[error("unknown API key")]
    Unknown,
    #[error("this API key has been revoked")]
    Revoked,
    #[error("key store unavailable")]
    Unavailable,
}

/// A freshly made API key: the plaintext (shown once) and what is stored.
#[derive(Debug)]
pub struct NewKey {
    pub plaintext: Secret,
    pub hash: [u8; 32],
}

/// Makes a new random API key.
pub fn new_key() -> Result<NewKey, getrandom::Error> {
    let mut raw = [0u8; 32];
    getrandom::fill(&mut raw)?;
    let plaintext = format!("{KEY_PREFIX}{}", hex::encode(raw));
    let hash = hash_key(&plaintext);
    Ok(NewKey {
        plaintext: Secret::new(plaintext),
        hash,
    })
}

/// The stored form of a key.
pub fn hash_key(plaintext: &str) -> [u8; 32] {
    Sha256::digest(plaintext.as_bytes()).into()
}

/// A verdict on a key hash and when it was reached.
type Cached = (Result<Principal, AuthError>, Instant);

/// Checks bearer credentials against the admin token and the tenants' keys.
pub struct Authenticator {
    admin: Secret,
    store: Arc<dyn Store>,
    cache: Mutex<HashMap<[u8; 32], Cached>>,
}

impl std::fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authenticator").finish_non_exhaustive()
    }
}

impl Authenticator {
    /// Authenticates with `admin` as the provider token and `store` for tenant keys.
    pub fn new(admin: Secret, store: Arc<dyn Store>) -> Self {
        Self {
            admin,
            store,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// The caller behind an `Authorization` header value.
    pub async fn authenticate(&self, header: Option<&str>) -> Result<Principal, AuthError> {
        let header = header.ok_or(AuthError::Missing)?;
        let token = header
            .strip_prefix("Bearer ")
            .or_else(|| header.strip_prefix("bearer "))
            .map(str::trim)
            .filter(|t| !t.is_empty() && t.len() <= 256)
            .ok_or(AuthError::Malformed)?;
        if !self.admin.is_empty()
            && bool::from(token.as_bytes().ct_eq(self.admin.expose().as_bytes()))
        {
            return Ok(Principal::Provider);
        }
        let hash = hash_key(token);
        let now = Instant::now();
        if let Ok(cache) = self.cache.lock()
            && let Some((result, at)) = cache.get(&hash)
            && now.duration_since(*at) < CACHE_TTL
        {
            return result.clone();
        }
        let result = match self.store.api_key_by_hash(&hash).await {
            Ok(Some(key)) if key.revoked_at.is_some() => Err(AuthError::Revoked),
            Ok(Some(key)) => match Role::parse(&key.role) {
                Some(role) => Ok(Principal::Tenant {
                    tenant: key.tenant,
                    role,
                    key_id: key.id,
                }),
                None => {
                    tracing::error!(key_id = %key.id, role = %key.role, "stored key has an unknown role");
                    Err(AuthError::Unknown)
                }
            },
            Ok(None) => Err(AuthError::Unknown),
            Err(e) => {
                tracing::error!(error = %e, "api key lookup failed");
                return Err(AuthError::Unavailable);
            }
        };
        if let Ok(mut cache) = self.cache.lock() {
            if cache.len() >= CACHE_MAX {
                cache.clear();
            }
            cache.insert(hash, (result.clone(), now));
        }
        result
    }

    /// Forgets cached verdicts (after a revocation on this replica, to be immediate here).
    pub fn forget_all(&self) {
        if let Ok(mut cache) = self.cache.lock() {
            cache.clear();
        }
    }
}

/// Loads the provider admin token: the configured one, else the one kept in
/// `<data_dir>/admin-token`, else a new one written there (mode 0600) and returned with
/// `true` so the caller prints it once.
pub fn load_or_create_admin_token(
    configured: &Secret,
    data_dir: &std::path::Path,
) -> std::io::Result<(Secret, bool)> {
    if !configured.is_empty() {
        return Ok((configured.clone(), false));
    }
    let path = data_dir.join("admin-token");
    match std::fs::read_to_string(&path) {
        Ok(s) if !s.trim().is_empty() => return Ok((Secret::new(s.trim()), false)),
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    let mut raw = [0u8; 32];
    getrandom::fill(&mut raw).map_err(std::io::Error::other)?;
    let token = format!("hla_{}", hex::encode(raw));
    std::fs::create_dir_all(data_dir)?;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    use std::io::Write;
    let mut f = opts.open(&path)?;
    f.write_all(token.as_bytes())?;
    f.sync_all()?;
    Ok((Secret::new(token), true))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_random_prefixed_and_hash_stably() {
        let a = new_key().unwrap();
        let b = new_key().unwrap();
        assert!(a.plaintext.expose().starts_with("hlk_"));
        assert_eq!(a.plaintext.expose().len(), 4 + 64);
        assert_ne!(a.plaintext.expose(), b.plaintext.expose());
        assert_eq!(hash_key(a.plaintext.expose()), a.hash);
        assert_eq!(format!("{:?}", a.plaintext), "[redacted]");
    }

    #[test]
    fn admin_token_is_generated_once_then_kept() {
        let dir = std::env::temp_dir().join(format!("hotline-admin-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let (t1, fresh1) = load_or_create_admin_token(&Secret::default(), &dir).unwrap();
        let (t2, fresh2) = load_or_create_admin_token(&Secret::default(), &dir).unwrap();
        assert!(fresh1 && !fresh2);
        assert_eq!(t1.expose(), t2.expose());
        let (t3, fresh3) = load_or_create_admin_token(&Secret::new("set"), &dir).unwrap();
        assert_eq!((t3.expose(), fresh3), ("set", false));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.join("admin-token"))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        std::fs::remove_dir_all(&dir).ok();
    }
}

//! The object store: prompts, recordings and voicemail audio.
//!
//! [`Objects`] wraps `object_store` so that every object lives under its tenant's prefix
//! (`tenants/<tenant>/<key>`) and a key can never climb out of it. The local filesystem
//! is the default (`hotline all-in-one` keeps objects under its data directory); S3 (or
//! any S3-compatible store) is the production backend. The same conformance suite runs
//! against both (`tests/conformance.rs`).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::TryStreamExt;
use hotline_core::TenantId;
use object_store::aws::AmazonS3Builder;
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::{ClientOptions, ObjectStore, ObjectStoreExt, PutPayload, RetryConfig};
use tracing::instrument;

/// Errors of the object store.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("object store: {0}")]
    Store(#[from] object_store::Error),
    #[error("invalid object key {key:?}: {reason}")]
    BadKey { key: String, reason: &'static str },
    #[error("object {0:?} not found")]
    NotFound(String),
    /// The tenant id cannot name a directory (`.` and `..` are valid ids but not folders).
    #[error("tenant id {0:?} cannot be used as an object prefix")]
    BadTenant(String),
    /// The local root directory cannot be created or used.
    #[error("object root {}: {source}", path.display())]
    Root {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Result type of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Where objects are kept. `Debug` never prints the credentials.
#[derive(Clone, PartialEq, Eq)]
pub enum ObjectsConfig {
    /// A directory on the local filesystem (created if missing).
    Local { root: std::path::PathBuf },
    /// An S3 bucket (or S3-compatible endpoint).
    S3 {
        bucket: String,
        region: String,
        /// Custom endpoint for S3-compatible stores; empty for AWS.
        endpoint: String,
        access_key_id: String,
        secret_access_key: String,
        /// Plain HTTP endpoints (tests, in-cluster stores).
        allow_http: bool,
    },
}

impl std::fmt::Debug for ObjectsConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Local { root } => f.debug_struct("Local").field("root", root).finish(),
            Self::S3 {
                bucket,
                region,
                endpoint,
                allow_http,
                ..
            } => f
                .debug_struct("S3")
                .field("bucket", bucket)
                .field("region", region)
                .field("endpoint", endpoint)
                .field("access_key_id", &"[redacted]")
                .field("secret_access_key", &"[redacted]")
                .field("allow_http", allow_http)
                .finish(),
        }
    }
}

/// Metadata of a stored object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectMeta {
    /// The key within the tenant (what was passed to `put`).
    pub key: String,
    pub size: u64,
}

/// A tenant-scoped object store.
///
/// Keys are relative paths within the tenant: segments of ASCII letters, digits, `.`,
/// `_` and `-`, separated by `/` (e.g. `recordings/2025/call-1.wav`). Checking them here,
/// before any path is built, is what keeps one tenant's key from naming another tenant's
/// object.
#[derive(Debug, Clone)]
pub struct Objects {
    inner: Arc<dyn ObjectStore>,
}

/// The top-level folder under which every tenant has its own.
const TENANTS: &str = "tenants";

/// Longest key accepted, in bytes.
pub const MAX_KEY_LEN: usize = 512;

/// Longest segment accepted, in bytes: filesystems cap a name at 255 bytes, and the
/// local backend writes through a temporary file named `<segment>#<n>`.
pub const MAX_SEGMENT_LEN: usize = 200;

/// Per-request timeout against a remote store.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Connect timeout against a remote store.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Retries are bounded so that a dead endpoint surfaces within seconds (readiness,
/// callers' own timeouts), not after object_store's default three minutes.
const MAX_RETRIES: usize = 3;
const RETRY_TIMEOUT: Duration = Duration::from_secs(20);

/// Region used when the configuration leaves it empty (what S3-compatible stores expect).
const DEFAULT_REGION: &str = "us-east-1";

impl Objects {
    /// Opens the configured store. A local root is created if missing; S3 is not
    /// contacted until the first request (use [`Objects::ping`] for readiness).
    pub fn open(config: &ObjectsConfig) -> Result<Self> {
        let inner: Arc<dyn ObjectStore> = match config {
            ObjectsConfig::Local { root } => {
                std::fs::create_dir_all(root).map_err(|source| Error::Root {
                    path: root.clone(),
                    source,
                })?;
                // fsync: a recording or voicemail acknowledged as stored must survive a
                // crash, as it would on S3.
                let fs = LocalFileSystem::new_with_prefix(root)?
                    .with_automatic_cleanup(true)
                    .with_fsync(true);
                tracing::info!(root = %root.display(), "local object store ready");
                Arc::new(fs)
            }
            ObjectsConfig::S3 {
                bucket,
                region,
                endpoint,
                access_key_id,
                secret_access_key,
                allow_http,
            } => {
                let region = if region.is_empty() {
                    DEFAULT_REGION
                } else {
                    region.as_str()
                };
                // `with_client_options` replaces all client options, `allow_http`
                // included, so that is set here rather than on the builder.
                let client = ClientOptions::new()
                    .with_allow_http(*allow_http)
                    .with_timeout(REQUEST_TIMEOUT)
                    .with_connect_timeout(CONNECT_TIMEOUT);
                let mut builder = AmazonS3Builder::new()
                    .with_client_options(client)
                    .with_bucket_name(bucket)
                    .with_region(region)
                    .with_access_key_id(access_key_id)
                    .with_secret_access_key(secret_access_key)
                    .with_retry(RetryConfig {
                        max_retries: MAX_RETRIES,
                        retry_timeout: RETRY_TIMEOUT,
                        ..RetryConfig::default()
                    });
                if !endpoint.is_empty() {
                    // Custom endpoints (MinIO, s3s, in-cluster stores) rarely resolve
                    // `<bucket>.<host>`: address the bucket in the path instead.
                    builder = builder
                        .with_endpoint(endpoint)
                        .with_virtual_hosted_style_request(false);
                }
                let s3 = builder.build()?;
                tracing::info!(bucket = %bucket, region, endpoint = %endpoint, "s3 object store ready");
                Arc::new(s3)
            }
        };
        Ok(Self { inner })
    }

    /// Stores `data` at `key`, replacing any object already there.
    #[instrument(name = "objects.put", skip_all, fields(tenant = %tenant, key = %key, size = data.len()))]
    pub async fn put(&self, tenant: &TenantId, key: &str, data: Bytes) -> Result<()> {
        let path = object_path(tenant, key)?;
        self.inner.put(&path, PutPayload::from(data)).await?;
        Ok(())
    }

    /// The object at `key`; `NotFound` when there is none.
    #[instrument(name = "objects.get", skip_all, fields(tenant = %tenant, key = %key))]
    pub async fn get(&self, tenant: &TenantId, key: &str) -> Result<Bytes> {
        let path = object_path(tenant, key)?;
        let found = self.inner.get(&path).await.map_err(|e| not_found(e, key))?;
        found.bytes().await.map_err(|e| not_found(e, key))
    }

    /// The metadata of the object at `key`; `NotFound` when there is none.
    #[instrument(name = "objects.head", skip_all, fields(tenant = %tenant, key = %key))]
    pub async fn head(&self, tenant: &TenantId, key: &str) -> Result<ObjectMeta> {
        let path = object_path(tenant, key)?;
        let meta = self
            .inner
            .head(&path)
            .await
            .map_err(|e| not_found(e, key))?;
        Ok(ObjectMeta {
            key: key.to_owned(),
            size: meta.size,
        })
    }

    /// Deletes the object at `key`. Deleting what is not there succeeds: S3 cannot tell
    /// the difference, and a retried delete must not fail.
    #[instrument(name = "objects.delete", skip_all, fields(tenant = %tenant, key = %key))]
    pub async fn delete(&self, tenant: &TenantId, key: &str) -> Result<()> {
        let path = object_path(tenant, key)?;
        match self.inner.delete(&path).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// The tenant's objects under `prefix`, ordered by key. The prefix is matched on
    /// whole segments: `voicemail` lists `voicemail/a.wav` but not `voicemail-old/a.wav`;
    /// an empty prefix lists all of the tenant's objects.
    #[instrument(name = "objects.list", skip_all, fields(tenant = %tenant, prefix = %prefix))]
    pub async fn list(&self, tenant: &TenantId, prefix: &str) -> Result<Vec<ObjectMeta>> {
        let root = tenant_root(tenant)?;
        let under = if prefix.is_empty() {
            root.clone()
        } else {
            object_path(tenant, prefix)?
        };
        let found: Vec<object_store::ObjectMeta> =
            self.inner.list(Some(&under)).try_collect().await?;
        let mut listed: Vec<ObjectMeta> = found
            .into_iter()
            .filter_map(|meta| {
                // Everything listed is under `root`; the filter is a second line of defence.
                let parts: Vec<String> = meta
                    .location
                    .prefix_match(&root)?
                    .map(|p| p.as_ref().to_owned())
                    .collect();
                (!parts.is_empty()).then(|| ObjectMeta {
                    key: parts.join("/"),
                    size: meta.size,
                })
            })
            .collect();
        listed.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(listed)
    }

    /// Checks that the store answers (for readiness): one listing request.
    #[instrument(name = "objects.ping", skip_all)]
    pub async fn ping(&self) -> Result<()> {
        self.inner
            .list_with_delimiter(Some(&Path::from(TENANTS)))
            .await?;
        Ok(())
    }
}

/// Maps object_store's not-found to ours, naming the tenant's key (not the full path).
fn not_found(err: object_store::Error, key: &str) -> Error {
    match err {
        object_store::Error::NotFound { .. } => Error::NotFound(key.to_owned()),
        other => Error::Store(other),
    }
}

/// `tenants/<tenant>`.
fn tenant_root(tenant: &TenantId) -> Result<Path> {
    let id = tenant.as_str();
    // Ids are checked by `TenantId`, but `.` and `..` pass its alphabet.
    if id == "." || id == ".." {
        return Err(Error::BadTenant(id.to_owned()));
    }
    Ok(Path::from_iter([TENANTS, id]))
}

/// `tenants/<tenant>/<key>`, after checking the key.
fn object_path(tenant: &TenantId, key: &str) -> Result<Path> {
    validate_key(key)?;
    let root = tenant_root(tenant)?;
    Ok(Path::from_iter(
        root.parts().chain(key.split('/').map(Into::into)),
    ))
}

/// Checks that `key` is a relative path of safe segments: non-empty, at most
/// [`MAX_KEY_LEN`] bytes, segments of `[A-Za-z0-9._-]` of at most [`MAX_SEGMENT_LEN`]
/// bytes separated by single `/`, and no `.` or `..` segment.
pub fn validate_key(key: &str) -> Result<()> {
    let bad = |reason: &'static str| Error::BadKey {
        key: key.chars().take(64).collect(),
        reason,
    };
    if key.is_empty() {
        return Err(bad("is empty"));
    }
    if key.len() > MAX_KEY_LEN {
        return Err(bad("is longer than 512 bytes"));
    }
    if key.starts_with('/') {
        return Err(bad("is absolute (starts with '/')"));
    }
    for segment in key.split('/') {
        if segment.is_empty() {
            return Err(bad("has an empty segment ('//' or a trailing '/')"));
        }
        if segment == "." || segment == ".." {
            return Err(bad("has a '.' or '..' segment"));
        }
        if segment.len() > MAX_SEGMENT_LEN {
            return Err(bad("has a segment longer than 200 bytes"));
        }
        if !segment
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
        {
            return Err(bad(
                "has a character other than ASCII letters, digits, '.', '_', '-' and '/'",
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 512 bytes in segments of at most 200.
    fn longest_key() -> String {
        let key = format!("{0}/{0}/{1}", "k".repeat(200), "k".repeat(110));
        assert_eq!(key.len(), MAX_KEY_LEN);
        key
    }

    fn reason(key: &str) -> &'static str {
        match validate_key(key) {
            Err(Error::BadKey { reason, .. }) => reason,
            other => panic!("{key:?}: expected BadKey, got {other:?}"),
        }
    }

    #[test]
    fn accepts_relative_paths_of_safe_segments() {
        for key in [
            "a",
            "prompt.wav",
            "recordings/2025/11/call-01_x.wav",
            ".hidden",
            "...",
            "a..b/c",
            &"k".repeat(MAX_SEGMENT_LEN),
            &longest_key(),
        ] {
            assert!(validate_key(key).is_ok(), "{key:?}");
        }
    }

    #[test]
    fn rejects_each_bad_key_with_its_reason() {
        assert_eq!(reason(""), "is empty");
        assert_eq!(
            reason(&format!("{}k", longest_key())),
            "is longer than 512 bytes"
        );
        assert_eq!(
            reason(&"k".repeat(MAX_SEGMENT_LEN + 1)),
            "has a segment longer than 200 bytes"
        );
        assert_eq!(reason("/etc/passwd"), "is absolute (starts with '/')");
        assert!(reason("a//b").contains("empty segment"));
        assert!(reason("a/").contains("empty segment"));
        assert!(reason("..").contains("'..'"));
        assert!(reason("../other/x").contains("'..'"));
        assert!(reason("a/./b").contains("'.'"));
        assert!(reason("a/../../b").contains("'..'"));
        for key in [
            "a b",
            "a\\b",
            "%2E%2E/x",
            "caf\u{e9}",
            "a\0b",
            "x#1",
            "a:b",
            "~",
        ] {
            assert!(reason(key).contains("character"), "{key:?}");
        }
    }

    #[test]
    fn paths_stay_under_the_tenant() -> Result<()> {
        let t = TenantId::new("acme").map_err(|_| Error::BadTenant("acme".into()))?;
        assert_eq!(
            object_path(&t, "recordings/a.wav")?.as_ref(),
            "tenants/acme/recordings/a.wav"
        );
        Ok(())
    }

    #[test]
    fn dot_tenants_are_refused() {
        for id in [".", ".."] {
            let Ok(t) = TenantId::new(id) else { continue };
            assert!(matches!(object_path(&t, "x"), Err(Error::BadTenant(_))));
        }
    }
}

#[cfg(test)]
mod debug_tests {
    use super::ObjectsConfig;

    #[test]
    fn debug_never_prints_credentials() {
        let c = ObjectsConfig::S3 {
            bucket: "b".into(),
            region: "r".into(),
            endpoint: String::new(),
            access_key_id: "AKIDSECRET".into(),
            secret_access_key: "hunter2".into(),
            allow_http: false,
        };
        let s = format!("{c:?}");
        assert!(!s.contains("hunter2") && !s.contains("AKIDSECRET"), "{s}");
    }
}

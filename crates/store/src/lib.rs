//! The durable store: what must outlive every process.
//!
//! [`Store`] is the small trait services use; [`postgres::PgStore`] is the production
//! implementation (sqlx, migrations in `migrations/postgres`) and [`sqlite::SqliteStore`]
//! the embedded one `hotline all-in-one` keeps in a file under its data directory
//! (migrations in `migrations/sqlite`). Both pass the same conformance suite
//! (`tests/conformance.rs`). Every tenant-owned row carries its tenant id and every
//! tenant-scoped query filters on it.
//!
//! Besides tenants and their numbers the store keeps what the `api` service needs:
//! versioned configuration [`documents`] with a transactional outbox for their
//! change events, API keys and idempotency records ([`keys`]), and the call log ([`calls`]).

use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use hotline_core::{CallId, EventId, TenantId};

pub mod calls;
pub mod documents;
pub mod keys;
pub mod postgres;
pub mod sqlite;

pub use calls::{CallEventRow, CallFilter, CallPatch, CallRecord, merge_call};
pub use documents::{
    DEFAULT_PAGE_LIMIT, Document, DocumentWrite, Expect, MAX_PAGE_LIMIT, OutboxEntry, OutboxFn,
    OutboxRow, Page,
};
pub use keys::{API_KEY_ROLES, ApiKey, ApiKeyNew, IdempotentResponse};
pub use postgres::PgStore;
pub use sqlite::SqliteStore;

/// Errors of the store.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    #[error("migration: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("{what} already exists")]
    Conflict { what: String },
    #[error("{what} not found")]
    NotFound { what: String },
    /// An `If-Match` write or delete ([`Expect::Version`]) found another version.
    #[error("{what} is at version {current}, not {expected}")]
    VersionMismatch {
        what: String,
        expected: i64,
        current: i64,
    },
    #[error("corrupt row in {table}: {reason}")]
    Corrupt { table: &'static str, reason: String },
    /// Bad input: a value the store refuses before it reaches the database.
    #[error("invalid {what}: {reason}")]
    Invalid { what: &'static str, reason: String },
    /// The embedded database file cannot be used (a directory, unwritable, ...).
    #[error("database file {}: {reason}", path.display())]
    File {
        path: std::path::PathBuf,
        reason: String,
    },
}

/// Result type of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A tenant's lifecycle status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TenantStatus {
    Active,
    Suspended,
}

impl TenantStatus {
    /// The stored form.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Suspended => "suspended",
        }
    }

    /// Parses the stored form; `None` for anything else.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "active" => Some(Self::Active),
            "suspended" => Some(Self::Suspended),
            _ => None,
        }
    }
}

/// A tenant as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tenant {
    pub id: TenantId,
    pub name: String,
    pub time_zone: String,
    pub locale: String,
    pub status: TenantStatus,
    pub created_at: SystemTime,
}

/// A new tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewTenant {
    pub id: TenantId,
    pub name: String,
    pub time_zone: String,
    pub locale: String,
}

/// A phone number (DID) and the entry flow it starts. A number belongs to at most one
/// tenant in the whole platform.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PhoneNumber {
    pub tenant: TenantId,
    /// E.164, e.g. `+15550100`.
    pub number: String,
    pub entry_flow: String,
}

/// The durable store.
///
/// Methods ending in `_with` take an [`OutboxEntry`] that is appended to the outbox in
/// the same transaction as the change, and only when the change is made; the plain
/// method is the same without one.
#[async_trait]
pub trait Store: Send + Sync + std::fmt::Debug + 'static {
    /// Checks that the database answers (for readiness).
    async fn ping(&self) -> Result<()>;

    // --- tenants -------------------------------------------------------------------

    /// Creates a tenant; `Conflict` when the id is taken.
    async fn create_tenant(&self, tenant: NewTenant) -> Result<Tenant> {
        self.create_tenant_with(tenant, None).await
    }
    /// [`Store::create_tenant`], publishing `outbox` with it.
    async fn create_tenant_with(
        &self,
        tenant: NewTenant,
        outbox: Option<OutboxEntry>,
    ) -> Result<Tenant>;
    /// A tenant by id.
    async fn tenant(&self, id: &TenantId) -> Result<Option<Tenant>>;
    /// All tenants, ordered by id (provider view).
    async fn tenants(&self) -> Result<Vec<Tenant>>;
    /// Suspends or reactivates a tenant; `NotFound` when it does not exist.
    async fn set_tenant_status(&self, id: &TenantId, status: TenantStatus) -> Result<()> {
        self.set_tenant_status_with(id, status, None).await
    }
    /// [`Store::set_tenant_status`], publishing `outbox` with it.
    async fn set_tenant_status_with(
        &self,
        id: &TenantId,
        status: TenantStatus,
        outbox: Option<OutboxEntry>,
    ) -> Result<()>;
    /// Replaces a tenant's settings (name, time zone, locale; `tenant.id` names it) and
    /// appends `outbox` in the same transaction; `NotFound` when there is no such tenant.
    async fn update_tenant_with(
        &self,
        tenant: NewTenant,
        outbox: Option<OutboxEntry>,
    ) -> Result<Tenant>;
    /// Deletes a tenant and everything it owns (numbers, documents, API keys,
    /// idempotency records, calls and their events, pending outbox rows) in one
    /// transaction; `false` when there is no such tenant. Consumers' dedup markers
    /// (`mark_processed`) are kept, so a late redelivery cannot apply an old event again.
    async fn delete_tenant(&self, id: &TenantId) -> Result<bool> {
        self.delete_tenant_with(id, None).await
    }
    /// [`Store::delete_tenant`], publishing `outbox` with it (written after the tenant's
    /// pending rows are removed, so it survives them).
    async fn delete_tenant_with(&self, id: &TenantId, outbox: Option<OutboxEntry>) -> Result<bool>;

    // --- phone numbers -------------------------------------------------------------

    /// Assigns a number to a tenant; `Conflict` when any tenant already has it.
    async fn add_number(&self, number: PhoneNumber) -> Result<()> {
        self.add_number_with(number, None).await
    }
    /// [`Store::add_number`], publishing `outbox` with it.
    async fn add_number_with(&self, number: PhoneNumber, outbox: Option<OutboxEntry>)
    -> Result<()>;
    /// The numbers of one tenant, ordered by number.
    async fn numbers(&self, tenant: &TenantId) -> Result<Vec<PhoneNumber>>;
    /// Which tenant a dialled number belongs to (platform-wide; used by ingress).
    async fn resolve_number(&self, number: &str) -> Result<Option<PhoneNumber>>;
    /// Removes one of the tenant's numbers; `false` when the tenant has no such number.
    async fn remove_number(&self, tenant: &TenantId, number: &str) -> Result<bool> {
        self.remove_number_with(tenant, number, None).await
    }
    /// [`Store::remove_number`], publishing `outbox` with it (only when one is removed).
    async fn remove_number_with(
        &self,
        tenant: &TenantId,
        number: &str,
        outbox: Option<OutboxEntry>,
    ) -> Result<bool>;

    // --- event consumers -----------------------------------------------------------

    /// Records that `consumer` has applied event `event` of `tenant`. Returns `false`
    /// when it had been recorded before (a redelivery to skip). This is how a consumer's
    /// effect and its dedup marker become durable together.
    async fn mark_processed(
        &self,
        consumer: &str,
        tenant: &TenantId,
        event: &EventId,
    ) -> Result<bool>;

    // --- configuration documents ---------------------------------------------------

    /// Creates or replaces a document as `expect` allows, with `doc.outbox` appended to
    /// the outbox in the same transaction. Returns the stored document (version 1 when
    /// created, one more than before when replaced). Fails, changing nothing and
    /// publishing nothing, with `Conflict` ([`Expect::Absent`] and it exists),
    /// `VersionMismatch` or `NotFound` ([`Expect::Version`]), `NotFound` for an unknown
    /// tenant, `Invalid` for bad fields.
    async fn put_document(&self, doc: DocumentWrite, expect: Expect) -> Result<Document> {
        self.put_document_with(doc, expect, None).await
    }
    /// [`Store::put_document`], publishing the entry `outbox` builds from the stored
    /// document (e.g. a `ConfigChanged` carrying the new version) instead of
    /// `doc.outbox`; giving both is `Invalid`. The builder runs inside the transaction,
    /// only when the write succeeds; an entry it builds that is invalid fails the write.
    async fn put_document_with(
        &self,
        doc: DocumentWrite,
        expect: Expect,
        outbox: Option<OutboxFn>,
    ) -> Result<Document>;
    /// One document of the tenant; `None` also for an id that cannot exist.
    async fn document(&self, tenant: &TenantId, kind: &str, id: &str) -> Result<Option<Document>>;
    /// One page of the tenant's documents of `kind`, ordered by id (bytewise).
    async fn documents(&self, tenant: &TenantId, kind: &str, page: Page) -> Result<Vec<Document>>;
    /// Deletes a document as `expect` allows ([`Expect::Absent`] is `Invalid`), with
    /// `outbox` appended when, and only when, a document is deleted. `Ok(false)` when
    /// there is none and `expect` is [`Expect::Any`]; `NotFound` for
    /// [`Expect::Version`].
    async fn delete_document(
        &self,
        tenant: &TenantId,
        kind: &str,
        id: &str,
        expect: Expect,
        outbox: Option<OutboxEntry>,
    ) -> Result<bool>;

    // --- outbox --------------------------------------------------------------------

    /// The oldest `limit` (at least 1, capped at [`MAX_PAGE_LIMIT`]) unacknowledged
    /// outbox rows of all tenants, oldest first. Rows stay until acknowledged, so a
    /// relay that crashes between publishing and acknowledging publishes them again
    /// (at-least-once; consumers deduplicate on the event id inside the payload).
    /// `seq` order is commit order for changes of one document (they serialize on its
    /// row); across documents PostgreSQL may commit a later `seq` first, so a relay can
    /// publish it before an earlier one, which is published on a later poll, never lost.
    async fn outbox_pending(&self, limit: u32) -> Result<Vec<OutboxRow>>;
    /// Removes published rows; returns how many existed.
    async fn outbox_ack(&self, seqs: &[i64]) -> Result<u64>;

    // --- API keys ------------------------------------------------------------------

    /// Stores a new key; `Conflict` when its id or hash is taken, `NotFound` for an
    /// unknown tenant.
    async fn create_api_key(&self, key: ApiKeyNew) -> Result<ApiKey> {
        self.create_api_key_with(key, None).await
    }
    /// [`Store::create_api_key`], publishing `outbox` with it.
    async fn create_api_key_with(
        &self,
        key: ApiKeyNew,
        outbox: Option<OutboxEntry>,
    ) -> Result<ApiKey>;
    /// The key with this secret hash, revoked or not (check [`ApiKey::is_active`]);
    /// platform-wide, for authentication.
    async fn api_key_by_hash(&self, hash: &[u8; 32]) -> Result<Option<ApiKey>>;
    /// The tenant's keys, revoked ones too, oldest first.
    async fn api_keys(&self, tenant: &TenantId) -> Result<Vec<ApiKey>>;
    /// Revokes one of the tenant's keys; `true` when this call revoked it, `false` when
    /// the tenant has no such key or it was revoked before (its `revoked_at` is kept).
    async fn revoke_api_key(&self, tenant: &TenantId, id: &str) -> Result<bool> {
        self.revoke_api_key_with(tenant, id, None).await
    }
    /// [`Store::revoke_api_key`], publishing `outbox` when this call revokes the key.
    async fn revoke_api_key_with(
        &self,
        tenant: &TenantId,
        id: &str,
        outbox: Option<OutboxEntry>,
    ) -> Result<bool>;
    /// Records a use of the key at `at` (best effort: never moves `last_used_at` back,
    /// and an unknown id is not an error).
    async fn touch_api_key(&self, id: &str, at: SystemTime) -> Result<()>;

    // --- idempotency ---------------------------------------------------------------

    /// The answer stored under the tenant's idempotency key, if any.
    async fn idempotency_get(
        &self,
        tenant: &TenantId,
        key: &str,
    ) -> Result<Option<IdempotentResponse>>;
    /// Stores the answer under the tenant's idempotency key; `false` when one was
    /// stored first (it is kept: read it with [`Store::idempotency_get`]).
    async fn idempotency_put(
        &self,
        tenant: &TenantId,
        key: &str,
        request_hash: &[u8; 32],
        status: u16,
        body: &str,
    ) -> Result<bool>;
    /// Removes the records of all tenants stored before `older_than`; returns how many.
    async fn idempotency_expire(&self, older_than: SystemTime) -> Result<u64>;

    // --- call log ------------------------------------------------------------------

    /// Stores a call event and folds `patch` into its call ([`merge_call`]), in one
    /// transaction. `Ok(false)`, changing nothing, when the tenant already has an event
    /// with this id (a redelivery). `NotFound` for an unknown tenant.
    async fn apply_call_event(&self, event: CallEventRow, patch: CallPatch) -> Result<bool>;
    /// The tenant's calls matching `filter`, newest first.
    async fn calls(&self, tenant: &TenantId, filter: CallFilter) -> Result<Vec<CallRecord>>;
    /// One call of the tenant with its events, ordered by time then event id.
    async fn call(
        &self,
        tenant: &TenantId,
        call: &CallId,
    ) -> Result<Option<(CallRecord, Vec<CallEventRow>)>>;
}

/// Longest E.164 number: a country code and subscriber number of at most 15 digits.
const MAX_E164_DIGITS: usize = 15;

/// Checks that `number` is E.164: `+`, then 1 to 15 digits, the first not `0`.
pub fn validate_e164(number: &str) -> Result<()> {
    let invalid = |reason: &str| Error::Invalid {
        what: "phone number",
        reason: format!("{:?} {reason}", truncate(number)),
    };
    let Some(digits) = number.strip_prefix('+') else {
        return Err(invalid("does not start with '+'"));
    };
    if digits.is_empty() {
        return Err(invalid("has no digits"));
    }
    if digits.len() > MAX_E164_DIGITS {
        return Err(invalid("has more than 15 digits"));
    }
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid("contains a character other than a digit after '+'"));
    }
    if digits.starts_with('0') {
        return Err(invalid("has a country code starting with 0"));
    }
    Ok(())
}

/// Bounds what bad input can put into an error message.
fn truncate(s: &str) -> String {
    const MAX: usize = 64;
    s.chars().take(MAX).collect()
}

/// Checks the fields of a new tenant that the id type does not already check.
pub(crate) fn validate_new_tenant(tenant: &NewTenant) -> Result<()> {
    let nonempty = |what: &'static str, value: &str| {
        if value.trim().is_empty() {
            Err(Error::Invalid {
                what,
                reason: "is empty".to_owned(),
            })
        } else {
            Ok(())
        }
    };
    nonempty("tenant name", &tenant.name)?;
    nonempty("tenant time zone", &tenant.time_zone)?;
    nonempty("tenant locale", &tenant.locale)
}

/// Checks a phone number to be assigned.
fn validate_new_number(number: &PhoneNumber) -> Result<()> {
    validate_e164(&number.number)?;
    if number.entry_flow.trim().is_empty() {
        return Err(Error::Invalid {
            what: "entry flow",
            reason: "is empty".to_owned(),
        });
    }
    Ok(())
}

/// Checks a consumer name (the dedup namespace of one consumer group).
fn validate_consumer(consumer: &str) -> Result<()> {
    if consumer.is_empty() {
        return Err(Error::Invalid {
            what: "consumer name",
            reason: "is empty".to_owned(),
        });
    }
    Ok(())
}

/// Checks an identifier the store keys rows by (document kinds and ids, API key ids,
/// event types): the rule of [`hotline_core::TenantId`], so ids are safe in keys,
/// paths and URLs.
fn validate_key(what: &'static str, s: &str) -> Result<()> {
    let invalid = |reason: String| Error::Invalid { what, reason };
    if s.is_empty() {
        return Err(invalid("is empty".to_owned()));
    }
    if s.len() > hotline_core::ids::MAX_ID_LEN {
        return Err(invalid(format!(
            "is longer than {} bytes",
            hotline_core::ids::MAX_ID_LEN
        )));
    }
    if let Some(found) = s
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
    {
        return Err(invalid(format!(
            "contains {found:?}; allowed are ASCII letters, digits, '-', '_' and '.'"
        )));
    }
    if !s.starts_with(|c: char| c.is_ascii_alphanumeric()) {
        return Err(invalid(
            "must start with an ASCII letter or digit".to_owned(),
        ));
    }
    Ok(())
}

/// Checks free text: at most `max_chars` characters and no NUL, which PostgreSQL text
/// cannot hold (SQLite could, so refusing it keeps the backends alike).
fn check_text(what: &'static str, s: &str, max_chars: usize) -> Result<()> {
    if s.contains('\0') {
        return Err(Error::Invalid {
            what,
            reason: "contains a NUL character".to_owned(),
        });
    }
    if max_chars != usize::MAX && s.chars().count() > max_chars {
        return Err(Error::Invalid {
            what,
            reason: format!("is longer than {max_chars} characters"),
        });
    }
    Ok(())
}

/// Latest time the store keeps: 9999-12-31T23:59:59.999999Z, in microseconds.
const MAX_TIME_MICROS: i64 = 253_402_300_799_999_999;

/// Checks a caller-supplied time (1970 to 9999, which both databases hold exactly) and
/// truncates it to the microsecond they keep.
fn check_time(what: &'static str, t: SystemTime) -> Result<SystemTime> {
    let micros = to_micros(t);
    if micros < 0 {
        return Err(Error::Invalid {
            what,
            reason: "is before 1970".to_owned(),
        });
    }
    if micros > MAX_TIME_MICROS {
        return Err(Error::Invalid {
            what,
            reason: "is after the year 9999".to_owned(),
        });
    }
    Ok(from_micros(micros))
}

/// Maps a failed insert: a unique violation is a `Conflict` on `what`, a foreign-key
/// violation means the referenced row (`missing`) does not exist.
fn insert_error(
    err: sqlx::Error,
    what: impl FnOnce() -> String,
    missing: impl FnOnce() -> String,
) -> Error {
    if let sqlx::Error::Database(db) = &err {
        if db.is_unique_violation() {
            return Error::Conflict { what: what() };
        }
        if db.is_foreign_key_violation() {
            return Error::NotFound { what: missing() };
        }
    }
    Error::Db(err)
}

/// Microseconds since the Unix epoch: the resolution both databases keep.
fn to_micros(t: SystemTime) -> i64 {
    match t.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_micros()).unwrap_or(i64::MAX),
        Err(before) => i64::try_from(before.duration().as_micros())
            .map(|m| -m)
            .unwrap_or(i64::MIN),
    }
}

/// The inverse of [`to_micros`].
fn from_micros(micros: i64) -> SystemTime {
    let magnitude = Duration::from_micros(micros.unsigned_abs());
    if micros >= 0 {
        SystemTime::UNIX_EPOCH + magnitude
    } else {
        SystemTime::UNIX_EPOCH - magnitude
    }
}

/// The columns of a `tenants` row, as both backends select them (`created_at` in
/// microseconds since the epoch).
type TenantRow = (String, String, String, String, String, i64);

fn tenant_from_row(row: TenantRow) -> Result<Tenant> {
    let (id, name, time_zone, locale, status, created_at) = row;
    let corrupt = |reason: String| Error::Corrupt {
        table: "tenants",
        reason,
    };
    let id = TenantId::new(id).map_err(|e| corrupt(e.to_string()))?;
    let status = TenantStatus::parse(&status)
        .ok_or_else(|| corrupt(format!("tenant {id} has unknown status {status:?}")))?;
    Ok(Tenant {
        id,
        name,
        time_zone,
        locale,
        status,
        created_at: from_micros(created_at),
    })
}

/// The columns of a `phone_numbers` row: number, tenant, entry flow.
type NumberRow = (String, String, String);

fn number_from_row(row: NumberRow) -> Result<PhoneNumber> {
    let (number, tenant, entry_flow) = row;
    let tenant = TenantId::new(tenant).map_err(|e| Error::Corrupt {
        table: "phone_numbers",
        reason: format!("number {number}: {e}"),
    })?;
    Ok(PhoneNumber {
        tenant,
        number,
        entry_flow,
    })
}

/// What `mark_processed` does when the marker already exists: a redelivery of the same
/// tenant's event is skipped; the same event id under another tenant is refused rather
/// than silently dropped, since skipping it would lose that tenant's event.
fn existing_marker(
    recorded_for: &str,
    consumer: &str,
    tenant: &TenantId,
    event: &EventId,
) -> Result<bool> {
    if recorded_for == tenant.as_str() {
        Ok(false)
    } else {
        tracing::warn!(consumer, tenant = %tenant, event = %event, "event id already recorded for another tenant");
        Err(Error::Conflict {
            what: format!("event {event} for consumer {consumer:?} (recorded for another tenant)"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn e164_accepts_plausible_numbers() {
        for ok in ["+15550100", "+4930123456", "+1", "+123456789012345"] {
            assert!(validate_e164(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn e164_rejects_with_a_reason() {
        for (bad, reason) in [
            ("15550100", "does not start with '+'"),
            ("", "does not start with '+'"),
            ("+", "has no digits"),
            ("+1234567890123456", "more than 15 digits"),
            ("+1 555", "other than a digit"),
            ("+1555x", "other than a digit"),
            ("+0555", "starting with 0"),
        ] {
            match validate_e164(bad) {
                Err(Error::Invalid { what, reason: r }) => {
                    assert_eq!(what, "phone number");
                    assert!(r.contains(reason), "{bad:?}: {r}");
                }
                other => panic!("{bad:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn micros_round_trip_both_sides_of_the_epoch() {
        for m in [0, 1, -1, 1_700_000_000_123_456, -86_400_000_000] {
            assert_eq!(to_micros(from_micros(m)), m);
        }
    }

    #[test]
    fn keys_follow_the_id_rule() {
        for ok in ["queue", "ivr-menu", "q1", "A.b_c-9", &"x".repeat(64)] {
            assert!(validate_key("k", ok).is_ok(), "{ok}");
        }
        for (bad, reason) in [
            ("", "is empty"),
            ("a b", "contains ' '"),
            ("a/b", "contains '/'"),
            ("é", "contains 'é'"),
            ("-a", "must start"),
            (".a", "must start"),
        ] {
            match validate_key("k", bad) {
                Err(Error::Invalid {
                    what: "k",
                    reason: r,
                }) => {
                    assert!(r.contains(reason), "{bad:?}: {r}")
                }
                other => panic!("{bad:?}: {other:?}"),
            }
        }
        assert!(validate_key("k", &"x".repeat(65)).is_err());
    }

    #[test]
    fn text_refuses_nul_and_counts_characters() {
        assert!(check_text("t", "ÜÜ", 2).is_ok());
        assert!(check_text("t", "ÜÜÜ", 2).is_err());
        assert!(check_text("t", "a\0b", usize::MAX).is_err());
        assert!(check_text("t", "", 0).is_ok());
    }

    #[test]
    fn times_are_bounded_and_truncated() {
        let epoch = SystemTime::UNIX_EPOCH;
        assert_eq!(check_time("t", epoch).ok(), Some(epoch));
        assert_eq!(
            check_time("t", epoch + Duration::from_nanos(1_999)).ok(),
            Some(epoch + Duration::from_micros(1))
        );
        let last = from_micros(MAX_TIME_MICROS);
        assert_eq!(check_time("t", last).ok(), Some(last));
        assert!(check_time("t", last + Duration::from_micros(1)).is_err());
        assert!(check_time("t", epoch - Duration::from_micros(1)).is_err());
    }

    #[test]
    fn unknown_status_is_corrupt() {
        let row = (
            "acme".to_owned(),
            "Acme".to_owned(),
            "UTC".to_owned(),
            "en".to_owned(),
            "deleted".to_owned(),
            0,
        );
        assert!(matches!(
            tenant_from_row(row),
            Err(Error::Corrupt {
                table: "tenants",
                ..
            })
        ));
    }
}

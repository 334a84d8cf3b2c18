//! The durable store: what must outlive every process.
//!
//! [`Store`] is the small trait services use; [`postgres::PgStore`] is the production
//! implementation (sqlx, migrations in `migrations/postgres`) and [`sqlite::SqliteStore`]
//! the embedded one `hotline all-in-one` keeps in a file under its data directory
//! (migrations in `migrations/sqlite`). Both pass the same conformance suite
//! (`tests/conformance.rs`). Every tenant-owned row carries its tenant id and every
//! tenant-scoped query filters on it.

use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use hotline_core::{EventId, TenantId};

pub mod postgres;
pub mod sqlite;

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
#[async_trait]
pub trait Store: Send + Sync + std::fmt::Debug + 'static {
    /// Checks that the database answers (for readiness).
    async fn ping(&self) -> Result<()>;

    /// Creates a tenant; `Conflict` when the id is taken.
    async fn create_tenant(&self, tenant: NewTenant) -> Result<Tenant>;
    /// A tenant by id.
    async fn tenant(&self, id: &TenantId) -> Result<Option<Tenant>>;
    /// All tenants, ordered by id (provider view).
    async fn tenants(&self) -> Result<Vec<Tenant>>;
    /// Suspends or reactivates a tenant; `NotFound` when it does not exist.
    async fn set_tenant_status(&self, id: &TenantId, status: TenantStatus) -> Result<()>;

    /// Assigns a number to a tenant; `Conflict` when any tenant already has it.
    async fn add_number(&self, number: PhoneNumber) -> Result<()>;
    /// The numbers of one tenant, ordered by number.
    async fn numbers(&self, tenant: &TenantId) -> Result<Vec<PhoneNumber>>;
    /// Which tenant a dialled number belongs to (platform-wide; used by ingress).
    async fn resolve_number(&self, number: &str) -> Result<Option<PhoneNumber>>;
    /// Removes one of the tenant's numbers; `false` when the tenant has no such number.
    async fn remove_number(&self, tenant: &TenantId, number: &str) -> Result<bool>;

    /// Records that `consumer` has applied event `event` of `tenant`. Returns `false`
    /// when it had been recorded before (a redelivery to skip). This is how a consumer's
    /// effect and its dedup marker become durable together.
    async fn mark_processed(
        &self,
        consumer: &str,
        tenant: &TenantId,
        event: &EventId,
    ) -> Result<bool>;
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
fn validate_new_tenant(tenant: &NewTenant) -> Result<()> {
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

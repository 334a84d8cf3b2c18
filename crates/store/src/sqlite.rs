//! The embedded store: one SQLite file, for `hotline all-in-one`.
//!
//! Same tables, constraints and semantics as [`crate::postgres::PgStore`] (the shared
//! conformance suite holds both to it), kept durable in a file: WAL journal, `FULL`
//! synchronous commits, foreign keys enforced, and a busy timeout so concurrent writers
//! wait rather than fail. Migrations (`migrations/sqlite`) are embedded and run at open.

use std::fs::OpenOptions;
use std::path::Path;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use hotline_core::{EventId, TenantId};
use sqlx::SqlitePool;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use tracing::instrument;

use crate::{
    Error, NewTenant, NumberRow, PhoneNumber, Result, Store, Tenant, TenantRow, TenantStatus,
    existing_marker, insert_error, number_from_row, tenant_from_row, to_micros, validate_consumer,
    validate_new_number, validate_new_tenant,
};

/// How long a writer waits for another to finish before `SQLITE_BUSY`.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Readers run concurrently under WAL; writers queue on the database lock.
const MAX_CONNECTIONS: u32 = 4;

/// The SQLite store.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
}

impl SqliteStore {
    /// Opens (creating if missing, with its parent directory) the database file at
    /// `path` and brings its schema up to date. Refuses a path that is a directory or
    /// cannot be opened for writing.
    #[instrument(name = "store.open", skip_all, fields(path = %path.display()))]
    pub async fn open(path: &Path) -> Result<Self> {
        prepare_file(path)?;
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(BUSY_TIMEOUT);
        let pool = SqlitePoolOptions::new()
            .max_connections(MAX_CONNECTIONS)
            .connect_with(options)
            .await
            .map_err(|e| file_error(path, format!("cannot open as a sqlite database: {e}")))?;
        sqlx::migrate!("./migrations/sqlite").run(&pool).await?;
        tracing::info!("sqlite store ready");
        Ok(Self { pool })
    }

    /// Closes the pool; the file is complete and closed when this returns.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

fn file_error(path: &Path, reason: String) -> Error {
    Error::File {
        path: path.to_owned(),
        reason,
    }
}

/// Checks the path before SQLite sees it, so a wrong path gets a clear error instead of
/// SQLite's "unable to open database file".
fn prepare_file(path: &Path) -> Result<()> {
    if path.as_os_str().is_empty() {
        return Err(Error::Invalid {
            what: "database path",
            reason: "is empty".to_owned(),
        });
    }
    if path.is_dir() {
        return Err(file_error(path, "is a directory".to_owned()));
    }
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|e| {
            file_error(
                path,
                format!("cannot create directory {}: {e}", parent.display()),
            )
        })?;
    }
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .map_err(|e| file_error(path, format!("cannot be opened for writing: {e}")))?;
    Ok(())
}

#[async_trait]
impl Store for SqliteStore {
    async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    #[instrument(name = "store.create_tenant", skip_all, fields(tenant = %tenant.id))]
    async fn create_tenant(&self, tenant: NewTenant) -> Result<Tenant> {
        validate_new_tenant(&tenant)?;
        let created_at = to_micros(SystemTime::now());
        let row: TenantRow = sqlx::query_as(
            "INSERT INTO tenants (id, name, time_zone, locale, created_at) \
             VALUES (?1, ?2, ?3, ?4, ?5) \
             RETURNING id, name, time_zone, locale, status, created_at",
        )
        .bind(tenant.id.as_str())
        .bind(&tenant.name)
        .bind(&tenant.time_zone)
        .bind(&tenant.locale)
        .bind(created_at)
        .fetch_one(&self.pool)
        .await
        .map_err(|e| {
            insert_error(
                e,
                || format!("tenant {}", tenant.id),
                || format!("tenant {}", tenant.id),
            )
        })?;
        tenant_from_row(row)
    }

    #[instrument(name = "store.tenant", skip_all, fields(tenant = %id))]
    async fn tenant(&self, id: &TenantId) -> Result<Option<Tenant>> {
        let row: Option<TenantRow> = sqlx::query_as(
            "SELECT id, name, time_zone, locale, status, created_at FROM tenants WHERE id = ?1",
        )
        .bind(id.as_str())
        .fetch_optional(&self.pool)
        .await?;
        row.map(tenant_from_row).transpose()
    }

    #[instrument(name = "store.tenants", skip_all)]
    async fn tenants(&self) -> Result<Vec<Tenant>> {
        let rows: Vec<TenantRow> = sqlx::query_as(
            "SELECT id, name, time_zone, locale, status, created_at FROM tenants ORDER BY id",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter().map(tenant_from_row).collect()
    }

    #[instrument(name = "store.set_tenant_status", skip_all, fields(tenant = %id, status = status.as_str()))]
    async fn set_tenant_status(&self, id: &TenantId, status: TenantStatus) -> Result<()> {
        let done = sqlx::query("UPDATE tenants SET status = ?2 WHERE id = ?1")
            .bind(id.as_str())
            .bind(status.as_str())
            .execute(&self.pool)
            .await?;
        if done.rows_affected() == 0 {
            return Err(Error::NotFound {
                what: format!("tenant {id}"),
            });
        }
        Ok(())
    }

    #[instrument(name = "store.add_number", skip_all, fields(tenant = %number.tenant))]
    async fn add_number(&self, number: PhoneNumber) -> Result<()> {
        validate_new_number(&number)?;
        sqlx::query(
            "INSERT INTO phone_numbers (number, tenant_id, entry_flow) VALUES (?1, ?2, ?3)",
        )
        .bind(&number.number)
        .bind(number.tenant.as_str())
        .bind(&number.entry_flow)
        .execute(&self.pool)
        .await
        .map_err(|e| {
            insert_error(
                e,
                || format!("number {}", number.number),
                || format!("tenant {}", number.tenant),
            )
        })?;
        Ok(())
    }

    #[instrument(name = "store.numbers", skip_all, fields(tenant = %tenant))]
    async fn numbers(&self, tenant: &TenantId) -> Result<Vec<PhoneNumber>> {
        let rows: Vec<NumberRow> = sqlx::query_as(
            "SELECT number, tenant_id, entry_flow FROM phone_numbers \
             WHERE tenant_id = ?1 ORDER BY number",
        )
        .bind(tenant.as_str())
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter().map(number_from_row).collect()
    }

    #[instrument(name = "store.resolve_number", skip_all)]
    async fn resolve_number(&self, number: &str) -> Result<Option<PhoneNumber>> {
        let row: Option<NumberRow> = sqlx::query_as(
            "SELECT number, tenant_id, entry_flow FROM phone_numbers WHERE number = ?1",
        )
        .bind(number)
        .fetch_optional(&self.pool)
        .await?;
        row.map(number_from_row).transpose()
    }

    #[instrument(name = "store.remove_number", skip_all, fields(tenant = %tenant))]
    async fn remove_number(&self, tenant: &TenantId, number: &str) -> Result<bool> {
        let done = sqlx::query("DELETE FROM phone_numbers WHERE tenant_id = ?1 AND number = ?2")
            .bind(tenant.as_str())
            .bind(number)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    #[instrument(name = "store.mark_processed", skip_all, fields(consumer = %consumer, tenant = %tenant, event = %event))]
    async fn mark_processed(
        &self,
        consumer: &str,
        tenant: &TenantId,
        event: &EventId,
    ) -> Result<bool> {
        validate_consumer(consumer)?;
        let event_id = event.to_string();
        let done = sqlx::query(
            "INSERT INTO processed_events (consumer, tenant_id, event_id, processed_at) \
             VALUES (?1, ?2, ?3, ?4) ON CONFLICT (consumer, event_id) DO NOTHING",
        )
        .bind(consumer)
        .bind(tenant.as_str())
        .bind(&event_id)
        .bind(to_micros(SystemTime::now()))
        .execute(&self.pool)
        .await?;
        if done.rows_affected() > 0 {
            return Ok(true);
        }
        let recorded_for: (String,) = sqlx::query_as(
            "SELECT tenant_id FROM processed_events WHERE consumer = ?1 AND event_id = ?2",
        )
        .bind(consumer)
        .bind(&event_id)
        .fetch_one(&self.pool)
        .await?;
        existing_marker(&recorded_for.0, consumer, tenant, event)
    }
}

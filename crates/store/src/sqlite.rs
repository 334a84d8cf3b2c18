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
use hotline_core::{CallId, EventId, TenantId};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{SqliteConnection, SqlitePool, Transaction};
use tracing::instrument;

use crate::calls::{
    CallEventDbRow, CallRow, call_event_from_row, call_from_row, call_values, filter_values,
    new_call, validate_call_event,
};
use crate::documents::{
    DocumentRow, OutboxDbRow, built_entry, document_from_row, document_what, outbox_from_row,
    page_limit, validate_expect, validate_outbox, validate_page, validate_publishing,
    validate_write,
};
use crate::keys::{
    ApiKeyRow, IdempotencyRow, api_key_from_row, idempotency_from_row, validate_idempotency_key,
    validate_idempotent_response, validate_new_key,
};
use crate::{
    ApiKey, ApiKeyNew, CallEventRow, CallFilter, CallPatch, CallRecord, Document, DocumentWrite,
    Error, Expect, IdempotentResponse, NewTenant, NumberRow, OutboxEntry, OutboxFn, OutboxRow,
    Page, PhoneNumber, Result, Store, Tenant, TenantRow, TenantStatus, check_time, existing_marker,
    insert_error, merge_call, number_from_row, tenant_from_row, to_micros, validate_consumer,
    validate_key, validate_new_number, validate_new_tenant,
};

/// How long a writer waits for another to finish before `SQLITE_BUSY`.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Readers run concurrently under WAL; writers queue on the database lock.
const MAX_CONNECTIONS: u32 = 4;

macro_rules! document_columns {
    () => {
        "tenant_id, kind, id, name, version, body, created_at, updated_at"
    };
}

macro_rules! api_key_columns {
    () => {
        "id, tenant_id, hash, role, label, created_at, revoked_at, last_used_at"
    };
}

macro_rules! call_columns {
    () => {
        "tenant_id, call_id, caller, did, started_at, answered_at, ended_at, disposition, \
         ivr_path, queue_id, agent_id, wait_seconds, talk_seconds"
    };
}

fn now_micros() -> i64 {
    to_micros(SystemTime::now())
}

/// Appends `entry` to the outbox inside the caller's transaction.
async fn push_outbox(
    conn: &mut SqliteConnection,
    tenant: &TenantId,
    entry: Option<&OutboxEntry>,
) -> Result<()> {
    if let Some(entry) = entry {
        sqlx::query(
            "INSERT INTO outbox (tenant_id, topic_key, payload, created_at) \
             VALUES (?1, ?2, ?3, ?4)",
        )
        .bind(tenant.as_str())
        .bind(&entry.key)
        .bind(&entry.payload)
        .bind(now_micros())
        .execute(conn)
        .await?;
    }
    Ok(())
}

/// Why an `If-Match` change of a document matched no row: it is absent, or at another
/// version.
async fn version_miss(
    conn: &mut SqliteConnection,
    tenant: &TenantId,
    kind: &str,
    id: &str,
    expected: i64,
) -> Error {
    let current: Result<Option<(i64,)>, sqlx::Error> = sqlx::query_as(
        "SELECT version FROM config_documents WHERE tenant_id = ?1 AND kind = ?2 AND id = ?3",
    )
    .bind(tenant.as_str())
    .bind(kind)
    .bind(id)
    .fetch_optional(conn)
    .await;
    let what = document_what(kind, id);
    match current {
        Ok(Some((current,))) => Error::VersionMismatch {
            what,
            expected,
            current,
        },
        Ok(None) => Error::NotFound { what },
        Err(e) => Error::Db(e),
    }
}

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

    /// A write transaction that holds the database's write lock from its first
    /// statement, so a read inside it can never be followed by a write that fails with
    /// `SQLITE_BUSY` (a deferred transaction cannot wait to upgrade its lock).
    async fn write(&self) -> Result<Transaction<'static, sqlx::Sqlite>> {
        Ok(self.pool.begin_with("BEGIN IMMEDIATE").await?)
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
    async fn create_tenant_with(
        &self,
        tenant: NewTenant,
        outbox: Option<OutboxEntry>,
    ) -> Result<Tenant> {
        validate_new_tenant(&tenant)?;
        validate_outbox(outbox.as_ref())?;
        let mut tx = self.write().await?;
        let row: TenantRow = sqlx::query_as(
            "INSERT INTO tenants (id, name, time_zone, locale, created_at) \
             VALUES (?1, ?2, ?3, ?4, ?5) \
             RETURNING id, name, time_zone, locale, status, created_at",
        )
        .bind(tenant.id.as_str())
        .bind(&tenant.name)
        .bind(&tenant.time_zone)
        .bind(&tenant.locale)
        .bind(now_micros())
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| {
            insert_error(
                e,
                || format!("tenant {}", tenant.id),
                || format!("tenant {}", tenant.id),
            )
        })?;
        push_outbox(&mut tx, &tenant.id, outbox.as_ref()).await?;
        tx.commit().await?;
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
    async fn set_tenant_status_with(
        &self,
        id: &TenantId,
        status: TenantStatus,
        outbox: Option<OutboxEntry>,
    ) -> Result<()> {
        validate_outbox(outbox.as_ref())?;
        let mut tx = self.write().await?;
        let done = sqlx::query("UPDATE tenants SET status = ?2 WHERE id = ?1")
            .bind(id.as_str())
            .bind(status.as_str())
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Err(Error::NotFound {
                what: format!("tenant {id}"),
            });
        }
        push_outbox(&mut tx, id, outbox.as_ref()).await?;
        tx.commit().await?;
        Ok(())
    }

    #[instrument(name = "store.update_tenant", skip_all, fields(tenant = %tenant.id))]
    async fn update_tenant_with(
        &self,
        tenant: NewTenant,
        outbox: Option<OutboxEntry>,
    ) -> Result<Tenant> {
        crate::validate_new_tenant(&tenant)?;
        validate_outbox(outbox.as_ref())?;
        let mut tx = self.write().await?;
        let done =
            sqlx::query("UPDATE tenants SET name = ?2, time_zone = ?3, locale = ?4 WHERE id = ?1")
                .bind(tenant.id.as_str())
                .bind(&tenant.name)
                .bind(&tenant.time_zone)
                .bind(&tenant.locale)
                .execute(&mut *tx)
                .await?;
        if done.rows_affected() == 0 {
            return Err(Error::NotFound {
                what: format!("tenant {}", tenant.id),
            });
        }
        push_outbox(&mut tx, &tenant.id, outbox.as_ref()).await?;
        tx.commit().await?;
        self.tenant(&tenant.id)
            .await?
            .ok_or_else(|| Error::NotFound {
                what: format!("tenant {}", tenant.id),
            })
    }

    #[instrument(name = "store.delete_tenant", skip_all, fields(tenant = %id))]
    async fn delete_tenant_with(&self, id: &TenantId, outbox: Option<OutboxEntry>) -> Result<bool> {
        validate_outbox(outbox.as_ref())?;
        let mut tx = self.write().await?;
        // Children first; the foreign keys' ON DELETE CASCADE is only a backstop.
        for delete in [
            "DELETE FROM call_events WHERE tenant_id = ?1",
            "DELETE FROM calls WHERE tenant_id = ?1",
            "DELETE FROM idempotency WHERE tenant_id = ?1",
            "DELETE FROM api_keys WHERE tenant_id = ?1",
            "DELETE FROM config_documents WHERE tenant_id = ?1",
            "DELETE FROM phone_numbers WHERE tenant_id = ?1",
            "DELETE FROM outbox WHERE tenant_id = ?1",
        ] {
            sqlx::query(delete)
                .bind(id.as_str())
                .execute(&mut *tx)
                .await?;
        }
        let done = sqlx::query("DELETE FROM tenants WHERE id = ?1")
            .bind(id.as_str())
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Ok(false);
        }
        push_outbox(&mut tx, id, outbox.as_ref()).await?;
        tx.commit().await?;
        tracing::info!(tenant = %id, "tenant deleted");
        Ok(true)
    }

    #[instrument(name = "store.add_number", skip_all, fields(tenant = %number.tenant))]
    async fn add_number_with(
        &self,
        number: PhoneNumber,
        outbox: Option<OutboxEntry>,
    ) -> Result<()> {
        validate_new_number(&number)?;
        validate_outbox(outbox.as_ref())?;
        let mut tx = self.write().await?;
        sqlx::query(
            "INSERT INTO phone_numbers (number, tenant_id, entry_flow) VALUES (?1, ?2, ?3)",
        )
        .bind(&number.number)
        .bind(number.tenant.as_str())
        .bind(&number.entry_flow)
        .execute(&mut *tx)
        .await
        .map_err(|e| {
            insert_error(
                e,
                || format!("number {}", number.number),
                || format!("tenant {}", number.tenant),
            )
        })?;
        push_outbox(&mut tx, &number.tenant, outbox.as_ref()).await?;
        tx.commit().await?;
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
    async fn remove_number_with(
        &self,
        tenant: &TenantId,
        number: &str,
        outbox: Option<OutboxEntry>,
    ) -> Result<bool> {
        validate_outbox(outbox.as_ref())?;
        let mut tx = self.write().await?;
        let done = sqlx::query("DELETE FROM phone_numbers WHERE tenant_id = ?1 AND number = ?2")
            .bind(tenant.as_str())
            .bind(number)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Ok(false);
        }
        push_outbox(&mut tx, tenant, outbox.as_ref()).await?;
        tx.commit().await?;
        Ok(true)
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

    #[instrument(name = "store.put_document", skip_all, fields(tenant = %doc.tenant, kind = %doc.kind, id = %doc.id))]
    async fn put_document_with(
        &self,
        doc: DocumentWrite,
        expect: Expect,
        outbox: Option<OutboxFn>,
    ) -> Result<Document> {
        validate_write(&doc, expect)?;
        validate_publishing(&doc, outbox.as_ref())?;
        let what = || document_what(&doc.kind, &doc.id);
        let missing = || format!("tenant {}", doc.tenant);
        let now = now_micros();
        let mut tx = self.write().await?;
        let row: DocumentRow = match expect {
            Expect::Any => sqlx::query_as(concat!(
                "INSERT INTO config_documents \
                 (tenant_id, kind, id, name, version, body, created_at, updated_at) \
                 VALUES (?1, ?2, ?3, ?4, 1, ?5, ?6, ?6) \
                 ON CONFLICT (tenant_id, kind, id) DO UPDATE SET \
                 name = excluded.name, body = excluded.body, \
                 version = config_documents.version + 1, updated_at = excluded.updated_at \
                 RETURNING ",
                document_columns!()
            ))
            .bind(doc.tenant.as_str())
            .bind(&doc.kind)
            .bind(&doc.id)
            .bind(&doc.name)
            .bind(&doc.body)
            .bind(now)
            .fetch_one(&mut *tx)
            .await
            .map_err(|e| insert_error(e, what, missing))?,
            Expect::Absent => sqlx::query_as(concat!(
                "INSERT INTO config_documents \
                 (tenant_id, kind, id, name, version, body, created_at, updated_at) \
                 VALUES (?1, ?2, ?3, ?4, 1, ?5, ?6, ?6) \
                 ON CONFLICT (tenant_id, kind, id) DO NOTHING RETURNING ",
                document_columns!()
            ))
            .bind(doc.tenant.as_str())
            .bind(&doc.kind)
            .bind(&doc.id)
            .bind(&doc.name)
            .bind(&doc.body)
            .bind(now)
            .fetch_optional(&mut *tx)
            .await
            .map_err(|e| insert_error(e, what, missing))?
            .ok_or_else(|| Error::Conflict { what: what() })?,
            Expect::Version(expected) => {
                let row: Option<DocumentRow> = sqlx::query_as(concat!(
                    "UPDATE config_documents SET name = ?4, body = ?5, \
                     version = version + 1, updated_at = ?6 \
                     WHERE tenant_id = ?1 AND kind = ?2 AND id = ?3 AND version = ?7 \
                     RETURNING ",
                    document_columns!()
                ))
                .bind(doc.tenant.as_str())
                .bind(&doc.kind)
                .bind(&doc.id)
                .bind(&doc.name)
                .bind(&doc.body)
                .bind(now)
                .bind(expected)
                .fetch_optional(&mut *tx)
                .await?;
                match row {
                    Some(row) => row,
                    None => {
                        return Err(version_miss(
                            &mut tx,
                            &doc.tenant,
                            &doc.kind,
                            &doc.id,
                            expected,
                        )
                        .await);
                    }
                }
            }
        };
        let stored = document_from_row(row)?;
        let entry = built_entry(doc.outbox, outbox, &stored)?;
        push_outbox(&mut tx, &doc.tenant, entry.as_ref()).await?;
        tx.commit().await?;
        Ok(stored)
    }
    #[instrument(name = "store.document", skip_all, fields(tenant = %tenant, kind = %kind))]
    async fn document(&self, tenant: &TenantId, kind: &str, id: &str) -> Result<Option<Document>> {
        validate_key("document kind", kind)?;
        if validate_key("document id", id).is_err() {
            return Ok(None);
        }
        let row: Option<DocumentRow> = sqlx::query_as(concat!(
            "SELECT ",
            document_columns!(),
            " FROM config_documents WHERE tenant_id = ?1 AND kind = ?2 AND id = ?3"
        ))
        .bind(tenant.as_str())
        .bind(kind)
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.map(document_from_row).transpose()
    }

    #[instrument(name = "store.documents", skip_all, fields(tenant = %tenant, kind = %kind))]
    async fn documents(&self, tenant: &TenantId, kind: &str, page: Page) -> Result<Vec<Document>> {
        validate_key("document kind", kind)?;
        let limit = validate_page(&page)?;
        // substr and length count characters, as PostgreSQL's starts_with compares them.
        let rows: Vec<DocumentRow> = sqlx::query_as(concat!(
            "SELECT ",
            document_columns!(),
            " FROM config_documents WHERE tenant_id = ?1 AND kind = ?2 \
             AND (?3 IS NULL OR id > ?3) \
             AND (?4 IS NULL OR substr(name, 1, length(?4)) = ?4) \
             ORDER BY id LIMIT ?5"
        ))
        .bind(tenant.as_str())
        .bind(kind)
        .bind(page.after_id.as_deref())
        .bind(page.name_prefix.as_deref())
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter().map(document_from_row).collect()
    }

    #[instrument(name = "store.delete_document", skip_all, fields(tenant = %tenant, kind = %kind, id = %id))]
    async fn delete_document(
        &self,
        tenant: &TenantId,
        kind: &str,
        id: &str,
        expect: Expect,
        outbox: Option<OutboxEntry>,
    ) -> Result<bool> {
        validate_key("document kind", kind)?;
        validate_expect(expect)?;
        validate_outbox(outbox.as_ref())?;
        let absent = || match expect {
            Expect::Version(_) => Err(Error::NotFound {
                what: document_what(kind, id),
            }),
            _ => Ok(false),
        };
        if validate_key("document id", id).is_err() {
            return absent();
        }
        let mut tx = self.write().await?;
        let deleted = match expect {
            Expect::Absent => {
                return Err(Error::Invalid {
                    what: "expectation",
                    reason: "a delete cannot expect the document to be absent".to_owned(),
                });
            }
            Expect::Any => sqlx::query(
                "DELETE FROM config_documents WHERE tenant_id = ?1 AND kind = ?2 AND id = ?3",
            )
            .bind(tenant.as_str())
            .bind(kind)
            .bind(id)
            .execute(&mut *tx)
            .await?
            .rows_affected(),
            Expect::Version(expected) => {
                let done = sqlx::query(
                    "DELETE FROM config_documents \
                     WHERE tenant_id = ?1 AND kind = ?2 AND id = ?3 AND version = ?4",
                )
                .bind(tenant.as_str())
                .bind(kind)
                .bind(id)
                .bind(expected)
                .execute(&mut *tx)
                .await?;
                if done.rows_affected() == 0 {
                    return Err(version_miss(&mut tx, tenant, kind, id, expected).await);
                }
                done.rows_affected()
            }
        };
        if deleted == 0 {
            return absent();
        }
        push_outbox(&mut tx, tenant, outbox.as_ref()).await?;
        tx.commit().await?;
        Ok(true)
    }

    #[instrument(name = "store.outbox_pending", skip_all, fields(limit))]
    async fn outbox_pending(&self, limit: u32) -> Result<Vec<OutboxRow>> {
        let limit = page_limit(limit)?;
        let rows: Vec<OutboxDbRow> = sqlx::query_as(
            "SELECT seq, tenant_id, topic_key, payload, created_at \
             FROM outbox ORDER BY seq LIMIT ?1",
        )
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter().map(outbox_from_row).collect()
    }

    #[instrument(name = "store.outbox_ack", skip_all, fields(count = seqs.len()))]
    async fn outbox_ack(&self, seqs: &[i64]) -> Result<u64> {
        if seqs.is_empty() {
            return Ok(0);
        }
        // SQLite has no array parameters: the seqs travel as one JSON array.
        let seqs = serde_json::to_string(seqs).map_err(|e| Error::Invalid {
            what: "outbox seqs",
            reason: e.to_string(),
        })?;
        let done = sqlx::query("DELETE FROM outbox WHERE seq IN (SELECT value FROM json_each(?1))")
            .bind(seqs)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }

    #[instrument(name = "store.create_api_key", skip_all, fields(tenant = %key.tenant, key = %key.id))]
    async fn create_api_key_with(
        &self,
        key: ApiKeyNew,
        outbox: Option<OutboxEntry>,
    ) -> Result<ApiKey> {
        validate_new_key(&key)?;
        validate_outbox(outbox.as_ref())?;
        let mut tx = self.write().await?;
        let row: ApiKeyRow = sqlx::query_as(concat!(
            "INSERT INTO api_keys (id, tenant_id, hash, role, label, created_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6) RETURNING ",
            api_key_columns!()
        ))
        .bind(&key.id)
        .bind(key.tenant.as_str())
        .bind(&key.hash[..])
        .bind(&key.role)
        .bind(&key.label)
        .bind(now_micros())
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| {
            insert_error(
                e,
                || format!("api key {} (its id or secret hash)", key.id),
                || format!("tenant {}", key.tenant),
            )
        })?;
        push_outbox(&mut tx, &key.tenant, outbox.as_ref()).await?;
        tx.commit().await?;
        api_key_from_row(row)
    }

    #[instrument(name = "store.api_key_by_hash", skip_all)]
    async fn api_key_by_hash(&self, hash: &[u8; 32]) -> Result<Option<ApiKey>> {
        let row: Option<ApiKeyRow> = sqlx::query_as(concat!(
            "SELECT ",
            api_key_columns!(),
            " FROM api_keys WHERE hash = ?1"
        ))
        .bind(&hash[..])
        .fetch_optional(&self.pool)
        .await?;
        row.map(api_key_from_row).transpose()
    }

    #[instrument(name = "store.api_keys", skip_all, fields(tenant = %tenant))]
    async fn api_keys(&self, tenant: &TenantId) -> Result<Vec<ApiKey>> {
        let rows: Vec<ApiKeyRow> = sqlx::query_as(concat!(
            "SELECT ",
            api_key_columns!(),
            " FROM api_keys WHERE tenant_id = ?1 ORDER BY created_at, id"
        ))
        .bind(tenant.as_str())
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter().map(api_key_from_row).collect()
    }

    #[instrument(name = "store.revoke_api_key", skip_all, fields(tenant = %tenant, key = %id))]
    async fn revoke_api_key_with(
        &self,
        tenant: &TenantId,
        id: &str,
        outbox: Option<OutboxEntry>,
    ) -> Result<bool> {
        validate_outbox(outbox.as_ref())?;
        if validate_key("api key id", id).is_err() {
            return Ok(false);
        }
        let mut tx = self.write().await?;
        let done = sqlx::query(
            "UPDATE api_keys SET revoked_at = ?3 \
             WHERE tenant_id = ?1 AND id = ?2 AND revoked_at IS NULL",
        )
        .bind(tenant.as_str())
        .bind(id)
        .bind(now_micros())
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            return Ok(false);
        }
        push_outbox(&mut tx, tenant, outbox.as_ref()).await?;
        tx.commit().await?;
        tracing::info!(tenant = %tenant, key = %id, "api key revoked");
        Ok(true)
    }

    #[instrument(name = "store.touch_api_key", skip_all, fields(key = %id))]
    async fn touch_api_key(&self, id: &str, at: SystemTime) -> Result<()> {
        let at = to_micros(check_time("last used time", at)?);
        if validate_key("api key id", id).is_err() {
            return Ok(());
        }
        sqlx::query(
            "UPDATE api_keys SET last_used_at = ?2 \
             WHERE id = ?1 AND (last_used_at IS NULL OR last_used_at < ?2)",
        )
        .bind(id)
        .bind(at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    #[instrument(name = "store.idempotency_get", skip_all, fields(tenant = %tenant))]
    async fn idempotency_get(
        &self,
        tenant: &TenantId,
        key: &str,
    ) -> Result<Option<IdempotentResponse>> {
        validate_idempotency_key(key)?;
        let row: Option<IdempotencyRow> = sqlx::query_as(
            "SELECT request_hash, status, response, created_at \
             FROM idempotency WHERE tenant_id = ?1 AND key = ?2",
        )
        .bind(tenant.as_str())
        .bind(key)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| idempotency_from_row(key, r)).transpose()
    }

    #[instrument(name = "store.idempotency_put", skip_all, fields(tenant = %tenant, status))]
    async fn idempotency_put(
        &self,
        tenant: &TenantId,
        key: &str,
        request_hash: &[u8; 32],
        status: u16,
        body: &str,
    ) -> Result<bool> {
        validate_idempotency_key(key)?;
        validate_idempotent_response(status, body)?;
        let done = sqlx::query(
            "INSERT INTO idempotency (tenant_id, key, request_hash, status, response, created_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (tenant_id, key) DO NOTHING",
        )
        .bind(tenant.as_str())
        .bind(key)
        .bind(&request_hash[..])
        .bind(i32::from(status))
        .bind(body)
        .bind(now_micros())
        .execute(&self.pool)
        .await
        .map_err(|e| {
            insert_error(
                e,
                || format!("idempotency key {key:?}"),
                || format!("tenant {tenant}"),
            )
        })?;
        Ok(done.rows_affected() > 0)
    }

    #[instrument(name = "store.idempotency_expire", skip_all)]
    async fn idempotency_expire(&self, older_than: SystemTime) -> Result<u64> {
        let older_than = to_micros(check_time("expiry time", older_than)?);
        let done = sqlx::query("DELETE FROM idempotency WHERE created_at < ?1")
            .bind(older_than)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }

    #[instrument(name = "store.apply_call_event", skip_all, fields(tenant = %event.tenant, call = %event.call, event = %event.event))]
    async fn apply_call_event(
        &self,
        mut event: CallEventRow,
        mut patch: CallPatch,
    ) -> Result<bool> {
        validate_call_event(&mut event, &mut patch)?;
        // The write lock is held from the first statement: events fold in one at a time.
        let mut tx = self.write().await?;
        let inserted = sqlx::query(
            "INSERT INTO call_events \
             (tenant_id, call_id, event_id, event_type, occurred_at, body) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (tenant_id, event_id) DO NOTHING",
        )
        .bind(event.tenant.as_str())
        .bind(event.call.as_str())
        .bind(event.event.to_string())
        .bind(&event.kind)
        .bind(to_micros(event.at))
        .bind(&event.body)
        .execute(&mut *tx)
        .await
        .map_err(|e| {
            insert_error(
                e,
                || format!("event {}", event.event),
                || format!("tenant {}", event.tenant),
            )
        })?;
        if inserted.rows_affected() == 0 {
            tracing::debug!("call event redelivered; skipped");
            return Ok(false);
        }
        let fresh = new_call(&event, &patch);
        sqlx::query(
            "INSERT INTO calls (tenant_id, call_id, started_at) VALUES (?1, ?2, ?3) \
             ON CONFLICT (tenant_id, call_id) DO NOTHING",
        )
        .bind(event.tenant.as_str())
        .bind(event.call.as_str())
        .bind(to_micros(fresh.started_at))
        .execute(&mut *tx)
        .await?;
        let row: CallRow = sqlx::query_as(concat!(
            "SELECT ",
            call_columns!(),
            " FROM calls WHERE tenant_id = ?1 AND call_id = ?2"
        ))
        .bind(event.tenant.as_str())
        .bind(event.call.as_str())
        .fetch_one(&mut *tx)
        .await?;
        let merged = call_values(merge_call(call_from_row(row)?, patch))?;
        sqlx::query(
            "UPDATE calls SET caller = ?3, did = ?4, started_at = ?5, answered_at = ?6, \
             ended_at = ?7, disposition = ?8, ivr_path = ?9, queue_id = ?10, agent_id = ?11, \
             wait_seconds = ?12, talk_seconds = ?13 \
             WHERE tenant_id = ?1 AND call_id = ?2",
        )
        .bind(event.tenant.as_str())
        .bind(event.call.as_str())
        .bind(merged.caller)
        .bind(merged.did)
        .bind(merged.started_at)
        .bind(merged.answered_at)
        .bind(merged.ended_at)
        .bind(merged.disposition)
        .bind(merged.ivr_path)
        .bind(merged.queue)
        .bind(merged.agent)
        .bind(merged.wait_seconds)
        .bind(merged.talk_seconds)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    #[instrument(name = "store.calls", skip_all, fields(tenant = %tenant))]
    async fn calls(&self, tenant: &TenantId, filter: CallFilter) -> Result<Vec<CallRecord>> {
        let f = filter_values(filter)?;
        let rows: Vec<CallRow> = sqlx::query_as(concat!(
            "SELECT ",
            call_columns!(),
            " FROM calls WHERE tenant_id = ?1 \
             AND (?2 IS NULL OR started_at >= ?2) \
             AND (?3 IS NULL OR started_at < ?3 OR (started_at = ?3 AND call_id < ?4)) \
             AND (?5 IS NULL OR queue_id = ?5) \
             AND (?6 IS NULL OR agent_id = ?6) \
             AND (?7 IS NULL OR disposition = ?7) \
             ORDER BY started_at DESC, call_id DESC LIMIT ?8"
        ))
        .bind(tenant.as_str())
        .bind(f.since)
        .bind(f.before_at)
        .bind(f.before_call)
        .bind(f.queue)
        .bind(f.agent)
        .bind(f.disposition)
        .bind(f.limit)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter().map(call_from_row).collect()
    }

    #[instrument(name = "store.call", skip_all, fields(tenant = %tenant, call = %call))]
    async fn call(
        &self,
        tenant: &TenantId,
        call: &CallId,
    ) -> Result<Option<(CallRecord, Vec<CallEventRow>)>> {
        // A deferred transaction reads one snapshot for the record and its events.
        let mut tx = self.pool.begin().await?;
        let row: Option<CallRow> = sqlx::query_as(concat!(
            "SELECT ",
            call_columns!(),
            " FROM calls WHERE tenant_id = ?1 AND call_id = ?2"
        ))
        .bind(tenant.as_str())
        .bind(call.as_str())
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let events: Vec<CallEventDbRow> = sqlx::query_as(
            "SELECT tenant_id, call_id, event_id, event_type, occurred_at, body \
             FROM call_events WHERE tenant_id = ?1 AND call_id = ?2 \
             ORDER BY occurred_at, event_id",
        )
        .bind(tenant.as_str())
        .bind(call.as_str())
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        let events = events
            .into_iter()
            .map(call_event_from_row)
            .collect::<Result<Vec<_>>>()?;
        Ok(Some((call_from_row(row)?, events)))
    }
}

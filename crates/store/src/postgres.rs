//! The production store: PostgreSQL through a sqlx connection pool.
//!
//! Migrations (`migrations/postgres`) are embedded in the binary and run at connect;
//! sqlx takes an advisory lock while migrating, so any number of replicas may start at
//! once. Queries are plain runtime `sqlx::query` calls, so building needs no database.

use std::time::Duration;

use async_trait::async_trait;
use hotline_core::{EventId, TenantId};
use sqlx::PgPool;
use sqlx::postgres::PgPoolOptions;
use tracing::instrument;

use crate::{
    Error, NewTenant, NumberRow, PhoneNumber, Result, Store, Tenant, TenantRow, TenantStatus,
    existing_marker, insert_error, number_from_row, tenant_from_row, validate_consumer,
    validate_new_number, validate_new_tenant,
};

/// How long to wait for a pooled connection before giving up.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);

/// The columns of a tenant, `created_at` as microseconds since the epoch (a macro so
/// that queries stay `&'static str`). Ids sort bytewise (`COLLATE "C"`) so the order does
/// not depend on the database's locale and matches the embedded store.
macro_rules! tenant_columns {
    () => {
        "id, name, time_zone, locale, status, (extract(epoch FROM created_at) * 1000000)::int8"
    };
}

/// The PostgreSQL store.
#[derive(Debug, Clone)]
pub struct PgStore {
    pool: PgPool,
}

impl PgStore {
    /// Connects to `url` with a pool of at most `max_connections` and brings the schema
    /// up to date.
    #[instrument(name = "store.connect", skip_all, fields(max_connections))]
    pub async fn connect(url: &str, max_connections: u32) -> Result<Self> {
        if max_connections == 0 {
            return Err(Error::Invalid {
                what: "max_connections",
                reason: "must be at least 1".to_owned(),
            });
        }
        let pool = PgPoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect(url)
            .await?;
        sqlx::migrate!("./migrations/postgres").run(&pool).await?;
        tracing::info!(max_connections, "postgres store ready");
        Ok(Self { pool })
    }

    /// Closes the pool, waiting for connections in use to be returned.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

#[async_trait]
impl Store for PgStore {
    async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    #[instrument(name = "store.create_tenant", skip_all, fields(tenant = %tenant.id))]
    async fn create_tenant(&self, tenant: NewTenant) -> Result<Tenant> {
        validate_new_tenant(&tenant)?;
        let row: TenantRow = sqlx::query_as(concat!(
            "INSERT INTO tenants (id, name, time_zone, locale) VALUES ($1, $2, $3, $4) \
             RETURNING ",
            tenant_columns!()
        ))
        .bind(tenant.id.as_str())
        .bind(&tenant.name)
        .bind(&tenant.time_zone)
        .bind(&tenant.locale)
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
        let row: Option<TenantRow> = sqlx::query_as(concat!(
            "SELECT ",
            tenant_columns!(),
            " FROM tenants WHERE id = $1"
        ))
        .bind(id.as_str())
        .fetch_optional(&self.pool)
        .await?;
        row.map(tenant_from_row).transpose()
    }

    #[instrument(name = "store.tenants", skip_all)]
    async fn tenants(&self) -> Result<Vec<Tenant>> {
        let rows: Vec<TenantRow> = sqlx::query_as(concat!(
            "SELECT ",
            tenant_columns!(),
            " FROM tenants ORDER BY id COLLATE \"C\""
        ))
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter().map(tenant_from_row).collect()
    }

    #[instrument(name = "store.set_tenant_status", skip_all, fields(tenant = %id, status = status.as_str()))]
    async fn set_tenant_status(&self, id: &TenantId, status: TenantStatus) -> Result<()> {
        let done = sqlx::query("UPDATE tenants SET status = $2 WHERE id = $1")
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
            "INSERT INTO phone_numbers (number, tenant_id, entry_flow) VALUES ($1, $2, $3)",
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
             WHERE tenant_id = $1 ORDER BY number COLLATE \"C\"",
        )
        .bind(tenant.as_str())
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter().map(number_from_row).collect()
    }

    #[instrument(name = "store.resolve_number", skip_all)]
    async fn resolve_number(&self, number: &str) -> Result<Option<PhoneNumber>> {
        let row: Option<NumberRow> = sqlx::query_as(
            "SELECT number, tenant_id, entry_flow FROM phone_numbers WHERE number = $1",
        )
        .bind(number)
        .fetch_optional(&self.pool)
        .await?;
        row.map(number_from_row).transpose()
    }

    #[instrument(name = "store.remove_number", skip_all, fields(tenant = %tenant))]
    async fn remove_number(&self, tenant: &TenantId, number: &str) -> Result<bool> {
        let done = sqlx::query("DELETE FROM phone_numbers WHERE tenant_id = $1 AND number = $2")
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
        // Event ids travel as text and are cast here, so sqlx needs no `uuid` feature.
        let done = sqlx::query(
            "INSERT INTO processed_events (consumer, tenant_id, event_id) \
             VALUES ($1, $2, $3::uuid) ON CONFLICT (consumer, event_id) DO NOTHING",
        )
        .bind(consumer)
        .bind(tenant.as_str())
        .bind(event.to_string())
        .execute(&self.pool)
        .await?;
        if done.rows_affected() > 0 {
            return Ok(true);
        }
        let recorded_for: (String,) = sqlx::query_as(
            "SELECT tenant_id FROM processed_events WHERE consumer = $1 AND event_id = $2::uuid",
        )
        .bind(consumer)
        .bind(event.to_string())
        .fetch_one(&self.pool)
        .await?;
        existing_marker(&recorded_for.0, consumer, tenant, event)
    }
}

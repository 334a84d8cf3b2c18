//! One conformance suite for every `Store`: each case is written once against
//! `Arc<dyn Store>` and run against the embedded SQLite file and real PostgreSQL
//! (`HOTLINE_TEST_POSTGRES`, default `postgres://postgres@127.0.0.1:5432/postgres`).
//!
//! Each PostgreSQL case creates its own database `hotline_test_<uuid>` through the admin
//! connection and drops it afterwards, even when the case fails, so cases run in
//! parallel and never assume they own the server. Each SQLite case gets its own file.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use anyhow::{Context, Result, bail};
use hotline_core::{EventId, TenantId};
use hotline_store::{Error, NewTenant, PgStore, PhoneNumber, SqliteStore, Store, TenantStatus};
use sqlx::{Connection, PgConnection};

// ---------------------------------------------------------------------------------
// Harness

const DEFAULT_POSTGRES: &str = "postgres://postgres@127.0.0.1:5432/postgres";

fn admin_url() -> String {
    std::env::var("HOTLINE_TEST_POSTGRES").unwrap_or_else(|_| DEFAULT_POSTGRES.to_owned())
}

/// A fresh database on the test server, dropped by [`TestDb::drop_db`].
struct TestDb {
    admin: String,
    name: String,
    url: String,
}

impl TestDb {
    async fn create() -> Result<Self> {
        let admin = admin_url();
        let mut conn = PgConnection::connect(&admin).await.with_context(|| {
            format!(
                "PostgreSQL is unreachable at {admin} (set HOTLINE_TEST_POSTGRES to a server \
                 where the user may create databases)"
            )
        })?;
        let name = format!("hotline_test_{}", uuid::Uuid::now_v7().simple());
        // The name is generated here from a UUID: safe to splice into SQL.
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut conn)
            .await
            .with_context(|| format!("creating database {name}"))?;
        conn.close().await?;
        let url = database_url(&admin, &name)?;
        Ok(Self { admin, name, url })
    }

    async fn drop_db(self) -> Result<()> {
        let mut conn = PgConnection::connect(&self.admin).await?;
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            self.name
        )))
        .execute(&mut conn)
        .await
        .with_context(|| format!("dropping database {}", self.name))?;
        conn.close().await?;
        Ok(())
    }
}

/// `admin` with its database path replaced by `name`, query string kept.
fn database_url(admin: &str, name: &str) -> Result<String> {
    let (base, query) = match admin.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (admin, None),
    };
    let Some(scheme_end) = base.find("://") else {
        bail!("HOTLINE_TEST_POSTGRES is not a URL: {admin}");
    };
    let authority_start = scheme_end + 3;
    let authority_end = base[authority_start..]
        .find('/')
        .map_or(base.len(), |i| authority_start + i);
    let mut url = format!("{}/{name}", &base[..authority_end]);
    if let Some(q) = query {
        url.push('?');
        url.push_str(q);
    }
    Ok(url)
}

/// Runs `case` against a PostgreSQL store in a database of its own, then drops the
/// database whether the case passed, failed or panicked.
async fn on_postgres<F, Fut>(case: F)
where
    F: FnOnce(Arc<dyn Store>) -> Fut,
    Fut: Future<Output = Result<()>> + Send + 'static,
{
    let db = TestDb::create().await.expect("test database");
    let outcome = async {
        let store = PgStore::connect(&db.url, 4)
            .await
            .with_context(|| format!("connecting to {}", db.url))?;
        // Spawned so that a panic inside the case still reaches the cleanup below.
        tokio::spawn(case(Arc::new(store)))
            .await
            .map_err(|e| anyhow::anyhow!("case panicked: {e}"))?
    }
    .await;
    let dropped = db.drop_db().await;
    outcome.expect("postgres case");
    dropped.expect("drop test database");
}

/// Runs `case` against a SQLite store in a fresh file.
async fn on_sqlite<F, Fut>(case: F)
where
    F: FnOnce(Arc<dyn Store>) -> Fut,
    Fut: Future<Output = Result<()>>,
{
    let dir = tempfile::tempdir().expect("temp dir");
    let store = SqliteStore::open(&dir.path().join("hotline.db"))
        .await
        .expect("open sqlite store");
    case(Arc::new(store)).await.expect("sqlite case");
}

/// One `#[tokio::test]` per backend for each case.
macro_rules! conformance {
    ($($case:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $case() {
                    super::on_sqlite(super::$case).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $case() {
                    super::on_postgres(super::$case).await;
                }
            )*
        }
    };
}

conformance!(
    ping_answers,
    tenant_create_get_list,
    tenant_id_conflict,
    tenant_status_changes,
    tenant_fields_are_validated,
    number_add_and_resolve,
    number_belongs_to_one_tenant,
    number_needs_an_existing_tenant,
    number_is_validated,
    number_removed_only_by_owner,
    mark_processed_detects_redelivery,
    mark_processed_refuses_event_id_of_another_tenant,
    tenant_b_cannot_see_or_touch_tenant_a,
);

// ---------------------------------------------------------------------------------
// Fixtures

/// A tenant id unique to this run, so cases never collide on a shared server.
fn tenant_id(label: &str) -> TenantId {
    let suffix = uuid::Uuid::now_v7().simple().to_string();
    TenantId::new(format!("{label}-{}", &suffix[20..])).expect("valid tenant id")
}

fn new_tenant(id: &TenantId) -> NewTenant {
    NewTenant {
        id: id.clone(),
        name: format!("Tenant {id}"),
        time_zone: "Europe/Berlin".to_owned(),
        locale: "de-DE".to_owned(),
    }
}

fn number(tenant: &TenantId, number: &str, flow: &str) -> PhoneNumber {
    PhoneNumber {
        tenant: tenant.clone(),
        number: number.to_owned(),
        entry_flow: flow.to_owned(),
    }
}

// ---------------------------------------------------------------------------------
// Cases

async fn ping_answers(store: Arc<dyn Store>) -> Result<()> {
    store.ping().await?;
    Ok(())
}

async fn tenant_create_get_list(store: Arc<dyn Store>) -> Result<()> {
    let before = SystemTime::now() - Duration::from_secs(60);
    let b = tenant_id("b");
    let a = tenant_id("a");
    let created_b = store.create_tenant(new_tenant(&b)).await?;
    let created_a = store.create_tenant(new_tenant(&a)).await?;

    assert_eq!(created_a.id, a);
    assert_eq!(created_a.name, format!("Tenant {a}"));
    assert_eq!(created_a.time_zone, "Europe/Berlin");
    assert_eq!(created_a.locale, "de-DE");
    assert_eq!(created_a.status, TenantStatus::Active);
    assert!(created_a.created_at > before, "created_at is now-ish");
    assert!(created_a.created_at < SystemTime::now() + Duration::from_secs(60));

    // What `create_tenant` returns is exactly what is stored.
    assert_eq!(store.tenant(&a).await?, Some(created_a.clone()));
    assert_eq!(store.tenant(&b).await?, Some(created_b.clone()));
    assert_eq!(store.tenant(&tenant_id("nobody")).await?, None);

    // Ordered by id, whatever the insertion order.
    assert_eq!(store.tenants().await?, vec![created_a, created_b]);
    Ok(())
}

async fn tenant_id_conflict(store: Arc<dyn Store>) -> Result<()> {
    let a = tenant_id("a");
    let first = store.create_tenant(new_tenant(&a)).await?;
    let mut again = new_tenant(&a);
    again.name = "Impostor".to_owned();
    match store.create_tenant(again).await {
        Err(Error::Conflict { what }) => assert!(what.contains(a.as_str()), "{what}"),
        other => bail!("expected Conflict, got {other:?}"),
    }
    // The first tenant is untouched.
    assert_eq!(store.tenant(&a).await?, Some(first));
    assert_eq!(store.tenants().await?.len(), 1);
    Ok(())
}

async fn tenant_status_changes(store: Arc<dyn Store>) -> Result<()> {
    let a = tenant_id("a");
    let b = tenant_id("b");
    store.create_tenant(new_tenant(&a)).await?;
    store.create_tenant(new_tenant(&b)).await?;

    store.set_tenant_status(&a, TenantStatus::Suspended).await?;
    assert_eq!(
        store.tenant(&a).await?.map(|t| t.status),
        Some(TenantStatus::Suspended)
    );
    // Only the named tenant changes.
    assert_eq!(
        store.tenant(&b).await?.map(|t| t.status),
        Some(TenantStatus::Active)
    );

    store.set_tenant_status(&a, TenantStatus::Active).await?;
    assert_eq!(
        store.tenant(&a).await?.map(|t| t.status),
        Some(TenantStatus::Active)
    );

    let missing = tenant_id("missing");
    match store
        .set_tenant_status(&missing, TenantStatus::Suspended)
        .await
    {
        Err(Error::NotFound { what }) => assert!(what.contains(missing.as_str()), "{what}"),
        other => bail!("expected NotFound, got {other:?}"),
    }
    assert_eq!(store.tenant(&missing).await?, None);
    Ok(())
}

async fn tenant_fields_are_validated(store: Arc<dyn Store>) -> Result<()> {
    let a = tenant_id("a");
    let mut blank = new_tenant(&a);
    blank.name = "  ".to_owned();
    match store.create_tenant(blank).await {
        Err(Error::Invalid { what, .. }) => assert_eq!(what, "tenant name"),
        other => bail!("expected Invalid, got {other:?}"),
    }
    let mut no_zone = new_tenant(&a);
    no_zone.time_zone = String::new();
    assert!(matches!(
        store.create_tenant(no_zone).await,
        Err(Error::Invalid {
            what: "tenant time zone",
            ..
        })
    ));
    assert_eq!(store.tenant(&a).await?, None, "nothing was stored");
    Ok(())
}

async fn number_add_and_resolve(store: Arc<dyn Store>) -> Result<()> {
    let a = tenant_id("a");
    store.create_tenant(new_tenant(&a)).await?;
    store.add_number(number(&a, "+15550102", "sales")).await?;
    store.add_number(number(&a, "+15550101", "support")).await?;

    assert_eq!(
        store.resolve_number("+15550101").await?,
        Some(number(&a, "+15550101", "support"))
    );
    assert_eq!(store.resolve_number("+15550199").await?, None);
    // A lookup of something that is not E.164 is simply not found.
    assert_eq!(store.resolve_number("sip:alice").await?, None);

    assert_eq!(
        store.numbers(&a).await?,
        vec![
            number(&a, "+15550101", "support"),
            number(&a, "+15550102", "sales"),
        ],
        "ordered by number"
    );
    Ok(())
}

async fn number_belongs_to_one_tenant(store: Arc<dyn Store>) -> Result<()> {
    let a = tenant_id("a");
    let b = tenant_id("b");
    store.create_tenant(new_tenant(&a)).await?;
    store.create_tenant(new_tenant(&b)).await?;
    store.add_number(number(&a, "+4930123456", "main")).await?;

    // Another tenant cannot claim it...
    match store.add_number(number(&b, "+4930123456", "hijack")).await {
        Err(Error::Conflict { what }) => assert!(what.contains("+4930123456"), "{what}"),
        other => bail!("expected Conflict, got {other:?}"),
    }
    // ...nor can the owner add it twice.
    assert!(matches!(
        store.add_number(number(&a, "+4930123456", "other")).await,
        Err(Error::Conflict { .. })
    ));
    // Calls still reach the owner's flow.
    assert_eq!(
        store.resolve_number("+4930123456").await?,
        Some(number(&a, "+4930123456", "main"))
    );
    assert!(store.numbers(&b).await?.is_empty());
    Ok(())
}

async fn number_needs_an_existing_tenant(store: Arc<dyn Store>) -> Result<()> {
    let ghost = tenant_id("ghost");
    match store.add_number(number(&ghost, "+15550123", "main")).await {
        Err(Error::NotFound { what }) => assert!(what.contains(ghost.as_str()), "{what}"),
        other => bail!("expected NotFound, got {other:?}"),
    }
    assert_eq!(store.resolve_number("+15550123").await?, None);
    Ok(())
}

async fn number_is_validated(store: Arc<dyn Store>) -> Result<()> {
    let a = tenant_id("a");
    store.create_tenant(new_tenant(&a)).await?;
    for bad in ["15550100", "+", "+1 555 0100", "+1234567890123456", "+0123"] {
        match store.add_number(number(&a, bad, "main")).await {
            Err(Error::Invalid { what, .. }) => assert_eq!(what, "phone number"),
            other => bail!("{bad:?}: expected Invalid, got {other:?}"),
        }
    }
    assert!(matches!(
        store.add_number(number(&a, "+15550100", " ")).await,
        Err(Error::Invalid {
            what: "entry flow",
            ..
        })
    ));
    assert!(store.numbers(&a).await?.is_empty());
    Ok(())
}

async fn number_removed_only_by_owner(store: Arc<dyn Store>) -> Result<()> {
    let a = tenant_id("a");
    let b = tenant_id("b");
    store.create_tenant(new_tenant(&a)).await?;
    store.create_tenant(new_tenant(&b)).await?;
    store.add_number(number(&a, "+15550100", "main")).await?;

    assert!(
        !store.remove_number(&b, "+15550100").await?,
        "not b's number"
    );
    assert!(store.resolve_number("+15550100").await?.is_some());

    assert!(store.remove_number(&a, "+15550100").await?);
    assert_eq!(store.resolve_number("+15550100").await?, None);
    assert!(!store.remove_number(&a, "+15550100").await?, "already gone");

    // Once released, another tenant may take it.
    store.add_number(number(&b, "+15550100", "night")).await?;
    assert_eq!(
        store.resolve_number("+15550100").await?,
        Some(number(&b, "+15550100", "night"))
    );
    Ok(())
}

async fn mark_processed_detects_redelivery(store: Arc<dyn Store>) -> Result<()> {
    let a = tenant_id("a");
    let first = EventId::generate();
    let second = EventId::generate();

    assert!(store.mark_processed("analytics", &a, &first).await?);
    assert!(
        !store.mark_processed("analytics", &a, &first).await?,
        "redelivery"
    );
    assert!(
        !store.mark_processed("analytics", &a, &first).await?,
        "and again"
    );

    // Another event, and the same event for another consumer, are new.
    assert!(store.mark_processed("analytics", &a, &second).await?);
    assert!(store.mark_processed("crm", &a, &first).await?);
    assert!(!store.mark_processed("crm", &a, &first).await?);

    assert!(matches!(
        store.mark_processed("", &a, &first).await,
        Err(Error::Invalid {
            what: "consumer name",
            ..
        })
    ));
    Ok(())
}

async fn mark_processed_refuses_event_id_of_another_tenant(store: Arc<dyn Store>) -> Result<()> {
    let a = tenant_id("a");
    let b = tenant_id("b");
    let event = EventId::generate();
    assert!(store.mark_processed("analytics", &a, &event).await?);
    // Skipping b's event because a's has the same id would lose it: refuse instead.
    assert!(matches!(
        store.mark_processed("analytics", &b, &event).await,
        Err(Error::Conflict { .. })
    ));
    // a's marker is unaffected.
    assert!(!store.mark_processed("analytics", &a, &event).await?);
    Ok(())
}

async fn tenant_b_cannot_see_or_touch_tenant_a(store: Arc<dyn Store>) -> Result<()> {
    let a = tenant_id("a");
    let b = tenant_id("b");
    store.create_tenant(new_tenant(&a)).await?;
    store.create_tenant(new_tenant(&b)).await?;
    store.add_number(number(&a, "+15550100", "a-main")).await?;
    store.add_number(number(&a, "+15550101", "a-sales")).await?;
    store.add_number(number(&b, "+15550200", "b-main")).await?;

    let b_numbers = store.numbers(&b).await?;
    assert_eq!(b_numbers, vec![number(&b, "+15550200", "b-main")]);
    assert!(b_numbers.iter().all(|n| n.tenant == b));

    for n in ["+15550100", "+15550101"] {
        assert!(!store.remove_number(&b, n).await?, "b removed a's {n}");
    }
    assert!(matches!(
        store.add_number(number(&b, "+15550100", "b-steal")).await,
        Err(Error::Conflict { .. })
    ));
    assert_eq!(
        store.numbers(&a).await?,
        vec![
            number(&a, "+15550100", "a-main"),
            number(&a, "+15550101", "a-sales"),
        ],
        "a's numbers are intact"
    );
    // b suspending itself leaves a active.
    store.set_tenant_status(&b, TenantStatus::Suspended).await?;
    assert_eq!(
        store.tenant(&a).await?.map(|t| t.status),
        Some(TenantStatus::Active)
    );
    Ok(())
}

// ---------------------------------------------------------------------------------
// Backend-specific: durability, migrations, bad paths

/// Writes through one store, drops it, and reads through another on the same file.
#[tokio::test]
async fn sqlite_file_survives_reopen() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("nested/data/hotline.db");
    let a = tenant_id("a");
    let event = EventId::generate();

    let created = {
        let store = SqliteStore::open(&path).await?;
        let created = store.create_tenant(new_tenant(&a)).await?;
        store.set_tenant_status(&a, TenantStatus::Suspended).await?;
        store.add_number(number(&a, "+15550100", "main")).await?;
        assert!(store.mark_processed("analytics", &a, &event).await?);
        store.close().await;
        created
    };
    assert!(path.is_file(), "the database is a file on disk");

    // Opening again also re-runs the (already applied) migrations.
    let store = SqliteStore::open(&path).await?;
    let reread = store.tenant(&a).await?.context("tenant survived")?;
    assert_eq!(reread.created_at, created.created_at);
    assert_eq!(reread.status, TenantStatus::Suspended);
    assert_eq!(
        store.resolve_number("+15550100").await?,
        Some(number(&a, "+15550100", "main"))
    );
    assert!(
        !store.mark_processed("analytics", &a, &event).await?,
        "dedup marker survived"
    );
    Ok(())
}

#[tokio::test]
async fn sqlite_is_durable_without_a_clean_close() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("hotline.db");
    let a = tenant_id("a");
    {
        let store = SqliteStore::open(&path).await?;
        store.create_tenant(new_tenant(&a)).await?;
        // Dropped without close(): committed writes must already be on disk (WAL).
    }
    let store = SqliteStore::open(&path).await?;
    assert!(store.tenant(&a).await?.is_some());
    Ok(())
}

#[tokio::test]
async fn sqlite_uses_wal_and_foreign_keys() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("hotline.db");
    let store = SqliteStore::open(&path).await?;
    store.ping().await?;
    let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite://{}", path.display())).await?;
    let (mode,): (String,) = sqlx::query_as("PRAGMA journal_mode")
        .fetch_one(&mut conn)
        .await?;
    assert_eq!(
        mode.to_lowercase(),
        "wal",
        "journal mode is persistent in the file"
    );
    let applied: Vec<(i64,)> =
        sqlx::query_as("SELECT version FROM _sqlx_migrations ORDER BY version")
            .fetch_all(&mut conn)
            .await?;
    assert_eq!(applied, vec![(1,)]);
    Ok(())
}

#[tokio::test]
async fn sqlite_refuses_a_directory() -> Result<()> {
    let dir = tempfile::tempdir()?;
    match SqliteStore::open(dir.path()).await {
        Err(err @ Error::File { .. }) => {
            assert!(err.to_string().contains("is a directory"), "{err}");
        }
        other => bail!("expected File error, got {other:?}"),
    }
    Ok(())
}

#[tokio::test]
async fn sqlite_refuses_a_path_under_a_file() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let file = dir.path().join("plain");
    std::fs::write(&file, b"not a directory")?;
    match SqliteStore::open(&file.join("hotline.db")).await {
        Err(err @ Error::File { .. }) => {
            assert!(err.to_string().contains("cannot create directory"), "{err}");
        }
        other => bail!("expected File error, got {other:?}"),
    }
    Ok(())
}

#[tokio::test]
async fn sqlite_refuses_an_unwritable_path() -> Result<()> {
    // Root bypasses permission bits, so use a place no one can create files in.
    let path = Path::new("/proc/hotline-store-test/hotline.db");
    match SqliteStore::open(path).await {
        Err(Error::File { .. }) => Ok(()),
        other => bail!("expected File error, got {other:?}"),
    }
}

#[tokio::test]
async fn sqlite_refuses_a_file_that_is_not_a_database() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("hotline.db");
    std::fs::write(&path, vec![0x42u8; 8192])?;
    match SqliteStore::open(&path).await {
        Err(err @ (Error::File { .. } | Error::Db(_) | Error::Migrate(_))) => {
            // The bytes are left alone: refusing never destroys data.
            assert_eq!(std::fs::read(&path)?, vec![0x42u8; 8192], "{err}");
            Ok(())
        }
        other => bail!("expected an error, got {other:?}"),
    }
}

#[tokio::test]
async fn sqlite_refuses_an_empty_path() {
    assert!(matches!(
        SqliteStore::open(&PathBuf::new()).await,
        Err(Error::Invalid { .. })
    ));
}

/// Connecting twice to the same database re-runs migrations without error or change.
#[tokio::test]
async fn postgres_migrations_are_idempotent_and_data_survives_reconnect() {
    let db = TestDb::create().await.expect("test database");
    let url = db.url.clone();
    let outcome = tokio::spawn(async move {
        let a = tenant_id("a");
        let created = {
            let store = PgStore::connect(&url, 2).await?;
            let created = store.create_tenant(new_tenant(&a)).await?;
            store.add_number(number(&a, "+15550100", "main")).await?;
            store.close().await;
            created
        };
        // Several replicas starting at once all migrate safely.
        let (s1, s2) = tokio::join!(PgStore::connect(&url, 2), PgStore::connect(&url, 2));
        let (s1, s2) = (s1?, s2?);
        assert_eq!(s1.tenant(&a).await?, Some(created));
        assert_eq!(
            s2.resolve_number("+15550100").await?,
            Some(number(&a, "+15550100", "main"))
        );
        let mut conn = PgConnection::connect(&url).await?;
        let applied: Vec<(i64,)> =
            sqlx::query_as("SELECT version FROM _sqlx_migrations ORDER BY version")
                .fetch_all(&mut conn)
                .await?;
        assert_eq!(applied, vec![(1,)]);
        conn.close().await?;
        s1.close().await;
        s2.close().await;
        anyhow::Ok(())
    })
    .await;
    let dropped = db.drop_db().await;
    outcome.expect("case panicked").expect("postgres case");
    dropped.expect("drop test database");
}

#[tokio::test]
async fn postgres_rejects_zero_connections() {
    assert!(matches!(
        PgStore::connect(&admin_url(), 0).await,
        Err(Error::Invalid { .. })
    ));
}

#[test]
fn database_url_replaces_only_the_database() -> Result<()> {
    assert_eq!(
        database_url("postgres://u@h:5432/postgres", "x")?,
        "postgres://u@h:5432/x"
    );
    assert_eq!(
        database_url("postgres://u@h:5432/postgres?sslmode=disable", "x")?,
        "postgres://u@h:5432/x?sslmode=disable"
    );
    assert_eq!(database_url("postgres://u@h", "x")?, "postgres://u@h/x");
    Ok(())
}

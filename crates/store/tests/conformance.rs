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

use anyhow::{Context, Result, bail, ensure};
use hotline_core::{AgentId, CallId, Disposition, EventId, QueueId, TenantId};
use hotline_store::{
    ApiKeyNew, CallEventRow, CallFilter, CallPatch, CallRecord, DocumentWrite, Error, Expect,
    NewTenant, OutboxEntry, OutboxFn, Page, PgStore, PhoneNumber, SqliteStore, Store, TenantStatus,
};
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
    tenant_settings_update,
    tenant_fields_are_validated,
    number_add_and_resolve,
    number_belongs_to_one_tenant,
    number_needs_an_existing_tenant,
    number_is_validated,
    number_removed_only_by_owner,
    mark_processed_detects_redelivery,
    mark_processed_refuses_event_id_of_another_tenant,
    tenant_b_cannot_see_or_touch_tenant_a,
    document_versions_grow_by_one,
    document_expectations_fail_without_change_or_event,
    document_writes_publish_exactly_when_they_commit,
    document_event_built_from_the_stored_version,
    document_delete_semantics,
    documents_page_by_id_and_name_prefix,
    documents_listing_is_capped_at_1000,
    document_input_is_validated,
    documents_are_isolated_between_tenants,
    outbox_is_oldest_first_until_acknowledged,
    tenant_number_and_key_changes_publish_when_they_commit,
    api_key_lifecycle,
    api_key_conflicts_and_bad_input,
    api_keys_are_isolated_between_tenants,
    idempotency_first_answer_wins,
    idempotency_expires_only_older_records,
    idempotency_is_isolated_between_tenants,
    call_log_projects_events,
    call_event_redelivery_changes_nothing,
    calls_filter_and_cursor_paging,
    call_log_input_is_validated,
    calls_are_isolated_between_tenants,
    delete_tenant_removes_everything_of_a_and_nothing_of_b,
    concurrent_if_match_writes_have_one_winner,
    concurrent_events_of_one_call_all_apply,
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

fn entry(key: &str, payload: &str) -> Option<OutboxEntry> {
    Some(OutboxEntry {
        key: key.to_owned(),
        payload: payload.as_bytes().to_vec(),
    })
}

fn doc(tenant: &TenantId, kind: &str, id: &str, name: &str, body: &str) -> DocumentWrite {
    DocumentWrite {
        tenant: tenant.clone(),
        kind: kind.to_owned(),
        id: id.to_owned(),
        name: name.to_owned(),
        body: body.to_owned(),
        outbox: None,
    }
}

/// A document write that publishes `payload` under the tenant's key.
fn doc_publishing(
    tenant: &TenantId,
    kind: &str,
    id: &str,
    body: &str,
    payload: &str,
) -> DocumentWrite {
    DocumentWrite {
        outbox: entry(tenant.as_str(), payload),
        ..doc(tenant, kind, id, id, body)
    }
}

/// The outbox as (tenant, key, payload), oldest first.
async fn outbox(store: &Arc<dyn Store>) -> Result<Vec<(String, String, String)>> {
    Ok(store
        .outbox_pending(1000)
        .await?
        .into_iter()
        .map(|r| {
            (
                r.tenant.to_string(),
                r.key,
                String::from_utf8_lossy(&r.payload).into_owned(),
            )
        })
        .collect())
}

fn api_key(tenant: &TenantId, id: &str, secret: u8, role: &str) -> ApiKeyNew {
    ApiKeyNew {
        id: id.to_owned(),
        tenant: tenant.clone(),
        hash: [secret; 32],
        role: role.to_owned(),
        label: format!("key {id}"),
    }
}

/// A fixed instant plus `secs` (and a few microseconds, to prove they survive).
fn t(secs: u64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000 + secs) + Duration::from_micros(7)
}

fn call_id(id: &str) -> CallId {
    CallId::new(id).expect("valid call id")
}

fn queue(id: &str) -> QueueId {
    QueueId::new(id).expect("valid queue id")
}

fn agent(id: &str) -> AgentId {
    AgentId::new(id).expect("valid agent id")
}

fn event(tenant: &TenantId, call: &str, kind: &str, at: SystemTime) -> CallEventRow {
    CallEventRow {
        tenant: tenant.clone(),
        call: call_id(call),
        event: EventId::generate(),
        kind: kind.to_owned(),
        at,
        body: format!("{{\"type\":\"{kind}\"}}"),
    }
}

/// Applies the events of one simple call: offered at `start`, then ended with
/// `disposition`, in `queue` with `agent` when given.
async fn simple_call(
    store: &Arc<dyn Store>,
    tenant: &TenantId,
    call: &str,
    start: SystemTime,
    queue_id: Option<&str>,
    agent_id: Option<&str>,
    disposition: Disposition,
) -> Result<()> {
    let offered = CallPatch {
        started_at: Some(start),
        caller: Some("+4930111".to_owned()),
        did: Some("+4930999".to_owned()),
        ..CallPatch::default()
    };
    ensure!(
        store
            .apply_call_event(event(tenant, call, "CallOffered", start), offered)
            .await?
    );
    let ended = CallPatch {
        ended_at: Some(start + Duration::from_secs(60)),
        disposition: Some(disposition),
        queue: queue_id.map(queue),
        agent: agent_id.map(agent),
        ..CallPatch::default()
    };
    ensure!(
        store
            .apply_call_event(
                event(tenant, call, "CallEnded", start + Duration::from_secs(60)),
                ended,
            )
            .await?
    );
    Ok(())
}

fn ids(calls: &[CallRecord]) -> Vec<&str> {
    calls.iter().map(|c| c.call.as_str()).collect()
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

async fn tenant_settings_update(store: Arc<dyn Store>) -> Result<()> {
    let a = tenant_id("a");
    let b = tenant_id("b");
    store.create_tenant(new_tenant(&a)).await?;
    store.create_tenant(new_tenant(&b)).await?;
    let before = store.outbox_pending(1000).await?.len();
    let updated = store
        .update_tenant_with(
            NewTenant {
                id: a.clone(),
                name: "Renamed".to_owned(),
                time_zone: "Asia/Tokyo".to_owned(),
                locale: "ja".to_owned(),
            },
            Some(hotline_store::OutboxEntry {
                key: a.to_string(),
                payload: b"changed".to_vec(),
            }),
        )
        .await?;
    assert_eq!(
        (
            updated.name.as_str(),
            updated.time_zone.as_str(),
            updated.locale.as_str()
        ),
        ("Renamed", "Asia/Tokyo", "ja")
    );
    assert_eq!(store.tenant(&a).await?, Some(updated));
    assert_eq!(store.outbox_pending(1000).await?.len(), before + 1);
    // Only the named tenant changes.
    assert_eq!(
        store.tenant(&b).await?.map(|t| t.name),
        Some(format!("Tenant {b}"))
    );
    // Unknown tenants and empty fields change nothing and publish nothing.
    let missing = tenant_id("missing");
    assert!(matches!(
        store
            .update_tenant_with(
                new_tenant(&missing),
                Some(hotline_store::OutboxEntry {
                    key: "k".to_owned(),
                    payload: b"x".to_vec(),
                })
            )
            .await,
        Err(Error::NotFound { .. })
    ));
    let mut empty = new_tenant(&a);
    empty.name = "  ".to_owned();
    assert!(matches!(
        store.update_tenant_with(empty, None).await,
        Err(Error::Invalid { .. })
    ));
    assert_eq!(
        store.tenant(&a).await?.map(|t| t.name),
        Some("Renamed".to_owned())
    );
    assert_eq!(store.outbox_pending(1000).await?.len(), before + 1);
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
// Configuration documents and the outbox

async fn document_versions_grow_by_one(store: Arc<dyn Store>) -> Result<()> {
    let before = SystemTime::now() - Duration::from_secs(60);
    let a = tenant_id("a");
    store.create_tenant(new_tenant(&a)).await?;

    let v1 = store
        .put_document(
            doc(&a, "queue", "sales", "Sales", r#"{"strategy":"ring-all"}"#),
            Expect::Absent,
        )
        .await?;
    assert_eq!(v1.version, 1);
    assert_eq!(
        (v1.tenant.clone(), v1.kind.as_str(), v1.id.as_str()),
        (a.clone(), "queue", "sales")
    );
    assert_eq!(v1.name, "Sales");
    assert_eq!(v1.body, r#"{"strategy":"ring-all"}"#);
    assert!(v1.created_at > before && v1.updated_at >= v1.created_at);
    assert_eq!(
        store.document(&a, "queue", "sales").await?,
        Some(v1.clone())
    );

    let v2 = store
        .put_document(
            doc(
                &a,
                "queue",
                "sales",
                "Sales team",
                r#"{"strategy":"linear"}"#,
            ),
            Expect::Version(1),
        )
        .await?;
    assert_eq!(v2.version, 2);
    assert_eq!(v2.name, "Sales team");
    assert_eq!(v2.body, r#"{"strategy":"linear"}"#);
    assert_eq!(v2.created_at, v1.created_at, "creation time is kept");
    assert!(v2.updated_at >= v1.updated_at);
    assert_eq!(
        store.document(&a, "queue", "sales").await?,
        Some(v2.clone())
    );

    let v3 = store
        .put_document(doc(&a, "queue", "sales", "Sales", "{}"), Expect::Any)
        .await?;
    assert_eq!(v3.version, 3);
    assert_eq!(store.document(&a, "queue", "sales").await?, Some(v3));

    // Any creates too, at version 1; the same id under another kind is another document.
    let other = store
        .put_document(doc(&a, "agent", "sales", "Agent", "{}"), Expect::Any)
        .await?;
    assert_eq!(other.version, 1);
    assert_eq!(
        store
            .document(&a, "queue", "sales")
            .await?
            .map(|d| d.version),
        Some(3)
    );
    assert_eq!(store.document(&a, "queue", "missing").await?, None);
    Ok(())
}

async fn document_expectations_fail_without_change_or_event(store: Arc<dyn Store>) -> Result<()> {
    let a = tenant_id("a");
    store.create_tenant(new_tenant(&a)).await?;
    let stored = store
        .put_document(
            doc_publishing(&a, "queue", "q1", r#"{"n":1}"#, "created q1"),
            Expect::Absent,
        )
        .await?;
    let published = outbox(&store).await?;
    assert_eq!(published.len(), 1);

    // Create when it exists.
    match store
        .put_document(
            doc_publishing(&a, "queue", "q1", r#"{"n":2}"#, "bad create"),
            Expect::Absent,
        )
        .await
    {
        Err(Error::Conflict { what }) => assert!(what.contains("q1"), "{what}"),
        other => bail!("expected Conflict, got {other:?}"),
    }
    // If-Match with a stale version.
    match store
        .put_document(
            doc_publishing(&a, "queue", "q1", r#"{"n":3}"#, "stale update"),
            Expect::Version(7),
        )
        .await
    {
        Err(Error::VersionMismatch {
            what,
            expected,
            current,
        }) => {
            assert!(what.contains("q1"), "{what}");
            assert_eq!((expected, current), (7, 1));
        }
        other => bail!("expected VersionMismatch, got {other:?}"),
    }
    // If-Match on a document that does not exist: not found, and not created.
    match store
        .put_document(
            doc_publishing(&a, "queue", "q2", "{}", "ghost update"),
            Expect::Version(1),
        )
        .await
    {
        Err(Error::NotFound { what }) => assert!(what.contains("q2"), "{what}"),
        other => bail!("expected NotFound, got {other:?}"),
    }
    // A tenant that does not exist.
    let ghost = tenant_id("ghost");
    match store
        .put_document(
            doc_publishing(&ghost, "queue", "q1", "{}", "ghost tenant"),
            Expect::Any,
        )
        .await
    {
        Err(Error::NotFound { what }) => assert!(what.contains(ghost.as_str()), "{what}"),
        other => bail!("expected NotFound, got {other:?}"),
    }
    // Bad input.
    assert!(matches!(
        store
            .put_document(
                doc_publishing(&a, "queue", "q1", "{}", "v0"),
                Expect::Version(0)
            )
            .await,
        Err(Error::Invalid { .. })
    ));

    assert_eq!(store.document(&a, "queue", "q1").await?, Some(stored));
    assert_eq!(store.document(&a, "queue", "q2").await?, None);
    assert_eq!(store.document(&ghost, "queue", "q1").await?, None);
    assert_eq!(
        outbox(&store).await?,
        published,
        "no event for a failed write"
    );
    Ok(())
}

async fn document_writes_publish_exactly_when_they_commit(store: Arc<dyn Store>) -> Result<()> {
    let a = tenant_id("a");
    store.create_tenant(new_tenant(&a)).await?;
    store
        .put_document(doc_publishing(&a, "queue", "q1", "{}", "1"), Expect::Absent)
        .await?;
    store
        .put_document(
            doc_publishing(&a, "queue", "q1", "{}", "2"),
            Expect::Version(1),
        )
        .await?;
    store
        .put_document(doc_publishing(&a, "queue", "q1", "{}", "3"), Expect::Any)
        .await?;
    // A write without an entry publishes nothing.
    store
        .put_document(doc(&a, "queue", "quiet", "", "{}"), Expect::Any)
        .await?;
    assert!(
        store
            .delete_document(&a, "queue", "q1", Expect::Version(3), entry("k-del", "4"))
            .await?
    );
    // Deleting what is not there commits nothing and publishes nothing.
    assert!(
        !store
            .delete_document(&a, "queue", "q1", Expect::Any, entry("k-del", "never"))
            .await?
    );

    let key = a.to_string();
    let expected = vec![
        (key.clone(), key.clone(), "1".to_owned()),
        (key.clone(), key.clone(), "2".to_owned()),
        (key.clone(), key.clone(), "3".to_owned()),
        (key.clone(), "k-del".to_owned(), "4".to_owned()),
    ];
    assert_eq!(outbox(&store).await?, expected);

    // Payload bytes are kept exactly, not as text.
    let binary = vec![0u8, 159, 146, 150, 255];
    store
        .put_document(
            DocumentWrite {
                outbox: Some(OutboxEntry {
                    key: "bin".to_owned(),
                    payload: binary.clone(),
                }),
                ..doc(&a, "queue", "q9", "", "{}")
            },
            Expect::Any,
        )
        .await?;
    let rows = store.outbox_pending(1000).await?;
    assert_eq!(rows.last().map(|r| r.payload.clone()), Some(binary));
    Ok(())
}

/// A builder that publishes `kind/id@version` and counts its calls.
fn versioned_event(calls: &Arc<std::sync::atomic::AtomicUsize>) -> Option<OutboxFn> {
    let calls = calls.clone();
    Some(Box::new(move |stored| {
        calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        OutboxEntry {
            key: stored.tenant.to_string(),
            payload: format!("{}/{}@{}", stored.kind, stored.id, stored.version).into_bytes(),
        }
    }))
}

async fn document_event_built_from_the_stored_version(store: Arc<dyn Store>) -> Result<()> {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let a = tenant_id("a");
    store.create_tenant(new_tenant(&a)).await?;
    let calls = Arc::new(AtomicUsize::new(0));

    // Any does not know the version it will produce: the builder is told.
    for _ in 0..3 {
        store
            .put_document_with(
                doc(&a, "queue", "q1", "", "{}"),
                Expect::Any,
                versioned_event(&calls),
            )
            .await?;
    }
    store
        .put_document_with(
            doc(&a, "queue", "q1", "", "{}"),
            Expect::Version(3),
            versioned_event(&calls),
        )
        .await?;
    assert_eq!(calls.load(Ordering::SeqCst), 4);

    // Failed writes never call it and publish nothing.
    assert!(matches!(
        store
            .put_document_with(
                doc(&a, "queue", "q1", "", "{}"),
                Expect::Absent,
                versioned_event(&calls)
            )
            .await,
        Err(Error::Conflict { .. })
    ));
    assert!(matches!(
        store
            .put_document_with(
                doc(&a, "queue", "q1", "", "{}"),
                Expect::Version(1),
                versioned_event(&calls)
            )
            .await,
        Err(Error::VersionMismatch { current: 4, .. })
    ));
    assert_eq!(calls.load(Ordering::SeqCst), 4);
    // A fixed entry and a builder together are refused before anything happens.
    assert!(matches!(
        store
            .put_document_with(
                doc_publishing(&a, "queue", "q2", "{}", "fixed"),
                Expect::Any,
                versioned_event(&calls)
            )
            .await,
        Err(Error::Invalid { what: "outbox", .. })
    ));
    // An invalid built entry fails the write: nothing is stored.
    let bad: OutboxFn = Box::new(|_| OutboxEntry {
        key: String::new(),
        payload: Vec::new(),
    });
    assert!(matches!(
        store
            .put_document_with(doc(&a, "queue", "q3", "", "{}"), Expect::Any, Some(bad))
            .await,
        Err(Error::Invalid {
            what: "outbox key",
            ..
        })
    ));
    assert_eq!(store.document(&a, "queue", "q3").await?, None);
    assert_eq!(store.document(&a, "queue", "q2").await?, None);

    let payloads: Vec<String> = outbox(&store).await?.into_iter().map(|r| r.2).collect();
    assert_eq!(
        payloads,
        ["queue/q1@1", "queue/q1@2", "queue/q1@3", "queue/q1@4"]
    );
    Ok(())
}

async fn document_delete_semantics(store: Arc<dyn Store>) -> Result<()> {
    let a = tenant_id("a");
    store.create_tenant(new_tenant(&a)).await?;
    store
        .put_document(doc(&a, "ivr-menu", "main", "Main", "{}"), Expect::Absent)
        .await?;
    store
        .put_document(
            doc(&a, "ivr-menu", "main", "Main", "{}"),
            Expect::Version(1),
        )
        .await?;

    match store
        .delete_document(&a, "ivr-menu", "main", Expect::Version(1), entry("k", "x"))
        .await
    {
        Err(Error::VersionMismatch { current, .. }) => assert_eq!(current, 2),
        other => bail!("expected VersionMismatch, got {other:?}"),
    }
    assert!(matches!(
        store
            .delete_document(&a, "ivr-menu", "main", Expect::Absent, None)
            .await,
        Err(Error::Invalid { .. })
    ));
    assert!(store.document(&a, "ivr-menu", "main").await?.is_some());
    assert!(outbox(&store).await?.is_empty());

    assert!(
        store
            .delete_document(&a, "ivr-menu", "main", Expect::Version(2), None)
            .await?
    );
    assert_eq!(store.document(&a, "ivr-menu", "main").await?, None);
    assert!(
        !store
            .delete_document(&a, "ivr-menu", "main", Expect::Any, None)
            .await?
    );
    assert!(matches!(
        store
            .delete_document(&a, "ivr-menu", "main", Expect::Version(2), None)
            .await,
        Err(Error::NotFound { .. })
    ));
    // An id that cannot exist is simply absent.
    assert!(
        !store
            .delete_document(&a, "ivr-menu", "no such/id", Expect::Any, None)
            .await?
    );

    // Created again, it starts over at version 1.
    let again = store
        .put_document(doc(&a, "ivr-menu", "main", "Main", "{}"), Expect::Absent)
        .await?;
    assert_eq!(again.version, 1);
    Ok(())
}

async fn documents_page_by_id_and_name_prefix(store: Arc<dyn Store>) -> Result<()> {
    let a = tenant_id("a");
    store.create_tenant(new_tenant(&a)).await?;
    for (id, name) in [
        ("q2", "Sales 2"),
        ("q10", "Support"),
        ("a", "Überlauf"),
        ("Z", "Sales 1"),
        ("q1", "sales lowercase"),
        ("b-x", "Night"),
    ] {
        store
            .put_document(doc(&a, "queue", id, name, "{}"), Expect::Absent)
            .await?;
    }
    // Same ids under another kind are not listed.
    store
        .put_document(doc(&a, "agent", "a", "Sales agent", "{}"), Expect::Absent)
        .await?;

    let list = |after: Option<&str>, limit: u32, prefix: Option<&str>| {
        let store = store.clone();
        let a = a.clone();
        let page = Page {
            after_id: after.map(str::to_owned),
            limit,
            name_prefix: prefix.map(str::to_owned),
        };
        async move {
            let docs = store.documents(&a, "queue", page).await?;
            anyhow::Ok(docs.into_iter().map(|d| d.id).collect::<Vec<_>>())
        }
    };

    // Bytewise id order: uppercase before lowercase, "q10" before "q2".
    assert_eq!(
        list(None, 100, None).await?,
        ["Z", "a", "b-x", "q1", "q10", "q2"]
    );
    assert_eq!(list(None, 2, None).await?, ["Z", "a"]);
    assert_eq!(list(Some("a"), 2, None).await?, ["b-x", "q1"]);
    assert_eq!(list(Some("q1"), 2, None).await?, ["q10", "q2"]);
    assert!(list(Some("q2"), 2, None).await?.is_empty());
    // A cursor that is not an id is still a position.
    assert_eq!(list(Some("p"), 100, None).await?, ["q1", "q10", "q2"]);

    // Prefix is case-sensitive and counts characters, not bytes.
    assert_eq!(list(None, 100, Some("Sales")).await?, ["Z", "q2"]);
    assert_eq!(list(Some("Z"), 100, Some("Sales")).await?, ["q2"]);
    assert_eq!(list(None, 1, Some("Sales")).await?, ["Z"]);
    assert_eq!(list(None, 100, Some("sales")).await?, ["q1"]);
    assert_eq!(list(None, 100, Some("Üb")).await?, ["a"]);
    assert!(list(None, 100, Some("üb")).await?.is_empty());
    assert_eq!(list(None, 100, Some("")).await?.len(), 6);
    assert!(list(None, 100, Some("Sales 1 and more")).await?.is_empty());

    // Oversized limits are capped, not refused; zero is refused.
    assert_eq!(list(None, u32::MAX, None).await?.len(), 6);
    assert!(matches!(
        store
            .documents(
                &a,
                "queue",
                Page {
                    limit: 0,
                    ..Page::default()
                }
            )
            .await,
        Err(Error::Invalid { what: "limit", .. })
    ));
    Ok(())
}

async fn documents_listing_is_capped_at_1000(store: Arc<dyn Store>) -> Result<()> {
    let a = tenant_id("a");
    store.create_tenant(new_tenant(&a)).await?;
    for i in 0..1001 {
        store
            .put_document(
                doc(&a, "agent", &format!("ag{i:04}"), "", "{}"),
                Expect::Absent,
            )
            .await?;
    }
    let page = store
        .documents(
            &a,
            "agent",
            Page {
                limit: 5000,
                ..Page::default()
            },
        )
        .await?;
    assert_eq!(page.len(), 1000);
    assert_eq!(page.last().map(|d| d.id.as_str()), Some("ag0999"));
    let rest = store
        .documents(
            &a,
            "agent",
            Page {
                after_id: Some("ag0999".to_owned()),
                limit: 5000,
                name_prefix: None,
            },
        )
        .await?;
    assert_eq!(
        rest.iter().map(|d| d.id.as_str()).collect::<Vec<_>>(),
        ["ag1000"]
    );
    Ok(())
}

async fn document_input_is_validated(store: Arc<dyn Store>) -> Result<()> {
    let a = tenant_id("a");
    store.create_tenant(new_tenant(&a)).await?;
    let cases = [
        (doc(&a, "", "q1", "", "{}"), "document kind"),
        (doc(&a, "queue", "", "", "{}"), "document id"),
        (doc(&a, "queue", "q 1", "", "{}"), "document id"),
        (doc(&a, "queue", "../q1", "", "{}"), "document id"),
        (doc(&a, "queue", &"q".repeat(65), "", "{}"), "document id"),
        (
            doc(&a, "queue", "q1", &"n".repeat(257), "{}"),
            "document name",
        ),
        (doc(&a, "queue", "q1", "nul\0", "{}"), "document name"),
        (
            doc(&a, "queue", "q1", "", "{\"a\":\"\0\"}"),
            "document body",
        ),
        (
            doc(&a, "queue", "q1", "", &" ".repeat((1 << 20) + 1)),
            "document body",
        ),
        (
            DocumentWrite {
                outbox: entry("", "x"),
                ..doc(&a, "queue", "q1", "", "{}")
            },
            "outbox key",
        ),
    ];
    for (bad, field) in cases {
        match store.put_document(bad, Expect::Any).await {
            Err(Error::Invalid { what, .. }) => assert_eq!(what, field),
            other => bail!("{field}: expected Invalid, got {other:?}"),
        }
    }
    assert!(
        store
            .documents(&a, "queue", Page::default())
            .await?
            .is_empty(),
        "nothing was stored"
    );
    assert!(outbox(&store).await?.is_empty(), "nothing was published");

    // Reads: a kind is the caller's own word and must be valid; an id that cannot exist
    // is just not found.
    assert!(matches!(
        store.document(&a, "bad kind", "q1").await,
        Err(Error::Invalid { .. })
    ));
    assert_eq!(store.document(&a, "queue", "bad id\0").await?, None);
    assert!(matches!(
        store
            .documents(
                &a,
                "queue",
                Page {
                    name_prefix: Some("\0".to_owned()),
                    ..Page::default()
                }
            )
            .await,
        Err(Error::Invalid { .. })
    ));
    Ok(())
}

async fn documents_are_isolated_between_tenants(store: Arc<dyn Store>) -> Result<()> {
    let a = tenant_id("a");
    let b = tenant_id("b");
    store.create_tenant(new_tenant(&a)).await?;
    store.create_tenant(new_tenant(&b)).await?;
    let a_doc = store
        .put_document(
            doc_publishing(&a, "queue", "q1", r#"{"owner":"a"}"#, "a created"),
            Expect::Absent,
        )
        .await?;
    let published = outbox(&store).await?;

    // Read, list.
    assert_eq!(store.document(&b, "queue", "q1").await?, None);
    assert!(
        store
            .documents(&b, "queue", Page::default())
            .await?
            .is_empty()
    );
    assert!(
        store
            .documents(
                &b,
                "queue",
                Page {
                    name_prefix: Some("q".to_owned()),
                    ..Page::default()
                }
            )
            .await?
            .is_empty()
    );
    // Update with A's version: not found (no hint that it exists elsewhere).
    match store
        .put_document(
            doc_publishing(&b, "queue", "q1", r#"{"owner":"b"}"#, "b hijack"),
            Expect::Version(1),
        )
        .await
    {
        Err(Error::NotFound { .. }) => {}
        other => bail!("expected NotFound, got {other:?}"),
    }
    // Delete.
    assert!(
        !store
            .delete_document(&b, "queue", "q1", Expect::Any, entry("b", "b delete"))
            .await?
    );
    assert!(matches!(
        store
            .delete_document(&b, "queue", "q1", Expect::Version(1), None)
            .await,
        Err(Error::NotFound { .. })
    ));
    assert_eq!(
        store.document(&a, "queue", "q1").await?,
        Some(a_doc.clone())
    );
    assert_eq!(
        outbox(&store).await?,
        published,
        "b's failures published nothing"
    );

    // B's own q1 is another document: creating, updating and deleting it leaves A's alone.
    let b_doc = store
        .put_document(
            doc(&b, "queue", "q1", "B", r#"{"owner":"b"}"#),
            Expect::Absent,
        )
        .await?;
    assert_eq!(b_doc.version, 1);
    store
        .put_document(
            doc(&b, "queue", "q1", "B", r#"{"owner":"b2"}"#),
            Expect::Any,
        )
        .await?;
    assert!(
        store
            .delete_document(&b, "queue", "q1", Expect::Version(2), None)
            .await?
    );
    assert_eq!(
        store.document(&a, "queue", "q1").await?,
        Some(a_doc.clone())
    );
    assert_eq!(
        store.documents(&a, "queue", Page::default()).await?,
        vec![a_doc]
    );
    Ok(())
}

async fn outbox_is_oldest_first_until_acknowledged(store: Arc<dyn Store>) -> Result<()> {
    let before = SystemTime::now() - Duration::from_secs(60);
    let a = tenant_id("a");
    let b = tenant_id("b");
    store.create_tenant(new_tenant(&a)).await?;
    store.create_tenant(new_tenant(&b)).await?;
    for (tenant, n) in [(&a, 1), (&b, 2), (&a, 3), (&b, 4), (&a, 5)] {
        store
            .put_document(
                doc_publishing(tenant, "queue", &format!("q{n}"), "{}", &format!("e{n}")),
                Expect::Absent,
            )
            .await?;
    }
    let pending = store.outbox_pending(3).await?;
    assert_eq!(
        pending
            .iter()
            .map(|r| (r.tenant.clone(), r.payload.clone()))
            .collect::<Vec<_>>(),
        vec![
            (a.clone(), b"e1".to_vec()),
            (b.clone(), b"e2".to_vec()),
            (a.clone(), b"e3".to_vec()),
        ]
    );
    assert!(pending.windows(2).all(|w| w[0].seq < w[1].seq));
    assert!(pending.iter().all(|r| r.created_at > before));

    // Acknowledged rows go; the rest stay, in order.
    let first_two: Vec<i64> = pending.iter().take(2).map(|r| r.seq).collect();
    assert_eq!(store.outbox_ack(&first_two).await?, 2);
    assert_eq!(store.outbox_ack(&first_two).await?, 0, "already gone");
    assert_eq!(store.outbox_ack(&[]).await?, 0);
    assert_eq!(store.outbox_ack(&[i64::MAX, -1]).await?, 0);
    let rest: Vec<String> = outbox(&store).await?.into_iter().map(|r| r.2).collect();
    assert_eq!(rest, ["e3", "e4", "e5"]);

    // New rows come after the old ones, even after acknowledgements.
    store
        .put_document(
            doc_publishing(&b, "queue", "q6", "{}", "e6"),
            Expect::Absent,
        )
        .await?;
    let all = store.outbox_pending(1000).await?;
    assert!(all.windows(2).all(|w| w[0].seq < w[1].seq));
    assert!(
        all.iter().all(|r| !first_two.contains(&r.seq)),
        "seqs are not reused"
    );
    let seqs: Vec<i64> = all.iter().map(|r| r.seq).collect();
    assert_eq!(store.outbox_ack(&seqs).await?, 4);
    assert!(store.outbox_pending(10).await?.is_empty());
    assert!(matches!(
        store.outbox_pending(0).await,
        Err(Error::Invalid { .. })
    ));
    Ok(())
}

async fn tenant_number_and_key_changes_publish_when_they_commit(
    store: Arc<dyn Store>,
) -> Result<()> {
    let a = tenant_id("a");
    store
        .create_tenant_with(new_tenant(&a), entry("tenants", "a created"))
        .await?;
    assert!(matches!(
        store
            .create_tenant_with(new_tenant(&a), entry("tenants", "dup"))
            .await,
        Err(Error::Conflict { .. })
    ));
    store
        .set_tenant_status_with(&a, TenantStatus::Suspended, entry("tenants", "a suspended"))
        .await?;
    assert!(matches!(
        store
            .set_tenant_status_with(
                &tenant_id("ghost"),
                TenantStatus::Active,
                entry("tenants", "x")
            )
            .await,
        Err(Error::NotFound { .. })
    ));
    store
        .add_number_with(number(&a, "+15550100", "main"), entry("numbers", "added"))
        .await?;
    assert!(matches!(
        store
            .add_number_with(number(&a, "+15550100", "main"), entry("numbers", "dup"))
            .await,
        Err(Error::Conflict { .. })
    ));
    assert!(
        !store
            .remove_number_with(&a, "+15550199", entry("numbers", "not there"))
            .await?
    );
    assert!(
        store
            .remove_number_with(&a, "+15550100", entry("numbers", "removed"))
            .await?
    );
    store
        .create_api_key_with(api_key(&a, "k1", 1, "admin"), entry("keys", "k1 created"))
        .await?;
    assert!(matches!(
        store
            .create_api_key_with(api_key(&a, "k1", 2, "admin"), entry("keys", "dup"))
            .await,
        Err(Error::Conflict { .. })
    ));
    assert!(
        store
            .revoke_api_key_with(&a, "k1", entry("keys", "k1 revoked"))
            .await?
    );
    assert!(
        !store
            .revoke_api_key_with(&a, "k1", entry("keys", "revoked twice"))
            .await?
    );

    let payloads: Vec<(String, String)> = outbox(&store)
        .await?
        .into_iter()
        .map(|(tenant, key, payload)| {
            assert_eq!(tenant, a.as_str());
            (key, payload)
        })
        .collect();
    let expected = [
        ("tenants", "a created"),
        ("tenants", "a suspended"),
        ("numbers", "added"),
        ("numbers", "removed"),
        ("keys", "k1 created"),
        ("keys", "k1 revoked"),
    ]
    .map(|(k, p)| (k.to_owned(), p.to_owned()));
    assert_eq!(payloads, expected);
    Ok(())
}

// ---------------------------------------------------------------------------------
// API keys

async fn api_key_lifecycle(store: Arc<dyn Store>) -> Result<()> {
    let before = SystemTime::now() - Duration::from_secs(60);
    let a = tenant_id("a");
    store.create_tenant(new_tenant(&a)).await?;

    let k1 = store.create_api_key(api_key(&a, "k1", 1, "admin")).await?;
    assert_eq!((k1.id.as_str(), &k1.tenant), ("k1", &a));
    assert_eq!(k1.hash, [1; 32]);
    assert_eq!(k1.role, "admin");
    assert_eq!(k1.label, "key k1");
    assert!(k1.created_at > before);
    assert!(k1.is_active());
    assert_eq!((k1.revoked_at, k1.last_used_at), (None, None));
    assert_eq!(store.api_key_by_hash(&[1; 32]).await?, Some(k1.clone()));
    assert_eq!(store.api_key_by_hash(&[9; 32]).await?, None);

    let k2 = store
        .create_api_key(api_key(&a, "k2", 2, "readonly"))
        .await?;
    assert_eq!(store.api_keys(&a).await?, vec![k1.clone(), k2.clone()]);

    // Last use moves forward only; unknown ids are ignored.
    let used = SystemTime::UNIX_EPOCH + Duration::from_micros(1_800_000_000_123_456);
    store.touch_api_key("k1", used).await?;
    store
        .touch_api_key("k1", used - Duration::from_secs(10))
        .await?;
    store.touch_api_key("nope", used).await?;
    store.touch_api_key("not an id", used).await?;
    let touched = store.api_key_by_hash(&[1; 32]).await?.context("k1")?;
    assert_eq!(touched.last_used_at, Some(used));
    assert!(matches!(
        store
            .touch_api_key("k1", SystemTime::UNIX_EPOCH - Duration::from_secs(1))
            .await,
        Err(Error::Invalid { .. })
    ));

    // Revoked: still found by hash, with the time, so the caller can say "revoked".
    assert!(store.revoke_api_key(&a, "k1").await?);
    let revoked = store.api_key_by_hash(&[1; 32]).await?.context("k1")?;
    assert!(!revoked.is_active());
    let revoked_at = revoked.revoked_at.context("revoked_at")?;
    assert!(revoked_at > before);
    assert!(!store.revoke_api_key(&a, "k1").await?, "already revoked");
    assert_eq!(
        store
            .api_key_by_hash(&[1; 32])
            .await?
            .and_then(|k| k.revoked_at),
        Some(revoked_at),
        "the first revocation time is kept"
    );
    assert!(!store.revoke_api_key(&a, "missing").await?);
    assert!(!store.revoke_api_key(&a, "bad id!").await?);
    // k2 is unaffected; the list still shows k1, revoked.
    let keys = store.api_keys(&a).await?;
    assert_eq!(keys.len(), 2);
    assert!(!keys[0].is_active() && keys[1].is_active());
    assert_eq!(keys[1], k2);
    Ok(())
}

async fn api_key_conflicts_and_bad_input(store: Arc<dyn Store>) -> Result<()> {
    let a = tenant_id("a");
    store.create_tenant(new_tenant(&a)).await?;
    let k1 = store.create_api_key(api_key(&a, "k1", 1, "agent")).await?;
    match store.create_api_key(api_key(&a, "k1", 2, "agent")).await {
        Err(Error::Conflict { what }) => assert!(what.contains("k1"), "{what}"),
        other => bail!("expected Conflict, got {other:?}"),
    }
    assert!(matches!(
        store.create_api_key(api_key(&a, "k2", 1, "agent")).await,
        Err(Error::Conflict { .. })
    ));
    let ghost = tenant_id("ghost");
    match store
        .create_api_key(api_key(&ghost, "k3", 3, "agent"))
        .await
    {
        Err(Error::NotFound { what }) => assert!(what.contains(ghost.as_str()), "{what}"),
        other => bail!("expected NotFound, got {other:?}"),
    }
    for (bad, field) in [
        (api_key(&a, "", 4, "agent"), "api key id"),
        (api_key(&a, "k 4", 4, "agent"), "api key id"),
        (api_key(&a, "k4", 4, "root"), "api key role"),
        (api_key(&a, "k4", 4, "Admin"), "api key role"),
        (
            ApiKeyNew {
                label: "l\0".to_owned(),
                ..api_key(&a, "k4", 4, "agent")
            },
            "api key label",
        ),
    ] {
        match store.create_api_key(bad).await {
            Err(Error::Invalid { what, .. }) => assert_eq!(what, field),
            other => bail!("{field}: expected Invalid, got {other:?}"),
        }
    }
    assert_eq!(store.api_keys(&a).await?, vec![k1]);
    assert_eq!(store.api_key_by_hash(&[4; 32]).await?, None);
    Ok(())
}

async fn api_keys_are_isolated_between_tenants(store: Arc<dyn Store>) -> Result<()> {
    let a = tenant_id("a");
    let b = tenant_id("b");
    store.create_tenant(new_tenant(&a)).await?;
    store.create_tenant(new_tenant(&b)).await?;
    let ka = store.create_api_key(api_key(&a, "ka", 1, "admin")).await?;
    let kb = store.create_api_key(api_key(&b, "kb", 2, "admin")).await?;

    assert_eq!(store.api_keys(&b).await?, vec![kb.clone()]);
    assert!(!store.revoke_api_key(&b, "ka").await?, "b revoked a's key");
    assert!(
        !store
            .revoke_api_key_with(&b, "ka", entry("keys", "b revokes a"))
            .await?
    );
    assert!(outbox(&store).await?.is_empty());
    let still = store.api_key_by_hash(&[1; 32]).await?.context("ka")?;
    assert!(still.is_active(), "a's key stays valid");
    assert_eq!(still, ka);
    // The key a hash authenticates names its own tenant.
    assert_eq!(
        store.api_key_by_hash(&[2; 32]).await?.map(|k| k.tenant),
        Some(b.clone())
    );
    // Neither the hash nor the id of a's key can be reused by b.
    assert!(matches!(
        store.create_api_key(api_key(&b, "kb2", 1, "admin")).await,
        Err(Error::Conflict { .. })
    ));
    assert_eq!(store.api_keys(&a).await?, vec![ka]);
    Ok(())
}

// ---------------------------------------------------------------------------------
// Idempotency

async fn idempotency_first_answer_wins(store: Arc<dyn Store>) -> Result<()> {
    let before = SystemTime::now() - Duration::from_secs(60);
    let a = tenant_id("a");
    store.create_tenant(new_tenant(&a)).await?;
    assert_eq!(store.idempotency_get(&a, "req-1").await?, None);

    assert!(
        store
            .idempotency_put(&a, "req-1", &[7; 32], 201, r#"{"id":"q1"}"#)
            .await?
    );
    let first = store
        .idempotency_get(&a, "req-1")
        .await?
        .context("stored")?;
    assert_eq!(first.request_hash, [7; 32]);
    assert_eq!(first.status, 201);
    assert_eq!(first.body, r#"{"id":"q1"}"#);
    assert!(first.created_at > before);

    // A second answer under the same key is not stored; the first stays.
    assert!(
        !store
            .idempotency_put(&a, "req-1", &[8; 32], 409, r#"{"error":"x"}"#)
            .await?
    );
    assert_eq!(store.idempotency_get(&a, "req-1").await?, Some(first));

    for (status, body, key, field) in [
        (99u16, "", "req-2", "response status"),
        (600, "", "req-2", "response status"),
        (200, "\0", "req-2", "response body"),
        (200, "", "", "idempotency key"),
        (200, "", "nul\0", "idempotency key"),
    ] {
        match store.idempotency_put(&a, key, &[1; 32], status, body).await {
            Err(Error::Invalid { what, .. }) => assert_eq!(what, field),
            other => bail!("{field}: expected Invalid, got {other:?}"),
        }
    }
    let long_key = "k".repeat(256);
    assert!(matches!(
        store.idempotency_get(&a, &long_key).await,
        Err(Error::Invalid { .. })
    ));
    let ghost = tenant_id("ghost");
    assert!(matches!(
        store
            .idempotency_put(&ghost, "req-1", &[1; 32], 201, "{}")
            .await,
        Err(Error::NotFound { .. })
    ));
    assert_eq!(store.idempotency_get(&a, "req-2").await?, None);
    Ok(())
}

async fn idempotency_expires_only_older_records(store: Arc<dyn Store>) -> Result<()> {
    let a = tenant_id("a");
    store.create_tenant(new_tenant(&a)).await?;
    assert!(
        store
            .idempotency_put(&a, "old", &[1; 32], 201, "{}")
            .await?
    );
    tokio::time::sleep(Duration::from_millis(100)).await;
    let cut = SystemTime::now();
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(
        store
            .idempotency_put(&a, "new", &[2; 32], 201, "{}")
            .await?
    );

    assert_eq!(
        store
            .idempotency_expire(cut - Duration::from_secs(3600))
            .await?,
        0
    );
    assert_eq!(store.idempotency_expire(cut).await?, 1);
    assert_eq!(store.idempotency_get(&a, "old").await?, None);
    assert!(store.idempotency_get(&a, "new").await?.is_some());
    // The key is free again after expiry.
    assert!(
        store
            .idempotency_put(&a, "old", &[3; 32], 200, "{}")
            .await?
    );
    assert_eq!(
        store
            .idempotency_expire(SystemTime::now() + Duration::from_secs(3600))
            .await?,
        2
    );
    assert!(matches!(
        store
            .idempotency_expire(SystemTime::UNIX_EPOCH - Duration::from_secs(1))
            .await,
        Err(Error::Invalid { .. })
    ));
    Ok(())
}

async fn idempotency_is_isolated_between_tenants(store: Arc<dyn Store>) -> Result<()> {
    let a = tenant_id("a");
    let b = tenant_id("b");
    store.create_tenant(new_tenant(&a)).await?;
    store.create_tenant(new_tenant(&b)).await?;
    assert!(
        store
            .idempotency_put(&a, "same", &[1; 32], 201, "a")
            .await?
    );
    assert_eq!(store.idempotency_get(&b, "same").await?, None);
    // B's record under the same key is its own and leaves A's alone.
    assert!(
        store
            .idempotency_put(&b, "same", &[2; 32], 202, "b")
            .await?
    );
    let a_rec = store.idempotency_get(&a, "same").await?.context("a")?;
    let b_rec = store.idempotency_get(&b, "same").await?.context("b")?;
    assert_eq!((a_rec.status, a_rec.body.as_str()), (201, "a"));
    assert_eq!((b_rec.status, b_rec.body.as_str()), (202, "b"));
    Ok(())
}

// ---------------------------------------------------------------------------------
// Call log

async fn call_log_projects_events(store: Arc<dyn Store>) -> Result<()> {
    let a = tenant_id("a");
    store.create_tenant(new_tenant(&a)).await?;

    let offered = event(&a, "c1", "CallOffered", t(0));
    let ivr = event(&a, "c1", "IvrPathChosen", t(5));
    let queued = event(&a, "c1", "CallQueued", t(5)); // same time as ivr: ordered by id
    let connected = event(&a, "c1", "CallConnected", t(20));
    let ended = event(&a, "c1", "CallEnded", t(80));
    let steps = [
        (
            offered.clone(),
            CallPatch {
                started_at: Some(t(0)),
                caller: Some("+4930111".to_owned()),
                did: Some("+18005550100".to_owned()),
                ..CallPatch::default()
            },
        ),
        (
            ivr.clone(),
            CallPatch {
                ivr_path: Some(vec!["2".to_owned()]),
                ..CallPatch::default()
            },
        ),
        (
            queued.clone(),
            CallPatch {
                queue: Some(queue("support")),
                ..CallPatch::default()
            },
        ),
        (
            connected.clone(),
            CallPatch {
                answered_at: Some(t(20)),
                agent: Some(agent("alice")),
                wait_seconds: Some(15),
                ..CallPatch::default()
            },
        ),
        (
            ended.clone(),
            CallPatch {
                ended_at: Some(t(80)),
                disposition: Some(Disposition::Answered),
                talk_seconds: Some(60),
                ..CallPatch::default()
            },
        ),
    ];
    for (e, patch) in steps {
        assert!(store.apply_call_event(e, patch).await?);
    }

    let expected = CallRecord {
        tenant: a.clone(),
        call: call_id("c1"),
        caller: Some("+4930111".to_owned()),
        did: Some("+18005550100".to_owned()),
        started_at: t(0),
        answered_at: Some(t(20)),
        ended_at: Some(t(80)),
        disposition: Some(Disposition::Answered),
        ivr_path: vec!["2".to_owned()],
        queue: Some(queue("support")),
        agent: Some(agent("alice")),
        wait_seconds: Some(15),
        talk_seconds: Some(60),
    };
    let (record, events) = store.call(&a, &call_id("c1")).await?.context("c1")?;
    assert_eq!(record, expected);
    let mut same_time = [ivr, queued];
    same_time.sort_by_key(|e| e.event);
    let [first, second] = same_time;
    assert_eq!(events, vec![offered, first, second, connected, ended]);
    assert_eq!(
        store.calls(&a, CallFilter::default()).await?,
        vec![expected]
    );
    assert_eq!(store.call(&a, &call_id("c404")).await?, None);

    // Events out of order: the call is first seen when answered, and starts, provisionally,
    // then; the offer arriving later moves the start back and names the caller.
    let late_answer = event(&a, "c2", "CallConnected", t(130));
    assert!(
        store
            .apply_call_event(
                late_answer,
                CallPatch {
                    answered_at: Some(t(130)),
                    agent: Some(agent("bob")),
                    ..CallPatch::default()
                }
            )
            .await?
    );
    let provisional = store.call(&a, &call_id("c2")).await?.context("c2")?.0;
    assert_eq!(provisional.started_at, t(130));
    assert_eq!(provisional.caller, None);
    assert!(provisional.ivr_path.is_empty());
    assert!(
        store
            .apply_call_event(
                event(&a, "c2", "CallOffered", t(100)),
                CallPatch {
                    started_at: Some(t(100)),
                    caller: Some(String::new()),
                    ..CallPatch::default()
                }
            )
            .await?
    );
    let (c2, c2_events) = store.call(&a, &call_id("c2")).await?.context("c2")?;
    assert_eq!(c2.started_at, t(100));
    assert_eq!(
        c2.caller.as_deref(),
        Some(""),
        "a withheld caller is kept as given"
    );
    assert_eq!(c2.answered_at, Some(t(130)));
    assert_eq!(c2.agent, Some(agent("bob")));
    assert_eq!(
        c2_events
            .iter()
            .map(|e| e.kind.as_str())
            .collect::<Vec<_>>(),
        ["CallOffered", "CallConnected"],
        "events by time, not arrival"
    );

    // The whole time range is kept to the microsecond.
    let far = SystemTime::UNIX_EPOCH + Duration::from_micros(253_402_300_799_999_999);
    assert!(
        store
            .apply_call_event(
                event(&a, "c3", "CallOffered", far),
                CallPatch {
                    started_at: Some(far),
                    ended_at: Some(SystemTime::UNIX_EPOCH),
                    ..CallPatch::default()
                }
            )
            .await?
    );
    let (c3, c3_events) = store.call(&a, &call_id("c3")).await?.context("c3")?;
    assert_eq!(c3.started_at, far);
    assert_eq!(c3.ended_at, Some(SystemTime::UNIX_EPOCH));
    assert_eq!(c3_events[0].at, far);
    Ok(())
}

async fn call_event_redelivery_changes_nothing(store: Arc<dyn Store>) -> Result<()> {
    let a = tenant_id("a");
    store.create_tenant(new_tenant(&a)).await?;
    let offered = event(&a, "c1", "CallOffered", t(0));
    let patch = CallPatch {
        started_at: Some(t(0)),
        caller: Some("+4930111".to_owned()),
        queue: Some(queue("sales")),
        ..CallPatch::default()
    };
    assert!(store.apply_call_event(offered.clone(), patch).await?);
    let before = store.call(&a, &call_id("c1")).await?.context("c1")?;

    // The same event id again, even with other content, changes nothing.
    let again = CallEventRow {
        kind: "CallEnded".to_owned(),
        at: t(50),
        body: r#"{"changed":true}"#.to_owned(),
        ..offered.clone()
    };
    let other_patch = CallPatch {
        // Earlier than the stored start: merging it would move the start back.
        started_at: Some(SystemTime::UNIX_EPOCH + Duration::from_secs(1)),
        ended_at: Some(t(50)),
        disposition: Some(Disposition::Failed),
        queue: Some(queue("night")),
        ..CallPatch::default()
    };
    assert!(
        !store
            .apply_call_event(again.clone(), other_patch.clone())
            .await?
    );
    assert!(
        !store
            .apply_call_event(offered.clone(), CallPatch::default())
            .await?
    );
    // ...also when it names another call: no new call appears.
    let elsewhere = CallEventRow {
        call: call_id("c2"),
        ..again
    };
    assert!(!store.apply_call_event(elsewhere, other_patch).await?);

    assert_eq!(store.call(&a, &call_id("c1")).await?, Some(before));
    assert_eq!(store.call(&a, &call_id("c2")).await?, None);
    assert_eq!(store.calls(&a, CallFilter::default()).await?.len(), 1);
    Ok(())
}

async fn calls_filter_and_cursor_paging(store: Arc<dyn Store>) -> Result<()> {
    let a = tenant_id("a");
    store.create_tenant(new_tenant(&a)).await?;
    use Disposition::{AbandonedInQueue, AfterHours, Answered};
    for (call, start, q, ag, disposition) in [
        ("c1", t(100), Some("sales"), Some("alice"), Answered),
        ("c2", t(200), Some("support"), Some("bob"), AbandonedInQueue),
        ("c3", t(300), Some("sales"), Some("bob"), Answered),
        ("c4", t(300), Some("sales"), None, AbandonedInQueue),
        ("c5", t(400), None, None, AfterHours),
        ("c6", t(300), Some("support"), Some("alice"), Answered),
    ] {
        simple_call(&store, &a, call, start, q, ag, disposition).await?;
    }
    let list = |filter: CallFilter| {
        let store = store.clone();
        let a = a.clone();
        async move {
            let calls = store.calls(&a, filter).await?;
            anyhow::Ok(
                ids(&calls)
                    .into_iter()
                    .map(str::to_owned)
                    .collect::<Vec<_>>(),
            )
        }
    };

    // Newest first; equal start times by call id, descending.
    assert_eq!(
        list(CallFilter::default()).await?,
        ["c5", "c6", "c4", "c3", "c2", "c1"]
    );

    // Cursor paging visits every call once, in order, across the ties.
    let mut seen = Vec::new();
    let mut before = None;
    loop {
        let page = store
            .calls(
                &a,
                CallFilter {
                    limit: 2,
                    before: before.clone(),
                    ..CallFilter::default()
                },
            )
            .await?;
        if page.is_empty() {
            break;
        }
        assert!(page.len() <= 2);
        let last = page.last().context("non-empty")?;
        before = Some((last.started_at, last.call.clone()));
        seen.extend(page.iter().map(|c| c.call.to_string()));
    }
    assert_eq!(seen, ["c5", "c6", "c4", "c3", "c2", "c1"]);

    assert_eq!(
        list(CallFilter {
            since: Some(t(300)),
            ..CallFilter::default()
        })
        .await?,
        ["c5", "c6", "c4", "c3"]
    );
    assert_eq!(
        list(CallFilter {
            queue: Some(queue("sales")),
            ..CallFilter::default()
        })
        .await?,
        ["c4", "c3", "c1"]
    );
    assert_eq!(
        list(CallFilter {
            agent: Some(agent("bob")),
            ..CallFilter::default()
        })
        .await?,
        ["c3", "c2"]
    );
    assert_eq!(
        list(CallFilter {
            disposition: Some(Answered),
            ..CallFilter::default()
        })
        .await?,
        ["c6", "c3", "c1"]
    );
    assert_eq!(
        list(CallFilter {
            queue: Some(queue("sales")),
            disposition: Some(Answered),
            ..CallFilter::default()
        })
        .await?,
        ["c3", "c1"]
    );
    assert_eq!(
        list(CallFilter {
            queue: Some(queue("sales")),
            since: Some(t(200)),
            limit: 1,
            ..CallFilter::default()
        })
        .await?,
        ["c4"]
    );
    assert_eq!(
        list(CallFilter {
            queue: Some(queue("sales")),
            before: Some((t(300), call_id("c4"))),
            ..CallFilter::default()
        })
        .await?,
        ["c3", "c1"]
    );
    assert!(
        list(CallFilter {
            agent: Some(agent("nobody")),
            ..CallFilter::default()
        })
        .await?
        .is_empty()
    );
    assert_eq!(
        list(CallFilter {
            limit: u32::MAX,
            ..CallFilter::default()
        })
        .await?
        .len(),
        6
    );
    assert!(matches!(
        store
            .calls(
                &a,
                CallFilter {
                    limit: 0,
                    ..CallFilter::default()
                }
            )
            .await,
        Err(Error::Invalid { what: "limit", .. })
    ));
    assert!(matches!(
        store
            .calls(
                &a,
                CallFilter {
                    since: Some(SystemTime::UNIX_EPOCH - Duration::from_secs(1)),
                    ..CallFilter::default()
                }
            )
            .await,
        Err(Error::Invalid { what: "since", .. })
    ));
    Ok(())
}

async fn call_log_input_is_validated(store: Arc<dyn Store>) -> Result<()> {
    let a = tenant_id("a");
    store.create_tenant(new_tenant(&a)).await?;
    let ok = event(&a, "c1", "CallOffered", t(0));
    let cases = [
        (
            CallEventRow {
                kind: "Call Offered".to_owned(),
                ..ok.clone()
            },
            CallPatch::default(),
            "call event type",
        ),
        (
            CallEventRow {
                at: SystemTime::UNIX_EPOCH - Duration::from_secs(1),
                ..ok.clone()
            },
            CallPatch::default(),
            "call event time",
        ),
        (
            CallEventRow {
                body: "\0".to_owned(),
                ..ok.clone()
            },
            CallPatch::default(),
            "call event body",
        ),
        (
            ok.clone(),
            CallPatch {
                did: Some("+1\0".to_owned()),
                ..CallPatch::default()
            },
            "dialled number",
        ),
        (
            ok.clone(),
            CallPatch {
                answered_at: Some(
                    SystemTime::UNIX_EPOCH + Duration::from_micros(253_402_300_800_000_000),
                ),
                ..CallPatch::default()
            },
            "answered_at",
        ),
        (
            ok.clone(),
            CallPatch {
                ivr_path: Some(vec!["1\0".to_owned()]),
                ..CallPatch::default()
            },
            "ivr path",
        ),
    ];
    for (e, patch, field) in cases {
        match store.apply_call_event(e, patch).await {
            Err(Error::Invalid { what, .. }) => assert_eq!(what, field),
            other => bail!("{field}: expected Invalid, got {other:?}"),
        }
    }
    // A tenant that does not exist.
    let ghost = tenant_id("ghost");
    match store
        .apply_call_event(
            event(&ghost, "c1", "CallOffered", t(0)),
            CallPatch::default(),
        )
        .await
    {
        Err(Error::NotFound { what }) => assert!(what.contains(ghost.as_str()), "{what}"),
        other => bail!("expected NotFound, got {other:?}"),
    }
    assert!(store.calls(&a, CallFilter::default()).await?.is_empty());
    assert!(store.calls(&ghost, CallFilter::default()).await?.is_empty());
    // Nothing half-stored: the valid event is new.
    assert!(store.apply_call_event(ok, CallPatch::default()).await?);
    Ok(())
}

async fn calls_are_isolated_between_tenants(store: Arc<dyn Store>) -> Result<()> {
    let a = tenant_id("a");
    let b = tenant_id("b");
    store.create_tenant(new_tenant(&a)).await?;
    store.create_tenant(new_tenant(&b)).await?;
    let a_event = event(&a, "c1", "CallOffered", t(0));
    assert!(
        store
            .apply_call_event(
                a_event.clone(),
                CallPatch {
                    started_at: Some(t(0)),
                    caller: Some("+4930111".to_owned()),
                    queue: Some(queue("sales")),
                    ..CallPatch::default()
                }
            )
            .await?
    );
    let a_call = store.call(&a, &call_id("c1")).await?.context("a's c1")?;

    assert!(store.calls(&b, CallFilter::default()).await?.is_empty());
    assert!(
        store
            .calls(
                &b,
                CallFilter {
                    queue: Some(queue("sales")),
                    ..CallFilter::default()
                }
            )
            .await?
            .is_empty()
    );
    assert_eq!(store.call(&b, &call_id("c1")).await?, None);

    // B's event with the same call id and even the same event id is B's own: it neither
    // counts as a redelivery of A's nor touches A's call.
    let b_event = CallEventRow {
        tenant: b.clone(),
        ..a_event
    };
    assert!(
        store
            .apply_call_event(
                b_event,
                CallPatch {
                    started_at: Some(t(50)),
                    caller: Some("+4930222".to_owned()),
                    disposition: Some(Disposition::Failed),
                    ..CallPatch::default()
                }
            )
            .await?
    );
    assert_eq!(store.call(&a, &call_id("c1")).await?, Some(a_call));
    let (b_call, b_events) = store.call(&b, &call_id("c1")).await?.context("b's c1")?;
    assert_eq!(b_call.tenant, b);
    assert_eq!(b_call.caller.as_deref(), Some("+4930222"));
    assert!(b_events.iter().all(|e| e.tenant == b));
    assert_eq!(store.calls(&a, CallFilter::default()).await?.len(), 1);
    Ok(())
}

// ---------------------------------------------------------------------------------
// Tenant deletion

/// Gives `tenant` one of everything; `n` keeps numbers, hashes and keys apart.
async fn populate(store: &Arc<dyn Store>, tenant: &TenantId, n: u8) -> Result<()> {
    store
        .create_tenant_with(
            new_tenant(tenant),
            entry("tenants", &format!("{tenant} created")),
        )
        .await?;
    store
        .add_number(number(tenant, &format!("+1555010{n}"), "main"))
        .await?;
    store
        .put_document(
            doc_publishing(tenant, "queue", "q1", "{}", &format!("{tenant} q1")),
            Expect::Absent,
        )
        .await?;
    store
        .create_api_key(api_key(tenant, &format!("key-{n}"), n, "admin"))
        .await?;
    ensure!(
        store
            .idempotency_put(tenant, "req", &[n; 32], 201, "{}")
            .await?
    );
    simple_call(
        store,
        tenant,
        "c1",
        t(0),
        Some("q1"),
        None,
        Disposition::Answered,
    )
    .await?;
    ensure!(
        store
            .mark_processed("analytics", tenant, &EventId::generate())
            .await?
    );
    Ok(())
}

async fn delete_tenant_removes_everything_of_a_and_nothing_of_b(
    store: Arc<dyn Store>,
) -> Result<()> {
    let a = tenant_id("a");
    let b = tenant_id("b");
    populate(&store, &a, 1).await?;
    populate(&store, &b, 2).await?;
    let b_tenant = store.tenant(&b).await?;
    let b_doc = store.document(&b, "queue", "q1").await?;
    let b_keys = store.api_keys(&b).await?;
    let b_idem = store.idempotency_get(&b, "req").await?;
    let b_call = store.call(&b, &call_id("c1")).await?;
    let b_outbox: Vec<_> = outbox(&store)
        .await?
        .into_iter()
        .filter(|r| r.0 == b.as_str())
        .collect();
    assert_eq!(b_outbox.len(), 2);

    assert!(
        store
            .delete_tenant_with(&a, entry("tenants", "a deleted"))
            .await?
    );

    // Nothing of A is left...
    assert_eq!(store.tenant(&a).await?, None);
    assert!(store.numbers(&a).await?.is_empty());
    assert_eq!(store.resolve_number("+15550101").await?, None);
    assert_eq!(store.document(&a, "queue", "q1").await?, None);
    assert!(
        store
            .documents(&a, "queue", Page::default())
            .await?
            .is_empty()
    );
    assert_eq!(store.api_key_by_hash(&[1; 32]).await?, None);
    assert!(store.api_keys(&a).await?.is_empty());
    assert_eq!(store.idempotency_get(&a, "req").await?, None);
    assert!(store.calls(&a, CallFilter::default()).await?.is_empty());
    assert_eq!(store.call(&a, &call_id("c1")).await?, None);
    // ...but the event announcing the deletion, which outlives it.
    let a_outbox: Vec<_> = outbox(&store)
        .await?
        .into_iter()
        .filter(|r| r.0 == a.as_str())
        .collect();
    assert_eq!(
        a_outbox,
        vec![(a.to_string(), "tenants".to_owned(), "a deleted".to_owned())]
    );

    // All of B is.
    assert_eq!(store.tenant(&b).await?, b_tenant);
    assert_eq!(
        store.resolve_number("+15550102").await?,
        Some(number(&b, "+15550102", "main"))
    );
    assert_eq!(store.document(&b, "queue", "q1").await?, b_doc);
    assert_eq!(store.api_keys(&b).await?, b_keys);
    assert_eq!(store.idempotency_get(&b, "req").await?, b_idem);
    assert_eq!(store.call(&b, &call_id("c1")).await?, b_call);
    let b_after: Vec<_> = outbox(&store)
        .await?
        .into_iter()
        .filter(|r| r.0 == b.as_str())
        .collect();
    assert_eq!(b_after, b_outbox);
    assert_eq!(store.tenants().await?.len(), 1);

    // Deleting again finds nothing and publishes nothing.
    let before = outbox(&store).await?;
    assert!(
        !store
            .delete_tenant_with(&a, entry("tenants", "again"))
            .await?
    );
    assert!(!store.delete_tenant(&tenant_id("ghost")).await?);
    assert_eq!(outbox(&store).await?, before);

    // Late events of the deleted tenant are refused, not resurrected.
    assert!(matches!(
        store
            .apply_call_event(event(&a, "c1", "CallEnded", t(90)), CallPatch::default())
            .await,
        Err(Error::NotFound { .. })
    ));
    // A's number and hash are free; a tenant created with A's id starts empty.
    store.add_number(number(&b, "+15550101", "more")).await?;
    store.create_tenant(new_tenant(&a)).await?;
    assert!(
        store
            .documents(&a, "queue", Page::default())
            .await?
            .is_empty()
    );
    assert!(store.calls(&a, CallFilter::default()).await?.is_empty());
    store
        .create_api_key(api_key(&a, "key-1", 1, "admin"))
        .await?;
    Ok(())
}

// ---------------------------------------------------------------------------------
// Concurrency

async fn concurrent_if_match_writes_have_one_winner(store: Arc<dyn Store>) -> Result<()> {
    let a = tenant_id("a");
    store.create_tenant(new_tenant(&a)).await?;
    store
        .put_document(
            doc_publishing(&a, "queue", "q1", "{}", "created"),
            Expect::Absent,
        )
        .await?;
    let writers: Vec<_> = (0..8)
        .map(|i| {
            let store = store.clone();
            let a = a.clone();
            tokio::spawn(async move {
                store
                    .put_document(
                        doc_publishing(
                            &a,
                            "queue",
                            "q1",
                            &format!("{{\"w\":{i}}}"),
                            &format!("w{i}"),
                        ),
                        Expect::Version(1),
                    )
                    .await
            })
        })
        .collect();
    let mut winners = Vec::new();
    for writer in writers {
        match writer.await? {
            Ok(doc) => winners.push(doc),
            Err(Error::VersionMismatch { current: 2, .. }) => {}
            Err(other) => bail!("expected VersionMismatch at 2, got {other:?}"),
        }
    }
    assert_eq!(winners.len(), 1, "exactly one If-Match write wins");
    let winner = winners.remove(0);
    assert_eq!(winner.version, 2);
    assert_eq!(
        store.document(&a, "queue", "q1").await?,
        Some(winner.clone())
    );
    let published: Vec<String> = outbox(&store).await?.into_iter().map(|r| r.2).collect();
    let body: serde_json::Value = serde_json::from_str(&winner.body)?;
    let winner_payload = format!("w{}", body["w"]);
    assert_eq!(published, ["created".to_owned(), winner_payload]);
    Ok(())
}

async fn concurrent_events_of_one_call_all_apply(store: Arc<dyn Store>) -> Result<()> {
    let a = tenant_id("a");
    store.create_tenant(new_tenant(&a)).await?;
    let appliers: Vec<_> = (0..16u64)
        .map(|i| {
            let store = store.clone();
            let a = a.clone();
            tokio::spawn(async move {
                store
                    .apply_call_event(
                        event(&a, "c1", "Step", t(i)),
                        CallPatch {
                            started_at: Some(t(i)),
                            ..CallPatch::default()
                        },
                    )
                    .await
            })
        })
        .collect();
    for applier in appliers {
        assert!(applier.await??, "every distinct event is new");
    }
    let (record, events) = store.call(&a, &call_id("c1")).await?.context("c1")?;
    assert_eq!(
        record.started_at,
        t(0),
        "the earliest start, whatever the arrival order"
    );
    assert_eq!(
        events.iter().map(|e| e.at).collect::<Vec<_>>(),
        (0..16).map(t).collect::<Vec<_>>()
    );
    assert_eq!(store.calls(&a, CallFilter::default()).await?.len(), 1);
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
    assert_eq!(applied, vec![(1,), (2,)]);
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
        assert_eq!(applied, vec![(1,), (2,)]);
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

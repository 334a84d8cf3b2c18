//! The harness of Hotline's end-to-end tests: the real backends each test gets, isolated
//! from every other test (own topics, key prefix, database, object directory).
//!
//! Backend addresses come from the environment `make test` sets
//! (`scripts/test-backends.sh`), with the same defaults; an unreachable backend fails
//! the test with a message saying which, never skips it.

use std::sync::Arc;

use anyhow::Context;
use hotline_backends::{Backends, Topics};
use hotline_bus::EventBus;
use hotline_bus::kafka::{KafkaBus, KafkaConfig};
use hotline_bus::memory::MemoryBus;
use hotline_objects::{Objects, ObjectsConfig};
use hotline_state::memory::MemoryState;
use hotline_state::redis::RedisState;
use hotline_store::postgres::PgStore;
use hotline_store::sqlite::SqliteStore;
use sqlx::Connection;

pub mod api;

/// Runs the async test function `$name(&TestBackends)` twice: on the real backends
/// (PostgreSQL, Redis, Kafka) and on the embedded ones, cleaning up after each.
#[macro_export]
macro_rules! both {
    ($name:ident) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() -> anyhow::Result<()> {
                let b = $crate::TestBackends::real().await?;
                super::$name(&b).await?;
                b.cleanup().await
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn embedded() -> anyhow::Result<()> {
                let b = $crate::TestBackends::embedded().await?;
                super::$name(&b).await?;
                b.cleanup().await
            }
        }
    };
}

/// Kafka bootstrap servers (tansu).
pub fn kafka() -> String {
    std::env::var("HOTLINE_TEST_KAFKA").unwrap_or_else(|_| "127.0.0.1:19092".into())
}

/// Redis URL.
pub fn redis() -> String {
    std::env::var("HOTLINE_TEST_REDIS").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

/// PostgreSQL URL of a database the tests may create databases from.
pub fn postgres_admin() -> String {
    std::env::var("HOTLINE_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// A short unique suffix for names.
pub fn unique() -> String {
    uuid::Uuid::now_v7().simple().to_string()
}

/// A PostgreSQL database of its own, dropped by [`TestDb::drop_db`].
#[derive(Debug)]
pub struct TestDb {
    pub name: String,
    pub url: String,
}

impl TestDb {
    /// Creates a fresh database.
    pub async fn create() -> anyhow::Result<Self> {
        let admin = postgres_admin();
        let name = format!("hotline_test_{}", unique());
        let mut conn = sqlx::PgConnection::connect(&admin).await.with_context(|| {
            format!("PostgreSQL at {admin} is unreachable (HOTLINE_TEST_POSTGRES)")
        })?;
        // The name is ours: a fixed prefix and a UUID in hex.
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut conn)
            .await?;
        let base = admin.rsplit_once('/').map_or(admin.as_str(), |(b, _)| b);
        Ok(Self {
            url: format!("{base}/{name}"),
            name,
        })
    }

    /// Drops the database.
    pub async fn drop_db(self) -> anyhow::Result<()> {
        let mut conn = sqlx::PgConnection::connect(&postgres_admin()).await?;
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            self.name
        )))
        .execute(&mut conn)
        .await?;
        Ok(())
    }
}

/// Backends of one test, and what must be cleaned up after it.
#[derive(Debug)]
pub struct TestBackends {
    pub backends: Backends,
    pub db: Option<TestDb>,
    pub dir: tempfile::TempDir,
}

impl TestBackends {
    /// The real backends: tansu, Redis, PostgreSQL, objects in a temp directory.
    pub async fn real() -> anyhow::Result<Self> {
        let id = unique();
        let topics = Topics::new(&format!("test-{id}"), 3);
        let mut k = KafkaConfig::new(kafka());
        k.client_id = format!("hotline-test-{id}");
        k.partitions = 3;
        let bus: Arc<dyn EventBus> = Arc::new(KafkaBus::new(k)?);
        bus.ping()
            .await
            .with_context(|| format!("Kafka at {} is unreachable (HOTLINE_TEST_KAFKA)", kafka()))?;
        bus.ensure_topics(&topics.specs()).await?;
        let state = RedisState::connect(&[redis()], &format!("test-{id}"))
            .await
            .with_context(|| format!("Redis at {} is unreachable (HOTLINE_TEST_REDIS)", redis()))?;
        let db = TestDb::create().await?;
        let store = PgStore::connect(&db.url, 5).await?;
        let dir = tempfile::tempdir()?;
        let objects = Objects::open(&ObjectsConfig::Local {
            root: dir.path().join("objects"),
        })?;
        Ok(Self {
            backends: Backends {
                bus,
                state: Arc::new(state),
                store: Arc::new(store),
                objects,
                topics,
            },
            db: Some(db),
            dir,
        })
    }

    /// The embedded backends all-in-one runs on.
    pub async fn embedded() -> anyhow::Result<Self> {
        let dir = tempfile::tempdir()?;
        let topics = Topics::new("hotline", 3);
        let bus: Arc<dyn EventBus> = Arc::new(MemoryBus::new());
        bus.ensure_topics(&topics.specs()).await?;
        let store = SqliteStore::open(&dir.path().join("hotline.db")).await?;
        let objects = Objects::open(&ObjectsConfig::Local {
            root: dir.path().join("objects"),
        })?;
        Ok(Self {
            backends: Backends {
                bus,
                state: Arc::new(MemoryState::new()),
                store: Arc::new(store),
                objects,
                topics,
            },
            db: None,
            dir,
        })
    }

    /// Drops the test's database, if it has one.
    pub async fn cleanup(self) -> anyhow::Result<()> {
        if let Some(db) = self.db {
            db.drop_db().await?;
        }
        Ok(())
    }
}

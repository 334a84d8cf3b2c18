//! Which backend each service runs on, chosen by configuration, and connected.
//!
//! `hotline all-in-one` defaults to the embedded backends (in-process bus and queue
//! state, an SQLite file and a directory under `--data-dir`); each service's own command
//! (one Kubernetes Deployment each) runs on Kafka, Redis, PostgreSQL and S3. An
//! in-process bus or queue state cannot be shared between processes, so a standalone
//! service refuses them ([`BackendsConfig::validate_for_standalone`]).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use hotline_bus::kafka::{KafkaBus, KafkaConfig};
use hotline_bus::memory::MemoryBus;
use hotline_bus::{EventBus, TopicSpec};
use hotline_objects::{Objects, ObjectsConfig};
use hotline_runtime::Secret;
use hotline_runtime::config::ConfigError;
use hotline_runtime::health::{ReadinessCheck, check_fn};
use hotline_state::QueueState;
use hotline_state::memory::MemoryState;
use hotline_state::redis::RedisState;
use hotline_store::Store;
use hotline_store::postgres::PgStore;
use hotline_store::sqlite::SqliteStore;
use serde::{Deserialize, Serialize};

/// Errors connecting a backend, naming which.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("event bus: {0}")]
    Bus(#[from] hotline_bus::Error),
    #[error("queue state: {0}")]
    State(#[from] hotline_state::Error),
    #[error("store: {0}")]
    Store(#[from] hotline_store::Error),
    #[error("object store: {0}")]
    Objects(#[from] hotline_objects::Error),
}

/// `[bus]`: where events travel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BusConfig {
    /// `memory` (in-process, all-in-one only) or `kafka`.
    pub kind: String,
    /// Kafka bootstrap servers, comma-separated `host:port`.
    pub brokers: String,
    /// Topic names start with this; the call events go to `<prefix>.events.v1`.
    pub topic_prefix: String,
    /// Partitions of the topics Hotline creates.
    pub partitions: i32,
    /// Replication factor of the topics Hotline creates.
    pub replication: i32,
}

impl Default for BusConfig {
    fn default() -> Self {
        Self {
            kind: "memory".into(),
            brokers: "127.0.0.1:9092".into(),
            topic_prefix: "hotline".into(),
            partitions: 6,
            replication: 1,
        }
    }
}

/// `[state]`: where the shared queue state lives.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StateConfig {
    /// `memory` (in-process, all-in-one only) or `redis`.
    pub kind: String,
    /// One URL for a single Redis, several for a Redis Cluster's seed nodes.
    pub urls: Vec<String>,
    /// Every key starts with `<key_prefix>:{<tenant>}:`.
    pub key_prefix: String,
}

impl Default for StateConfig {
    fn default() -> Self {
        Self {
            kind: "memory".into(),
            urls: vec!["redis://127.0.0.1:6379".into()],
            key_prefix: "hotline".into(),
        }
    }
}

/// `[store]`: the durable database.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StoreConfig {
    /// `sqlite` (a file, embedded) or `postgres`.
    pub kind: String,
    /// PostgreSQL URL, e.g. `postgres://hotline:…@db:5432/hotline` (a secret).
    pub url: Secret,
    /// PostgreSQL pool size.
    pub max_connections: u32,
    /// SQLite file; empty means `<data_dir>/hotline.db`.
    pub sqlite_path: String,
}

impl Default for StoreConfig {
    fn default() -> Self {
        Self {
            kind: "sqlite".into(),
            url: Secret::default(),
            max_connections: 10,
            sqlite_path: String::new(),
        }
    }
}

/// `[objects]`: prompts, recordings, voicemail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ObjectsSettings {
    /// `local` (a directory) or `s3`.
    pub kind: String,
    /// Local directory; empty means `<data_dir>/objects`.
    pub root: String,
    pub bucket: String,
    pub region: String,
    /// S3-compatible endpoint URL; empty for AWS.
    pub endpoint: String,
    pub access_key_id: Secret,
    pub secret_access_key: Secret,
    /// Allow a plain-HTTP endpoint.
    pub allow_http: bool,
}

impl Default for ObjectsSettings {
    fn default() -> Self {
        Self {
            kind: "local".into(),
            root: String::new(),
            bucket: "hotline".into(),
            region: "us-east-1".into(),
            endpoint: String::new(),
            access_key_id: Secret::default(),
            secret_access_key: Secret::default(),
            allow_http: false,
        }
    }
}

/// Every backend's settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct BackendsConfig {
    pub bus: BusConfig,
    pub state: StateConfig,
    pub store: StoreConfig,
    pub objects: ObjectsSettings,
}

impl BackendsConfig {
    /// Checks the settings; `prefix` is where this section sits in the whole config
    /// (empty at top level), so errors name the full setting.
    pub fn validate(&self, prefix: &str) -> Result<(), ConfigError> {
        let name = |s: &str| {
            if prefix.is_empty() {
                s.to_owned()
            } else {
                format!("{prefix}.{s}")
            }
        };
        match self.bus.kind.as_str() {
            "memory" => {}
            "kafka" => {
                if self.bus.brokers.trim().is_empty() {
                    return Err(ConfigError::invalid(name("bus.brokers"), "is empty"));
                }
            }
            _ => {
                return Err(ConfigError::invalid(
                    name("bus.kind"),
                    "expected \"memory\" or \"kafka\"",
                ));
            }
        }
        if self.bus.partitions < 1 {
            return Err(ConfigError::invalid(
                name("bus.partitions"),
                "must be at least 1",
            ));
        }
        if self.bus.replication < 1 {
            return Err(ConfigError::invalid(
                name("bus.replication"),
                "must be at least 1",
            ));
        }
        if self.bus.topic_prefix.is_empty()
            || !self
                .bus
                .topic_prefix
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
        {
            return Err(ConfigError::invalid(
                name("bus.topic_prefix"),
                "expected ASCII letters, digits, '.', '_' or '-'",
            ));
        }
        match self.state.kind.as_str() {
            "memory" => {}
            "redis" => {
                if self.state.urls.is_empty() {
                    return Err(ConfigError::invalid(name("state.urls"), "is empty"));
                }
                if let Some(u) = self
                    .state
                    .urls
                    .iter()
                    .find(|u| !(u.starts_with("redis://") || u.starts_with("rediss://")))
                {
                    return Err(ConfigError::invalid(
                        name("state.urls"),
                        format!("{u:?} is not a redis:// or rediss:// URL"),
                    ));
                }
            }
            _ => {
                return Err(ConfigError::invalid(
                    name("state.kind"),
                    "expected \"memory\" or \"redis\"",
                ));
            }
        }
        match self.store.kind.as_str() {
            "sqlite" => {}
            "postgres" => {
                let u = self.store.url.expose();
                if !(u.starts_with("postgres://") || u.starts_with("postgresql://")) {
                    return Err(ConfigError::invalid(
                        name("store.url"),
                        "expected a postgres:// URL",
                    ));
                }
                if self.store.max_connections == 0 {
                    return Err(ConfigError::invalid(
                        name("store.max_connections"),
                        "must be at least 1",
                    ));
                }
            }
            _ => {
                return Err(ConfigError::invalid(
                    name("store.kind"),
                    "expected \"sqlite\" or \"postgres\"",
                ));
            }
        }
        match self.objects.kind.as_str() {
            "local" => {}
            "s3" => {
                if self.objects.bucket.is_empty() {
                    return Err(ConfigError::invalid(name("objects.bucket"), "is empty"));
                }
            }
            _ => {
                return Err(ConfigError::invalid(
                    name("objects.kind"),
                    "expected \"local\" or \"s3\"",
                ));
            }
        }
        Ok(())
    }

    /// A service running in its own process cannot share in-process backends.
    pub fn validate_for_standalone(&self, prefix: &str) -> Result<(), ConfigError> {
        self.validate(prefix)?;
        let name = |s: &str| {
            if prefix.is_empty() {
                s.to_owned()
            } else {
                format!("{prefix}.{s}")
            }
        };
        if self.bus.kind == "memory" {
            return Err(ConfigError::invalid(
                name("bus.kind"),
                "the in-process bus only works in all-in-one; use \"kafka\"",
            ));
        }
        if self.state.kind == "memory" {
            return Err(ConfigError::invalid(
                name("state.kind"),
                "the in-process queue state only works in all-in-one; use \"redis\"",
            ));
        }
        Ok(())
    }
}

/// Topic names, derived from `bus.topic_prefix`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Topics {
    /// Every call, agent and recording event, keyed by call id.
    pub events: String,
    pub partitions: i32,
}

impl Topics {
    /// The topics for a prefix.
    pub fn new(prefix: &str, partitions: i32) -> Self {
        Self {
            events: format!("{prefix}.events.v1"),
            partitions,
        }
    }

    /// Every topic with its dead-letter topic, to create at start.
    pub fn specs(&self) -> Vec<TopicSpec> {
        vec![
            TopicSpec::new(self.events.clone(), self.partitions),
            TopicSpec::new(
                hotline_bus::dead_letter_topic(&self.events),
                self.partitions,
            ),
        ]
    }
}

/// Connected backends, shared by the services of one process.
#[derive(Debug, Clone)]
pub struct Backends {
    pub bus: Arc<dyn EventBus>,
    pub state: Arc<dyn QueueState>,
    pub store: Arc<dyn Store>,
    pub objects: Objects,
    pub topics: Topics,
}

impl Backends {
    /// Connects every backend named in `cfg`; embedded files go under `data_dir`.
    /// `client_id` names this process to Kafka (`hotline-routing`…).
    pub async fn connect(
        cfg: &BackendsConfig,
        data_dir: &Path,
        client_id: &str,
    ) -> Result<Self, Error> {
        let topics = Topics::new(&cfg.bus.topic_prefix, cfg.bus.partitions);
        let bus: Arc<dyn EventBus> = match cfg.bus.kind.as_str() {
            "kafka" => {
                let mut k = KafkaConfig::new(cfg.bus.brokers.clone());
                k.client_id = client_id.to_owned();
                k.partitions = cfg.bus.partitions;
                k.replication = cfg.bus.replication;
                Arc::new(KafkaBus::new(k)?)
            }
            _ => Arc::new(MemoryBus::new()),
        };
        bus.ensure_topics(&topics.specs()).await?;

        let state: Arc<dyn QueueState> = match cfg.state.kind.as_str() {
            "redis" => Arc::new(RedisState::connect(&cfg.state.urls, &cfg.state.key_prefix).await?),
            _ => Arc::new(MemoryState::new()),
        };

        let store: Arc<dyn Store> = match cfg.store.kind.as_str() {
            "postgres" => {
                Arc::new(PgStore::connect(cfg.store.url.expose(), cfg.store.max_connections).await?)
            }
            _ => {
                let path = if cfg.store.sqlite_path.is_empty() {
                    data_dir.join("hotline.db")
                } else {
                    PathBuf::from(&cfg.store.sqlite_path)
                };
                Arc::new(SqliteStore::open(&path).await?)
            }
        };

        let objects_cfg = match cfg.objects.kind.as_str() {
            "s3" => ObjectsConfig::S3 {
                bucket: cfg.objects.bucket.clone(),
                region: cfg.objects.region.clone(),
                endpoint: cfg.objects.endpoint.clone(),
                access_key_id: cfg.objects.access_key_id.expose().to_owned(),
                secret_access_key: cfg.objects.secret_access_key.expose().to_owned(),
                allow_http: cfg.objects.allow_http,
            },
            _ => ObjectsConfig::Local {
                root: if cfg.objects.root.is_empty() {
                    data_dir.join("objects")
                } else {
                    PathBuf::from(&cfg.objects.root)
                },
            },
        };
        let objects = Objects::open(&objects_cfg)?;
        Ok(Self {
            bus,
            state,
            store,
            objects,
            topics,
        })
    }

    /// Readiness: the bus answers.
    pub fn bus_check(&self) -> Arc<dyn ReadinessCheck> {
        let bus = self.bus.clone();
        check_fn("bus", move || {
            let bus = bus.clone();
            Box::pin(async move { bus.ping().await.map_err(|e| e.to_string()) })
        })
    }

    /// Readiness: the queue state answers.
    pub fn state_check(&self) -> Arc<dyn ReadinessCheck> {
        let state = self.state.clone();
        check_fn("state", move || {
            let state = state.clone();
            Box::pin(async move { state.ping().await.map_err(|e| e.to_string()) })
        })
    }

    /// Readiness: the database answers.
    pub fn store_check(&self) -> Arc<dyn ReadinessCheck> {
        let store = self.store.clone();
        check_fn("store", move || {
            let store = store.clone();
            Box::pin(async move { store.ping().await.map_err(|e| e.to_string()) })
        })
    }

    /// Readiness: the object store answers.
    pub fn objects_check(&self) -> Arc<dyn ReadinessCheck> {
        let objects = self.objects.clone();
        check_fn("objects", move || {
            let objects = objects.clone();
            Box::pin(async move { objects.ping().await.map_err(|e| e.to_string()) })
        })
    }
}

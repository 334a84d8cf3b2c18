//! Layered configuration: defaults, then a TOML file, then `HOTLINE_…` environment
//! variables.
//!
//! The defaults come from the config type's `Default`, serialised to a TOML tree; that
//! tree is also the schema: a file key or environment variable that names no setting is
//! an error (file) or reported back (environment), and an environment value is parsed as
//! the type of the default it replaces. Every error names the setting, where its value
//! came from, and what was wrong, before any port is bound:
//!
//! ```text
//! invalid setting http.port (from environment variable HOTLINE_HTTP_PORT="notaport"): expected an integer
//! ```
//!
//! Environment names are the setting's path in upper case with `.` and `-` turned into
//! `_`, prefixed with `HOTLINE_`: `http.port` is `HOTLINE_HTTP_PORT`. Lists are
//! comma-separated.

use std::collections::BTreeMap;
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use toml::{Table, Value};

/// Prefix of every Hotline environment variable.
pub const ENV_PREFIX: &str = "HOTLINE_";

/// Where a setting's value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Default,
    File(PathBuf),
    Env { var: String, value: String },
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Default => f.write_str("default"),
            Self::File(p) => write!(f, "from file {}", p.display()),
            Self::Env { var, value } => write!(f, "from environment variable {var}={value:?}"),
        }
    }
}

/// A configuration problem, naming the setting.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("config file {path} is not valid TOML: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("unknown setting {setting} in config file {path}")]
    UnknownSetting { setting: String, path: PathBuf },
    #[error("invalid setting {setting} ({origin}): {message}")]
    Invalid {
        setting: String,
        origin: Source,
        message: String,
    },
    #[error("the default configuration cannot be represented: {0}")]
    Defaults(String),
}

impl ConfigError {
    /// A validation error for `setting`; [`load`] fills in where its value came from.
    pub fn invalid(setting: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Invalid {
            setting: setting.into(),
            origin: Source::Default,
            message: message.into(),
        }
    }

    /// The setting this error is about, when it is about one.
    pub fn setting(&self) -> Option<&str> {
        match self {
            Self::Invalid { setting, .. } | Self::UnknownSetting { setting, .. } => Some(setting),
            _ => None,
        }
    }
}

/// Semantic checks a config type runs after it is parsed (ranges, combinations).
pub trait Validate {
    /// Returns the first problem found, naming its setting with [`ConfigError::invalid`].
    fn validate(&self) -> Result<(), ConfigError> {
        Ok(())
    }
}

/// A loaded configuration and what loading noticed.
#[derive(Debug)]
pub struct Loaded<T> {
    pub config: T,
    /// `HOTLINE_…` variables that name no setting (typos, or meant for another command).
    pub unknown_env: Vec<String>,
    sources: BTreeMap<String, Source>,
}

impl<T> Loaded<T> {
    /// Where the value of `setting` came from.
    pub fn source(&self, setting: &str) -> Source {
        lookup_source(&self.sources, setting)
    }

    /// Fills in where the value came from on an error raised after loading (checks a
    /// command makes of its own, e.g. a standalone service refusing in-process backends).
    pub fn locate(&self, err: ConfigError) -> ConfigError {
        match err {
            ConfigError::Invalid {
                setting, message, ..
            } => ConfigError::Invalid {
                origin: self.source(&setting),
                setting,
                message,
            },
            other => other,
        }
    }
}

fn lookup_source(sources: &BTreeMap<String, Source>, setting: &str) -> Source {
    let mut path = setting;
    loop {
        if let Some(s) = sources.get(path) {
            return s.clone();
        }
        match path.rfind('.') {
            Some(i) => path = &path[..i],
            None => return Source::Default,
        }
    }
}

/// The environment variable name of a setting path.
pub fn env_name(path: &str) -> String {
    let mut s = String::from(ENV_PREFIX);
    s.extend(path.chars().map(|c| match c {
        '.' | '-' => '_',
        c => c.to_ascii_uppercase(),
    }));
    s
}

/// Loads `T` from its defaults, then `file` (if any), then the `HOTLINE_…` entries of
/// `env` (pass `std::env::vars()`), then runs its validation.
pub fn load<T>(
    file: Option<&Path>,
    env: impl IntoIterator<Item = (String, String)>,
) -> Result<Loaded<T>, ConfigError>
where
    T: Serialize + DeserializeOwned + Default + Validate,
{
    let defaults =
        Value::try_from(T::default()).map_err(|e| ConfigError::Defaults(e.to_string()))?;
    let Value::Table(mut tree) = defaults else {
        return Err(ConfigError::Defaults("not a table".into()));
    };
    let mut sources = BTreeMap::new();

    if let Some(path) = file {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        let file_tree: Table = text
            .parse()
            .map_err(|e: toml::de::Error| ConfigError::Parse {
                path: path.to_owned(),
                message: e.message().to_owned(),
            })?;
        merge_file(&mut tree, file_tree, "", path, &mut sources)?;
    }

    let mut leaves = BTreeMap::new();
    collect_leaves(&tree, "", &mut leaves);
    let mut unknown_env = Vec::new();
    let mut env: Vec<(String, String)> = env
        .into_iter()
        .filter(|(k, _)| k.starts_with(ENV_PREFIX))
        .collect();
    env.sort();
    for (var, raw) in env {
        let Some((path, default)) = leaves.get(&var) else {
            unknown_env.push(var);
            continue;
        };
        let source = Source::Env {
            var: var.clone(),
            value: raw.clone(),
        };
        let value = parse_env_value(default, &raw).map_err(|message| ConfigError::Invalid {
            setting: path.clone(),
            origin: source.clone(),
            message,
        })?;
        set_path(&mut tree, path, value);
        sources.insert(path.clone(), source);
    }

    let config: T = serde_path_to_error::deserialize(Value::Table(tree)).map_err(|e| {
        let setting = e.path().to_string();
        ConfigError::Invalid {
            origin: lookup_source(&sources, &setting),
            message: e.into_inner().to_string(),
            setting,
        }
    })?;
    if let Err(e) = config.validate() {
        return Err(match e {
            ConfigError::Invalid {
                setting, message, ..
            } => ConfigError::Invalid {
                origin: lookup_source(&sources, &setting),
                setting,
                message,
            },
            other => other,
        });
    }
    Ok(Loaded {
        config,
        unknown_env,
        sources,
    })
}

fn join(prefix: &str, key: &str) -> String {
    if prefix.is_empty() {
        key.to_owned()
    } else {
        format!("{prefix}.{key}")
    }
}

fn merge_file(
    into: &mut Table,
    from: Table,
    prefix: &str,
    path: &Path,
    sources: &mut BTreeMap<String, Source>,
) -> Result<(), ConfigError> {
    for (key, value) in from {
        let setting = join(prefix, &key);
        match (into.get_mut(&key), value) {
            (None, _) => {
                return Err(ConfigError::UnknownSetting {
                    setting,
                    path: path.to_owned(),
                });
            }
            (Some(Value::Table(dst)), Value::Table(src)) => {
                merge_file(dst, src, &setting, path, sources)?;
            }
            (Some(slot), value) => {
                *slot = value;
                sources.insert(setting, Source::File(path.to_owned()));
            }
        }
    }
    Ok(())
}

fn collect_leaves(table: &Table, prefix: &str, out: &mut BTreeMap<String, (String, Value)>) {
    for (key, value) in table {
        let path = join(prefix, key);
        match value {
            Value::Table(t) => collect_leaves(t, &path, out),
            leaf => {
                out.insert(env_name(&path), (path, leaf.clone()));
            }
        }
    }
}

fn parse_env_value(default: &Value, raw: &str) -> Result<Value, String> {
    let raw_trimmed = raw.trim();
    Ok(match default {
        Value::Integer(_) => Value::Integer(
            raw_trimmed
                .parse::<i64>()
                .map_err(|_| "expected an integer".to_owned())?,
        ),
        Value::Float(_) => Value::Float(
            raw_trimmed
                .parse::<f64>()
                .map_err(|_| "expected a number".to_owned())?,
        ),
        Value::Boolean(_) => Value::Boolean(match raw_trimmed {
            "true" | "1" | "yes" | "on" => true,
            "false" | "0" | "no" | "off" => false,
            _ => return Err("expected true or false".to_owned()),
        }),
        Value::Array(_) => Value::Array(
            raw.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| Value::String(s.to_owned()))
                .collect(),
        ),
        _ => Value::String(raw.to_owned()),
    })
}

fn set_path(tree: &mut Table, path: &str, value: Value) {
    let mut table = tree;
    let mut parts = path.split('.').peekable();
    while let Some(part) = parts.next() {
        if parts.peek().is_none() {
            table.insert(part.to_owned(), value);
            return;
        }
        let next = table
            .entry(part.to_owned())
            .or_insert_with(|| Value::Table(Table::new()));
        if !next.is_table() {
            *next = Value::Table(Table::new());
        }
        let Value::Table(t) = next else { return };
        table = t;
    }
}

/// An address to listen on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListenConfig {
    /// IP address to bind (`0.0.0.0` in a pod, `127.0.0.1` on a laptop).
    pub host: String,
    /// TCP port; 0 picks a free one (tests).
    pub port: u16,
}

impl ListenConfig {
    /// Listen on `host:port`.
    pub fn new(host: impl Into<String>, port: u16) -> Self {
        Self {
            host: host.into(),
            port,
        }
    }

    /// The socket address, or an error naming `<setting>.host`.
    pub fn addr(&self, setting: &str) -> Result<SocketAddr, ConfigError> {
        let ip: IpAddr = self.host.parse().map_err(|_| {
            ConfigError::invalid(format!("{setting}.host"), "expected an IP address")
        })?;
        Ok(SocketAddr::new(ip, self.port))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Serialize, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields, default)]
    struct Demo {
        http: ListenConfig,
        name: String,
        workers: u32,
        brokers: Vec<String>,
        verbose: bool,
    }

    impl Default for Demo {
        fn default() -> Self {
            Self {
                http: ListenConfig::new("127.0.0.1", 8080),
                name: "demo".into(),
                workers: 4,
                brokers: vec!["a:1".into()],
                verbose: false,
            }
        }
    }

    impl Validate for Demo {
        fn validate(&self) -> Result<(), ConfigError> {
            if self.workers == 0 {
                return Err(ConfigError::invalid("workers", "must be at least 1"));
            }
            self.http.addr("http").map(|_| ())
        }
    }

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn layers_defaults_file_then_env() {
        let dir = std::env::temp_dir().join(format!("hotline-cfg-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("c.toml");
        std::fs::write(&file, "name = \"file\"\n[http]\nport = 9000\n").unwrap();
        let loaded: Loaded<Demo> = load(
            Some(&file),
            env(&[
                ("HOTLINE_HTTP_PORT", "9100"),
                ("HOTLINE_BROKERS", "x:1, y:2"),
                ("HOTLINE_VERBOSE", "true"),
                ("HOTLINE_NOPE", "1"),
                ("PATH", "/bin"),
            ]),
        )
        .unwrap();
        assert_eq!(loaded.config.name, "file");
        assert_eq!(loaded.config.http.port, 9100);
        assert_eq!(loaded.config.brokers, vec!["x:1", "y:2"]);
        assert!(loaded.config.verbose);
        assert_eq!(loaded.unknown_env, vec!["HOTLINE_NOPE"]);
        assert_eq!(loaded.source("name"), Source::File(file.clone()));
        assert_eq!(loaded.source("workers"), Source::Default);
        std::fs::remove_dir_all(dir).ok();
    }

    #[test]
    fn bad_env_value_names_the_setting_and_variable() {
        let err = load::<Demo>(None, env(&[("HOTLINE_HTTP_PORT", "notaport")])).unwrap_err();
        let msg = err.to_string();
        assert_eq!(err.setting(), Some("http.port"));
        assert!(msg.contains("http.port"), "{msg}");
        assert!(msg.contains("HOTLINE_HTTP_PORT"), "{msg}");

        let err = load::<Demo>(None, env(&[("HOTLINE_HTTP_PORT", "70000")])).unwrap_err();
        assert_eq!(err.setting(), Some("http.port"), "{err}");
        assert!(err.to_string().contains("HOTLINE_HTTP_PORT"), "{err}");
    }

    #[test]
    fn validation_errors_carry_their_source() {
        let err = load::<Demo>(None, env(&[("HOTLINE_WORKERS", "0")])).unwrap_err();
        assert!(err.to_string().contains("HOTLINE_WORKERS"), "{err}");
        let err = load::<Demo>(None, env(&[("HOTLINE_HTTP_HOST", "localhost:x")])).unwrap_err();
        assert_eq!(err.setting(), Some("http.host"));
    }

    #[test]
    fn unknown_file_keys_are_rejected() {
        let dir = std::env::temp_dir().join(format!("hotline-cfg2-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("c.toml");
        std::fs::write(&file, "[http]\nprot = 1\n").unwrap();
        let err = load::<Demo>(Some(&file), env(&[])).unwrap_err();
        assert_eq!(err.setting(), Some("http.prot"));
        std::fs::write(&file, "name = [\n").unwrap();
        assert!(matches!(
            load::<Demo>(Some(&file), env(&[])),
            Err(ConfigError::Parse { .. })
        ));
        std::fs::remove_dir_all(dir).ok();
    }
}

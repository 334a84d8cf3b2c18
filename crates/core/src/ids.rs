//! Identifiers. Each is a validated newtype so that a tenant id can never be passed where
//! a call id is expected, and so that what comes from outside is checked once, here.

use std::fmt;
use std::str::FromStr;

/// Why a string is not a valid identifier.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error("{kind} id is empty")]
    Empty { kind: &'static str },
    #[error("{kind} id is longer than {max} bytes")]
    TooLong { kind: &'static str, max: usize },
    #[error("{kind} id contains {found:?}; allowed are ASCII letters, digits, '-', '_' and '.'")]
    BadChar { kind: &'static str, found: char },
    #[error("{kind} id must start with an ASCII letter or digit")]
    BadStart { kind: &'static str },
    #[error("event id is not a UUID: {0}")]
    NotUuid(String),
}

/// Longest identifier accepted. Keys, object paths and topic records embed ids, so they
/// are bounded and restricted to a safe alphabet.
pub const MAX_ID_LEN: usize = 64;

fn validate(kind: &'static str, s: &str) -> Result<(), IdError> {
    if s.is_empty() {
        return Err(IdError::Empty { kind });
    }
    if s.len() > MAX_ID_LEN {
        return Err(IdError::TooLong {
            kind,
            max: MAX_ID_LEN,
        });
    }
    if let Some(found) = s
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
    {
        return Err(IdError::BadChar { kind, found });
    }
    // A leading letter or digit rules out ".", ".." and hidden-file names in object paths.
    if !s.starts_with(|c: char| c.is_ascii_alphanumeric()) {
        return Err(IdError::BadStart { kind });
    }
    Ok(())
}

macro_rules! string_id {
    ($(#[$doc:meta])* $name:ident, $kind:literal) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(String);

        impl $name {
            /// Validates and wraps an identifier.
            pub fn new(s: impl Into<String>) -> Result<Self, IdError> {
                let s = s.into();
                validate($kind, &s)?;
                Ok(Self(s))
            }

            /// The identifier as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl FromStr for $name {
            type Err = IdError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::new(s)
            }
        }

        impl TryFrom<String> for $name {
            type Error = IdError;
            fn try_from(s: String) -> Result<Self, Self::Error> {
                Self::new(s)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({:?})", stringify!($name), self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> Self {
                id.0
            }
        }
    };
}

string_id!(
    /// A tenant: one business on the platform. Every key, row, record and object carries it.
    TenantId,
    "tenant"
);
string_id!(
    /// One call, from the first INVITE to the last event; the bus key for per-call order.
    CallId,
    "call"
);
string_id!(
    /// An agent of a tenant.
    AgentId,
    "agent"
);
string_id!(
    /// A queue of a tenant.
    QueueId,
    "queue"
);

impl CallId {
    /// A fresh, time-ordered call id (UUIDv7).
    pub fn generate() -> Self {
        Self(uuid::Uuid::now_v7().to_string())
    }
}

/// A unique event id (UUIDv7): consumers deduplicate on it.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EventId(uuid::Uuid);

impl EventId {
    /// A fresh, time-ordered event id.
    pub fn generate() -> Self {
        Self(uuid::Uuid::now_v7())
    }

    /// The underlying UUID.
    pub fn as_uuid(&self) -> uuid::Uuid {
        self.0
    }
}

impl FromStr for EventId {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        uuid::Uuid::parse_str(s)
            .map(Self)
            .map_err(|_| IdError::NotUuid(s.chars().take(MAX_ID_LEN).collect()))
    }
}

impl fmt::Display for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl fmt::Debug for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "EventId({})", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_empty_long_and_unsafe_ids() {
        assert_eq!(TenantId::new(""), Err(IdError::Empty { kind: "tenant" }));
        assert!(matches!(
            TenantId::new("a".repeat(65)),
            Err(IdError::TooLong { .. })
        ));
        assert_eq!(
            TenantId::new("acme}x"),
            Err(IdError::BadChar {
                kind: "tenant",
                found: '}'
            })
        );
        assert!(TenantId::new("../etc").is_err());
        assert_eq!(
            TenantId::new(".."),
            Err(IdError::BadStart { kind: "tenant" })
        );
        assert_eq!(
            TenantId::new("."),
            Err(IdError::BadStart { kind: "tenant" })
        );
        assert!(TenantId::new("-x").is_err());
        assert!(TenantId::new("acme-01_x.y").is_ok());
    }

    #[test]
    fn event_ids_are_uuid_v7_and_ordered() {
        let a = EventId::generate();
        let b = EventId::generate();
        assert_eq!(a.as_uuid().get_version_num(), 7);
        assert!(a <= b);
        assert_eq!(a.to_string().parse::<EventId>(), Ok(a));
        assert!("nope".parse::<EventId>().is_err());
    }
}

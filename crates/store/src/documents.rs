//! Versioned configuration documents and the outbox that publishes their changes.
//!
//! Every configuration resource of a tenant (queues, agents, IVR menus, business hours,
//! entry flows, webhooks, prompts, ...) is one [`Document`]: a JSON body the store keeps
//! opaque, under `(tenant, kind, id)`, with a version that starts at 1 and grows by one on
//! each write ([`Expect`] gives `If-Match` semantics). Each write and delete may carry an
//! [`OutboxEntry`], appended in the same transaction, so an event such as
//! `ConfigChanged` is published for exactly the changes that committed: a relay reads
//! [`crate::Store::outbox_pending`], publishes, then [`crate::Store::outbox_ack`]s.

use std::time::SystemTime;

use hotline_core::TenantId;

use crate::{Error, Result, check_text, from_micros, validate_key};

/// Most rows one page returns; larger limits are capped to it.
pub const MAX_PAGE_LIMIT: u32 = 1000;

/// The page size of [`Page::default`] and [`crate::CallFilter::default`].
pub const DEFAULT_PAGE_LIMIT: u32 = 100;

/// Longest document name, in characters.
pub const MAX_NAME_CHARS: usize = 256;

/// Largest document body, call event body or outbox payload, in bytes.
pub const MAX_BODY_BYTES: usize = 1 << 20;

/// Longest outbox key (the bus record key), in bytes.
pub const MAX_OUTBOX_KEY_BYTES: usize = 256;

/// What a write expects of the stored document: optimistic concurrency.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// Create or overwrite, whatever is stored.
    Any,
    /// Create only: `Conflict` when the document exists.
    Absent,
    /// Only if the stored version is this one (`If-Match`): `VersionMismatch` when it
    /// is another, `NotFound` when there is no document.
    Version(i64),
}

/// An event to publish, appended to the outbox in the transaction of the change it
/// describes. The store never looks inside.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxEntry {
    /// The bus record key (e.g. the tenant id, for per-tenant order).
    pub key: String,
    /// The encoded event.
    pub payload: Vec<u8>,
}

/// Builds the outbox entry of a document write from the document as stored, inside the
/// write's transaction (so an event can carry the version the write produced, which
/// [`Expect::Any`] does not know in advance). Called once, and only when the write
/// succeeds.
pub type OutboxFn = Box<dyn FnOnce(&Document) -> OutboxEntry + Send>;

/// A pending outbox row, as [`crate::Store::outbox_pending`] returns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxRow {
    /// Increasing with insertion; what [`crate::Store::outbox_ack`] takes.
    pub seq: i64,
    /// The tenant whose change this is.
    pub tenant: TenantId,
    pub key: String,
    pub payload: Vec<u8>,
    pub created_at: SystemTime,
}

/// A document to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocumentWrite {
    pub tenant: TenantId,
    /// The resource type, e.g. `queue`; same alphabet as ids.
    pub kind: String,
    /// ASCII letters, digits, `-`, `_`, `.`, starting with a letter or digit; at most 64
    /// bytes (the rule of [`hotline_core::TenantId`]).
    pub id: String,
    /// What listings filter on by prefix; may be empty.
    pub name: String,
    /// JSON, opaque to the store.
    pub body: String,
    /// Appended to the outbox when, and only when, this write commits.
    pub outbox: Option<OutboxEntry>,
}

/// A stored document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Document {
    pub tenant: TenantId,
    pub kind: String,
    pub id: String,
    pub name: String,
    /// 1 after creation, one more after each write (the `ETag`).
    pub version: i64,
    pub body: String,
    pub created_at: SystemTime,
    pub updated_at: SystemTime,
}

/// One page of a document listing, ordered by id (bytewise).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    /// Only ids after this one (the last id of the previous page).
    pub after_id: Option<String>,
    /// At least 1; more than [`MAX_PAGE_LIMIT`] is capped.
    pub limit: u32,
    /// Only documents whose name starts with this (case-sensitive).
    pub name_prefix: Option<String>,
}

impl Default for Page {
    fn default() -> Self {
        Self {
            after_id: None,
            limit: DEFAULT_PAGE_LIMIT,
            name_prefix: None,
        }
    }
}

/// The `what` of errors about one document.
pub(crate) fn document_what(kind: &str, id: &str) -> String {
    format!("{kind} {id}")
}

/// Checks a page size: at least 1, capped at [`MAX_PAGE_LIMIT`].
pub(crate) fn page_limit(limit: u32) -> Result<i64> {
    if limit == 0 {
        return Err(Error::Invalid {
            what: "limit",
            reason: "must be at least 1".to_owned(),
        });
    }
    Ok(i64::from(limit.min(MAX_PAGE_LIMIT)))
}

pub(crate) fn validate_outbox(entry: Option<&OutboxEntry>) -> Result<()> {
    let Some(entry) = entry else {
        return Ok(());
    };
    if entry.key.is_empty() {
        return Err(Error::Invalid {
            what: "outbox key",
            reason: "is empty".to_owned(),
        });
    }
    if entry.key.len() > MAX_OUTBOX_KEY_BYTES {
        return Err(Error::Invalid {
            what: "outbox key",
            reason: format!("is longer than {MAX_OUTBOX_KEY_BYTES} bytes"),
        });
    }
    check_text("outbox key", &entry.key, usize::MAX)?;
    if entry.payload.len() > MAX_BODY_BYTES {
        return Err(Error::Invalid {
            what: "outbox payload",
            reason: format!("is larger than {MAX_BODY_BYTES} bytes"),
        });
    }
    Ok(())
}

pub(crate) fn validate_expect(expect: Expect) -> Result<()> {
    match expect {
        Expect::Version(v) if v < 1 => Err(Error::Invalid {
            what: "expected version",
            reason: format!("{v} is less than 1"),
        }),
        _ => Ok(()),
    }
}

pub(crate) fn validate_write(doc: &DocumentWrite, expect: Expect) -> Result<()> {
    validate_key("document kind", &doc.kind)?;
    validate_key("document id", &doc.id)?;
    check_text("document name", &doc.name, MAX_NAME_CHARS)?;
    if doc.body.len() > MAX_BODY_BYTES {
        return Err(Error::Invalid {
            what: "document body",
            reason: format!("is larger than {MAX_BODY_BYTES} bytes"),
        });
    }
    check_text("document body", &doc.body, usize::MAX)?;
    validate_expect(expect)?;
    validate_outbox(doc.outbox.as_ref())
}

/// A write publishes a fixed entry or a built one, not both.
pub(crate) fn validate_publishing(doc: &DocumentWrite, build: Option<&OutboxFn>) -> Result<()> {
    if doc.outbox.is_some() && build.is_some() {
        return Err(Error::Invalid {
            what: "outbox",
            reason: "give either DocumentWrite::outbox or a builder, not both".to_owned(),
        });
    }
    Ok(())
}

/// The entry a successful write publishes: the fixed one, or the builder's, checked.
pub(crate) fn built_entry(
    fixed: Option<OutboxEntry>,
    build: Option<OutboxFn>,
    stored: &Document,
) -> Result<Option<OutboxEntry>> {
    let entry = match build {
        Some(build) => Some(build(stored)),
        None => fixed,
    };
    validate_outbox(entry.as_ref())?;
    Ok(entry)
}

/// Checks a page; an `after_id` that no id could equal is still a valid cursor.
pub(crate) fn validate_page(page: &Page) -> Result<i64> {
    if let Some(after) = &page.after_id {
        check_text("after_id", after, MAX_NAME_CHARS)?;
    }
    if let Some(prefix) = &page.name_prefix {
        check_text("name prefix", prefix, MAX_NAME_CHARS)?;
    }
    page_limit(page.limit)
}

/// The columns of a `config_documents` row: tenant, kind, id, name, version, body, and
/// the two times in microseconds since the epoch.
pub(crate) type DocumentRow = (String, String, String, String, i64, String, i64, i64);

pub(crate) fn document_from_row(row: DocumentRow) -> Result<Document> {
    let (tenant, kind, id, name, version, body, created_at, updated_at) = row;
    let tenant = TenantId::new(tenant).map_err(|e| Error::Corrupt {
        table: "config_documents",
        reason: format!("document {kind} {id}: {e}"),
    })?;
    Ok(Document {
        tenant,
        kind,
        id,
        name,
        version,
        body,
        created_at: from_micros(created_at),
        updated_at: from_micros(updated_at),
    })
}

/// The columns of an `outbox` row: seq, tenant, key, payload, created_at (microseconds).
pub(crate) type OutboxDbRow = (i64, String, String, Vec<u8>, i64);

pub(crate) fn outbox_from_row(row: OutboxDbRow) -> Result<OutboxRow> {
    let (seq, tenant, key, payload, created_at) = row;
    let tenant = TenantId::new(tenant).map_err(|e| Error::Corrupt {
        table: "outbox",
        reason: format!("seq {seq}: {e}"),
    })?;
    Ok(OutboxRow {
        seq,
        tenant,
        key,
        payload,
        created_at: from_micros(created_at),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write() -> DocumentWrite {
        DocumentWrite {
            tenant: TenantId::new("acme").expect("valid"),
            kind: "queue".to_owned(),
            id: "sales".to_owned(),
            name: "Sales".to_owned(),
            body: "{}".to_owned(),
            outbox: None,
        }
    }

    #[test]
    fn limits_are_capped_and_zero_refused() {
        assert_eq!(page_limit(1).ok(), Some(1));
        assert_eq!(page_limit(1000).ok(), Some(1000));
        assert_eq!(page_limit(u32::MAX).ok(), Some(1000));
        assert!(matches!(
            page_limit(0),
            Err(Error::Invalid { what: "limit", .. })
        ));
    }

    type Mutation = Box<dyn Fn(&mut DocumentWrite)>;

    #[test]
    fn writes_are_checked_field_by_field() {
        assert!(validate_write(&write(), Expect::Any).is_ok());
        let cases: Vec<(Mutation, &str)> = vec![
            (Box::new(|d| d.kind = String::new()), "document kind"),
            (Box::new(|d| d.id = "a b".to_owned()), "document id"),
            (Box::new(|d| d.id = "x".repeat(65)), "document id"),
            (Box::new(|d| d.name = "n".repeat(257)), "document name"),
            (Box::new(|d| d.name = "a\0b".to_owned()), "document name"),
            (Box::new(|d| d.body = "\0".to_owned()), "document body"),
            (
                Box::new(|d| d.body = " ".repeat(MAX_BODY_BYTES + 1)),
                "document body",
            ),
            (
                Box::new(|d| {
                    d.outbox = Some(OutboxEntry {
                        key: String::new(),
                        payload: vec![],
                    })
                }),
                "outbox key",
            ),
            (
                Box::new(|d| {
                    d.outbox = Some(OutboxEntry {
                        key: "k".to_owned(),
                        payload: vec![0; MAX_BODY_BYTES + 1],
                    })
                }),
                "outbox payload",
            ),
        ];
        for (mutate, field) in cases {
            let mut doc = write();
            mutate(&mut doc);
            match validate_write(&doc, Expect::Any) {
                Err(Error::Invalid { what, .. }) => assert_eq!(what, field),
                other => panic!("{field}: {other:?}"),
            }
        }
        assert!(matches!(
            validate_write(&write(), Expect::Version(0)),
            Err(Error::Invalid {
                what: "expected version",
                ..
            })
        ));
    }
}

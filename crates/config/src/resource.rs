//! What every configuration resource shares: its kind, its name, the other resources it
//! refers to, and its write-only secrets. The api stores each resource as a versioned
//! JSON document keyed by (tenant, kind, id) and uses these to check references and to
//! keep secrets out of its answers.

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::{Errors, ValidationError, rule};
use crate::parse::Validate;
use crate::secret::Secret;

/// A configuration resource: a JSON body of the REST API and a stored document.
pub trait Resource: Serialize + DeserializeOwned + Validate {
    /// The kind, as in the storage key and in [`Reference::kind`]: `"queue"`, `"ivr-menu"`….
    const KIND: &'static str;

    /// Display name, for listing and filtering by name.
    fn name(&self) -> &str;

    /// The other resources of the same tenant this one names, with the field that names
    /// each. The api checks that they exist with [`check_references`] (and, before a
    /// delete, that nothing still names the resource).
    fn references(&self) -> Vec<Reference> {
        Vec::new()
    }

    /// The write-only fields, by JSON field name, and their values if set. Such fields
    /// are never serialised; [`to_stored_json`] adds them back for storage.
    fn secrets(&self) -> Vec<(&'static str, Option<&Secret>)> {
        Vec::new()
    }

    /// The write-only fields, to fill in (see [`carry_secrets`]).
    fn secrets_mut(&mut self) -> Vec<(&'static str, &mut Option<Secret>)> {
        Vec::new()
    }
}

/// Every resource kind, in the order a tenant usually creates them.
pub const KINDS: &[&str] = &[
    crate::TenantSettings::KIND,
    crate::Prompt::KIND,
    crate::BusinessHours::KIND,
    crate::Queue::KIND,
    crate::Agent::KIND,
    crate::IvrMenu::KIND,
    crate::EntryFlow::KIND,
    crate::PhoneNumber::KIND,
    crate::Webhook::KIND,
];

/// A reference from one resource to another of the same tenant.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Reference {
    /// JSON path of the referring field, e.g. `choices[1].action.id`.
    pub field: String,
    /// Kind of the resource referred to (a [`Resource::KIND`]).
    pub kind: &'static str,
    /// Its id.
    pub id: String,
}

impl Reference {
    pub(crate) fn new(field: impl Into<String>, kind: &'static str, id: &str) -> Self {
        Self {
            field: field.into(),
            kind,
            id: id.to_owned(),
        }
    }
}

/// Checks that every resource `resource` refers to exists, as told by
/// `exists(kind, id)`; one `unknown_reference` error per missing one.
pub fn check_references<R: Resource>(
    resource: &R,
    mut exists: impl FnMut(&str, &str) -> bool,
) -> Result<(), Vec<ValidationError>> {
    let mut e = Errors::default();
    for r in resource.references() {
        if !exists(r.kind, &r.id) {
            e.add(
                r.field,
                rule::UNKNOWN_REFERENCE,
                format!("there is no {} with id {:?}", r.kind, r.id),
            );
        }
    }
    e.finish()
}

/// Prepares a resource parsed from a client's body to be stored: a write-only secret the
/// body left out (or sent as `null`) is kept from `previous`, the stored version (on
/// update; `None` on create), and then every secret must be set (`required` otherwise).
///
/// So a client updates an agent without resending its SIP password, and changes the
/// password by sending a new one.
pub fn carry_secrets<R: Resource>(
    new: &mut R,
    previous: Option<&R>,
) -> Result<(), Vec<ValidationError>> {
    let kept: Vec<(&'static str, Option<Secret>)> = previous
        .map(|p| {
            p.secrets()
                .into_iter()
                .map(|(f, s)| (f, s.cloned()))
                .collect()
        })
        .unwrap_or_default();
    let mut e = Errors::default();
    for (field, slot) in new.secrets_mut() {
        if slot.is_none() {
            *slot = kept
                .iter()
                .find(|(f, _)| *f == field)
                .and_then(|(_, s)| s.clone());
        }
        if slot.is_none() {
            e.add(field, rule::REQUIRED, format!("{field} must be set"));
        }
    }
    e.finish()
}

/// The document to store: the resource's JSON with its write-only secrets added back as
/// plain strings. Read it back with [`parse_stored`](crate::parse_stored) or
/// `serde_json::from_value`. Never send it to a client.
pub fn to_stored_json<R: Resource>(resource: &R) -> Result<serde_json::Value, serde_json::Error> {
    let mut doc = serde_json::to_value(resource)?;
    if let serde_json::Value::Object(map) = &mut doc {
        for (field, secret) in resource.secrets() {
            if let Some(s) = secret {
                map.insert(field.to_owned(), serde_json::Value::from(s.expose()));
            }
        }
    }
    Ok(doc)
}

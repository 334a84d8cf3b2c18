//! Webhooks: a tenant's HTTPS endpoint that is sent the events it subscribes to, each
//! delivery signed with the webhook's secret.

use std::collections::BTreeSet;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use serde::de::{self, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::check;
use crate::error::{Errors, ValidationError, rule};
use crate::parse::Validate;
use crate::resource::Resource;
use crate::secret::{self, Secret};

/// The event types a webhook can subscribe to: the event names of
/// `proto/hotline/v1/events.proto`, as `hotline_core::Event::kind()` gives them
/// (`CallOffered`, `CallEnded`, …), so a dispatcher matches an event against a
/// subscription without a table.
pub const EVENT_TYPES: &[&str] = hotline_core::Payload::KINDS;

/// A webhook.
///
/// `url` must be `https`; plain `http` only to the local machine (`localhost`,
/// `127.0.0.1`, `[::1]`), for development. `secret` signs each delivery (HMAC), is
/// write-only like an agent's SIP password, and is required (at least 16 characters).
///
/// ```json
/// {"name": "CRM sync", "url": "https://crm.acme.example/hotline", "secret": "0123456789abcdef",
///  "events": ["CallOffered", "CallEnded"], "active": true}
/// ```
/// `"events": "all"` subscribes to every event type, present and future.
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Webhook {
    /// Display name.
    pub name: String,
    /// Where deliveries are POSTed.
    pub url: String,
    /// HMAC signing secret. Write-only.
    #[serde(default, skip_serializing)]
    pub secret: Option<Secret>,
    /// Which events are delivered.
    pub events: EventFilter,
    /// Whether deliveries are made (default true).
    #[serde(default = "yes")]
    pub active: bool,
}

fn yes() -> bool {
    true
}

/// Which event types a webhook receives. JSON: `"all"`, or a list of names from
/// [`EVENT_TYPES`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventFilter {
    /// Every event type, including ones added later.
    All,
    /// Only these.
    Only(Vec<String>),
}

impl EventFilter {
    /// Whether an event of type `kind` (as `Event::kind()`) is delivered.
    pub fn matches(&self, kind: &str) -> bool {
        match self {
            Self::All => true,
            Self::Only(kinds) => kinds.iter().any(|k| k == kind),
        }
    }
}

impl Serialize for EventFilter {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::All => s.serialize_str("all"),
            Self::Only(kinds) => kinds.serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for EventFilter {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = EventFilter;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("\"all\" or a list of event types")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<EventFilter, E> {
                if s == "all" {
                    Ok(EventFilter::All)
                } else {
                    Err(E::invalid_value(de::Unexpected::Str(s), &self))
                }
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<EventFilter, A::Error> {
                let mut kinds = Vec::new();
                while let Some(k) = seq.next_element::<String>()? {
                    kinds.push(k);
                }
                Ok(EventFilter::Only(kinds))
            }
        }
        d.deserialize_any(V)
    }
}

impl Webhook {
    /// Resource kind.
    pub const KIND: &'static str = "webhook";
    /// Longest URL, in bytes.
    pub const MAX_URL_LEN: usize = 2048;
}

fn check_url(e: &mut Errors, field: &str, raw: &str) {
    if raw.is_empty() {
        e.add(field, rule::REQUIRED, "url must not be empty");
        return;
    }
    if raw.len() > Webhook::MAX_URL_LEN {
        e.add(
            field,
            rule::LENGTH,
            format!("url is longer than {} bytes", Webhook::MAX_URL_LEN),
        );
        return;
    }
    let url = match url::Url::parse(raw) {
        Ok(u) => u,
        Err(err) => {
            e.add(field, rule::FORMAT, format!("url is not valid: {err}"));
            return;
        }
    };
    if !url.username().is_empty() || url.password().is_some() {
        e.add(
            field,
            rule::FORMAT,
            "url must not carry credentials; deliveries are signed with the secret",
        );
        return;
    }
    let local = match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip) == IpAddr::V4(Ipv4Addr::LOCALHOST),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip) == IpAddr::V6(Ipv6Addr::LOCALHOST),
        None => {
            e.add(field, rule::FORMAT, "url has no host");
            return;
        }
    };
    match url.scheme() {
        "https" => {}
        "http" if local => {}
        "http" => e.add(
            field,
            rule::FORMAT,
            "url must use https (plain http only to localhost or 127.0.0.1)",
        ),
        other => e.add(
            field,
            rule::FORMAT,
            format!("url scheme {other:?} is not https"),
        ),
    }
}

impl Validate for Webhook {
    fn validate(&self) -> Result<(), Vec<ValidationError>> {
        let mut e = Errors::default();
        check::name(&mut e, "name", &self.name);
        check_url(&mut e, "url", &self.url);
        if let Some(s) = &self.secret {
            secret::check(&mut e, "secret", "secret", s, 16, 256);
        }
        if let EventFilter::Only(kinds) = &self.events {
            if kinds.is_empty() {
                e.add(
                    "events",
                    rule::REQUIRED,
                    "list at least one event type, or \"all\"",
                );
            }
            let mut seen = BTreeSet::new();
            for (i, k) in kinds.iter().enumerate() {
                let at = format!("events[{i}]");
                if !EVENT_TYPES.contains(&k.as_str()) {
                    e.add(
                        at,
                        rule::ENUM,
                        format!(
                            "{:?} is not an event type; known are {}",
                            check::truncate(k),
                            EVENT_TYPES.join(", ")
                        ),
                    );
                } else if !seen.insert(k.as_str()) {
                    e.add(at, rule::DUPLICATE, format!("{k} is listed twice"));
                }
            }
        }
        e.finish()
    }
}

impl Resource for Webhook {
    const KIND: &'static str = Self::KIND;
    fn name(&self) -> &str {
        &self.name
    }
    fn secrets(&self) -> Vec<(&'static str, Option<&Secret>)> {
        vec![("secret", self.secret.as_ref())]
    }
    fn secrets_mut(&mut self) -> Vec<(&'static str, &mut Option<Secret>)> {
        vec![("secret", &mut self.secret)]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::{fields_rules, round_trip};
    use crate::{carry_secrets, parse};

    fn body(url: &str, events: &str) -> Vec<u8> {
        format!(
            r#"{{"name": "CRM", "url": "{url}", "secret": "0123456789abcdef", "events": {events}}}"#
        )
        .into_bytes()
    }

    #[test]
    fn event_types_are_the_proto_events() {
        assert_eq!(EVENT_TYPES.len(), 19);
        assert!(EVENT_TYPES.contains(&"CallOffered"));
        assert!(EVENT_TYPES.contains(&"WrapUpEnded"));
    }

    #[test]
    fn subscriptions_all_or_a_list() {
        let w: Webhook = parse(&body("https://crm.acme.example/h", r#""all""#)).unwrap();
        assert_eq!(w.events, EventFilter::All);
        assert!(w.active);
        assert!(w.events.matches("CallEnded"));
        round_trip(&w);
        let w: Webhook = parse(&body(
            "https://crm.acme.example/h",
            r#"["CallOffered", "CallEnded"]"#,
        ))
        .unwrap();
        assert!(w.events.matches("CallEnded"));
        assert!(!w.events.matches("CallHeld"));
        round_trip(&w);
        let out = serde_json::to_value(&w).unwrap();
        assert!(out.get("secret").is_none(), "{out}");

        let errs = parse::<Webhook>(&body(
            "https://a.example",
            r#"["CallOffered", "call_ended", "CallOffered"]"#,
        ))
        .unwrap_err();
        assert_eq!(
            fields_rules(&errs),
            [("events[1]", "enum"), ("events[2]", "duplicate")]
        );
        let errs = parse::<Webhook>(&body("https://a.example", "[]")).unwrap_err();
        assert_eq!(fields_rules(&errs), [("events", "required")]);
        let errs = parse::<Webhook>(&body("https://a.example", r#""some""#)).unwrap_err();
        assert_eq!(fields_rules(&errs), [("events", "format")]);
        let errs = parse::<Webhook>(&body("https://a.example", "[1]")).unwrap_err();
        assert_eq!(fields_rules(&errs), [("events[0]", "type")]);
    }

    #[test]
    fn https_required_except_to_localhost() {
        for ok in [
            "https://crm.acme.example/hook?x=1",
            "http://localhost:8080/hook",
            "http://127.0.0.1:9000/",
            "http://[::1]:9000/",
            "https://10.0.0.5/hook",
        ] {
            assert!(parse::<Webhook>(&body(ok, r#""all""#)).is_ok(), "{ok}");
        }
        for bad in [
            "http://crm.acme.example/hook",
            "http://127.0.0.2/",
            "ftp://crm.acme.example/",
            "https://user:pw@crm.acme.example/",
            "not a url",
            "https://",
            "file:///etc/passwd",
            "",
        ] {
            let errs = parse::<Webhook>(&body(bad, r#""all""#)).unwrap_err();
            assert_eq!(errs[0].field, "url", "{bad}");
        }
    }

    #[test]
    fn the_secret_is_write_only_and_required() {
        let mut w: Webhook =
            parse(br#"{"name": "CRM", "url": "https://a.example", "events": "all"}"#).unwrap();
        let errs = carry_secrets(&mut w, None).unwrap_err();
        assert_eq!(fields_rules(&errs), [("secret", "required")]);
        let errs = parse::<Webhook>(
            br#"{"name": "CRM", "url": "https://a.example", "events": "all", "secret": "short"}"#,
        )
        .unwrap_err();
        assert_eq!(fields_rules(&errs), [("secret", "length")]);
    }
}

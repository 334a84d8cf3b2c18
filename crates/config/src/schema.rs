//! JSON Schemas of the resource types (feature `openapi`), for the api's OpenAPI
//! document: derived with `schemars` from the same serde attributes that parse a body
//! (tagged unions, `deny_unknown_fields` as `additionalProperties: false`, defaults,
//! write-only secrets as `writeOnly`), plus the hand-written schemas of the few types
//! whose serde impls are hand-written: [`TimeOfDay`], [`Secret`], [`EventFilter`] and
//! [`Strategy`] (an `enum` of exactly [`Strategy::ALL`]).

use std::borrow::Cow;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};

use crate::{EVENT_TYPES, EventFilter, Secret, Strategy, TimeOfDay};

/// The pattern of a [`TimeOfDay`]: `00:00` to `23:59`, or `24:00`.
pub const TIME_OF_DAY_PATTERN: &str = "^(([01][0-9]|2[0-3]):[0-5][0-9]|24:00)$";

impl JsonSchema for TimeOfDay {
    fn schema_name() -> Cow<'static, str> {
        "TimeOfDay".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "A wall-clock time of day \"HH:MM\", from \"00:00\" to \"24:00\" (\"24:00\" ends an interval at midnight).",
            "type": "string",
            "pattern": TIME_OF_DAY_PATTERN,
        })
    }
}

impl JsonSchema for Secret {
    fn inline_schema() -> bool {
        true
    }

    fn schema_name() -> Cow<'static, str> {
        "Secret".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "writeOnly": true,
        })
    }
}

impl JsonSchema for EventFilter {
    fn schema_name() -> Cow<'static, str> {
        "EventFilter".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "Which events a webhook receives: \"all\" (every event type, including ones added later), or a list of event types.",
            "oneOf": [
                {"type": "string", "const": "all"},
                {
                    "type": "array",
                    "items": {"type": "string", "enum": EVENT_TYPES},
                    "minItems": 1,
                    "uniqueItems": true,
                },
            ],
        })
    }
}

impl JsonSchema for Strategy {
    fn schema_name() -> Cow<'static, str> {
        "Strategy".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        let ids: Vec<&str> = Strategy::ALL.iter().map(|s| s.as_str()).collect();
        json_schema!({
            "description": "How a queue picks the agent for a call (the routing service implements each).",
            "type": "string",
            "enum": ids,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Agent, Queue, Webhook};
    use serde_json::{Value, json};

    fn root<T: JsonSchema>() -> Value {
        let mut g = schemars::generate::SchemaSettings::draft2020_12()
            .for_deserialize()
            .into_generator();
        g.root_schema_for::<T>().to_value()
    }

    #[test]
    fn the_strategy_enum_is_exactly_strategy_all() {
        let s = root::<Strategy>();
        let ids: Vec<&str> = Strategy::ALL.iter().map(|s| s.as_str()).collect();
        assert_eq!(s["enum"], json!(ids));
        assert_eq!(ids.len(), 11);
    }

    #[test]
    fn secrets_are_write_only_and_optional() {
        let a = root::<Agent>();
        assert_eq!(a["properties"]["sip_password"]["writeOnly"], true, "{a}");
        assert!(
            !a["required"]
                .as_array()
                .unwrap()
                .contains(&json!("sip_password"))
        );
        let w = root::<Webhook>();
        assert_eq!(w["properties"]["secret"]["writeOnly"], true, "{w}");
    }

    #[test]
    fn unknown_fields_are_refused_and_defaults_shown() {
        let q = root::<Queue>();
        assert_eq!(q["additionalProperties"], false, "{q}");
        assert_eq!(q["required"], json!(["name"]), "{q}");
        assert_eq!(
            q["properties"]["ring_timeout_seconds"]["default"], 15,
            "{q}"
        );
        assert_eq!(q["properties"]["strategy"]["default"], "ring-all", "{q}");
        // A tagged union: one object per variant, each closed, each naming its tag.
        let overflow = &q["$defs"]["OverflowTarget"]["oneOf"];
        let tags: Vec<&str> = overflow
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v["properties"]["type"]["const"].as_str().unwrap())
            .collect();
        assert_eq!(tags, ["queue", "number", "voicemail", "callback"]);
        for v in overflow.as_array().unwrap() {
            assert_eq!(v["additionalProperties"], false, "{v}");
            assert!(v["required"].as_array().unwrap().contains(&json!("type")));
        }
    }

    #[test]
    fn the_time_of_day_pattern_accepts_exactly_what_the_parser_accepts() {
        let re = regex::Regex::new(TIME_OF_DAY_PATTERN).unwrap();
        let digits = |n: u32| {
            let s = format!("{n:04}");
            format!("{}:{}", &s[..2], &s[2..])
        };
        for n in 0..10_000 {
            let t = digits(n);
            assert_eq!(re.is_match(&t), TimeOfDay::parse(&t).is_some(), "{t}");
        }
        for odd in ["9:00", "12-00", " 12:00", "12:00 ", "", "24:00:00"] {
            assert!(
                !re.is_match(odd) && TimeOfDay::parse(odd).is_none(),
                "{odd:?}"
            );
        }
    }
}

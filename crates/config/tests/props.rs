//! Properties of `parse` over every resource type: whatever the body, it answers with a
//! value or with well-formed errors and never panics; what it accepts serialises and
//! parses back to the same value (less write-only secrets); and what it accepts is valid.

// Helpers outside `#[test]` functions count as non-test code to clippy.
#![allow(clippy::unwrap_used)]

use std::fmt::Debug;

use common::examples;
use hotline_config::{
    Agent, BusinessHours, EntryFlow, Interval, IvrMenu, PhoneNumber, Prompt, Queue, Resource,
    Strategy as QueueStrategy, TenantSettings, TimeOfDay, Validate, ValidationError, Webhook,
    Weekday, Weekly, parse, parse_stored, rule, to_stored_json,
};
use proptest::prelude::*;
use proptest::sample::Index;
use serde_json::Value;

mod common;

/// Every rule code `ValidationError::rule` may carry.
const RULES: &[&str] = &[
    rule::SYNTAX,
    rule::TYPE,
    rule::UNKNOWN_FIELD,
    rule::REQUIRED,
    rule::ENUM,
    rule::RANGE,
    rule::FORMAT,
    rule::LENGTH,
    rule::DUPLICATE,
    rule::UNKNOWN_REFERENCE,
    rule::CYCLE,
    rule::TIMEZONE,
    rule::DATE,
    rule::OVERLAP,
    rule::ORDER,
    rule::CONTAINMENT,
    rule::NOT_APPLICABLE,
    rule::NOT_ALLOWED,
];

fn well_formed(errs: &[ValidationError]) {
    assert!(!errs.is_empty());
    for e in errs {
        assert!(RULES.contains(&e.rule.as_str()), "unknown rule {e:?}");
        assert!(!e.message.is_empty() && !e.message.ends_with('.'), "{e:?}");
        assert!(
            !e.message.starts_with(|c: char| c.is_uppercase()),
            "message starts uppercase: {e:?}"
        );
        assert!(e.field.chars().count() <= ValidationError::MAX_FIELD_CHARS);
        assert!(e.message.chars().count() <= ValidationError::MAX_MESSAGE_CHARS);
    }
}

/// Parses `body` as `T`; if accepted, checks it is valid, that its public JSON parses
/// back to it less secrets, and that its stored JSON gives it back whole.
fn check<T: Resource + Clone + PartialEq + Debug>(body: &[u8]) -> bool {
    match parse::<T>(body) {
        Ok(v) => {
            assert_eq!(v.validate(), Ok(()));
            let mut expected = v.clone();
            for (_, s) in expected.secrets_mut() {
                *s = None;
            }
            let public = serde_json::to_vec(&v).unwrap();
            assert_eq!(parse::<T>(&public), Ok(expected));
            let stored = to_stored_json(&v).unwrap().to_string();
            assert_eq!(parse_stored::<T>(stored.as_bytes()), Ok(v));
            true
        }
        Err(errs) => {
            well_formed(&errs);
            false
        }
    }
}

fn check_kind(kind: &str, body: &[u8]) -> bool {
    match kind {
        TenantSettings::KIND => check::<TenantSettings>(body),
        PhoneNumber::KIND => check::<PhoneNumber>(body),
        EntryFlow::KIND => check::<EntryFlow>(body),
        BusinessHours::KIND => check::<BusinessHours>(body),
        IvrMenu::KIND => check::<IvrMenu>(body),
        Prompt::KIND => check::<Prompt>(body),
        Queue::KIND => check::<Queue>(body),
        Agent::KIND => check::<Agent>(body),
        Webhook::KIND => check::<Webhook>(body),
        other => panic!("no example for {other}"),
    }
}

#[test]
fn every_example_is_valid_and_round_trips() {
    let kinds: Vec<&str> = examples().iter().map(|(k, _)| *k).collect();
    for k in hotline_config::KINDS {
        assert!(kinds.contains(k), "no example for {k}");
    }
    for (kind, body) in examples() {
        assert!(check_kind(kind, body.to_string().as_bytes()), "{kind}");
    }
}

/// Words that the resources use, so that random documents often get past the first
/// field and exercise validation rather than only "unknown field".
const WORDS: &[&str] = &[
    "name",
    "time_zone",
    "locale",
    "number",
    "entry_flow",
    "greeting",
    "business_hours",
    "start",
    "end",
    "after_hours",
    "type",
    "id",
    "prompt",
    "queue",
    "email",
    "max_seconds",
    "schedule",
    "monday",
    "sunday",
    "exceptions",
    "open",
    "timeout_seconds",
    "max_invalid",
    "choices",
    "digit",
    "action",
    "fallback",
    "language",
    "audio",
    "object_key",
    "strategy",
    "ring_timeout_seconds",
    "overflow",
    "join_when_empty",
    "required_skills",
    "penalty_widening",
    "after_seconds",
    "max_penalty",
    "extension",
    "sip_username",
    "sip_password",
    "skills",
    "queues",
    "penalty",
    "lunch",
    "url",
    "secret",
    "events",
    "all",
    "active",
    "09:00",
    "24:00",
    "25:00",
    "ring-all",
    "ring-progressively",
    "submenu",
    "voicemail",
    "repeat",
    "+78005553535",
    "8-800-555-35-35",
    "Europe/Moscow",
    "2026-02-29",
    "2026-03-08",
    "CallOffered",
    "https://a.example",
    "http://localhost",
    "",
    "1",
    "#",
];

fn word() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => prop::sample::select(WORDS).prop_map(str::to_owned),
        1 => ".{0,12}",
    ]
}

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        (0u32..200).prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        word().prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(word(), inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Every JSON pointer into `v`.
fn pointers(v: &Value, at: String, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                let p = format!("{at}/{}", k.replace('~', "~0").replace('/', "~1"));
                out.push(p.clone());
                pointers(x, p, out);
            }
        }
        Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                let p = format!("{at}/{i}");
                out.push(p.clone());
                pointers(x, p, out);
            }
        }
        _ => {}
    }
}

#[derive(Debug, Clone)]
enum Mutation {
    Replace(Value),
    Remove,
    Insert(String, Value),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        3 => arb_json().prop_map(Mutation::Replace),
        1 => Just(Mutation::Remove),
        1 => (word(), arb_json()).prop_map(|(k, v)| Mutation::Insert(k, v)),
    ]
}

fn mutate(doc: &mut Value, at: Index, m: Mutation) {
    let mut ptrs = Vec::new();
    pointers(doc, String::new(), &mut ptrs);
    if ptrs.is_empty() {
        return;
    }
    let ptr = ptrs[at.index(ptrs.len())].clone();
    match m {
        Mutation::Replace(v) => {
            if let Some(slot) = doc.pointer_mut(&ptr) {
                *slot = v;
            }
        }
        Mutation::Remove => {
            let (parent, key) = ptr.rsplit_once('/').unwrap_or(("", &ptr));
            let key = key.replace("~1", "/").replace("~0", "~");
            match doc.pointer_mut(parent) {
                Some(Value::Object(o)) => {
                    o.remove(&key);
                }
                Some(Value::Array(a)) => {
                    if let Ok(i) = key.parse::<usize>()
                        && i < a.len()
                    {
                        a.remove(i);
                    }
                }
                _ => {}
            }
        }
        Mutation::Insert(k, v) => match doc.pointer_mut(&ptr) {
            Some(Value::Object(o)) => {
                o.insert(k, v);
            }
            Some(Value::Array(a)) => a.push(v),
            _ => {}
        },
    }
}

fn config(cases: u32) -> ProptestConfig {
    // Integration tests have no lib.rs beside them to keep regressions in.
    // PROPTEST_CASES raises (or lowers) the count for a deeper run.
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(cases);
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config(512))]

    #[test]
    fn arbitrary_bytes_never_panic(body in prop::collection::vec(any::<u8>(), 0..64)) {
        for (kind, _) in examples() {
            check_kind(kind, &body);
        }
    }

    #[test]
    fn arbitrary_json_never_panics(doc in arb_json()) {
        let body = doc.to_string();
        for (kind, _) in examples() {
            check_kind(kind, body.as_bytes());
        }
    }

    #[test]
    fn mutated_examples_never_panic_and_round_trip_when_accepted(
        which in any::<Index>(),
        edits in prop::collection::vec((any::<Index>(), mutation()), 1..4),
    ) {
        let all = examples();
        let (kind, mut doc) = all[which.index(all.len())].clone();
        for (at, m) in edits {
            mutate(&mut doc, at, m);
        }
        check_kind(kind, doc.to_string().as_bytes());
    }
}

fn time(minutes: u16) -> TimeOfDay {
    TimeOfDay::new(
        u8::try_from(minutes / 60).unwrap(),
        u8::try_from(minutes % 60).unwrap(),
    )
    .unwrap()
}

/// A day of non-overlapping intervals: sorted distinct cut points, paired up.
fn arb_day() -> impl Strategy<Value = Vec<Interval>> {
    prop::collection::btree_set(0u16..=1440, 0..10).prop_map(|cuts| {
        let cuts: Vec<u16> = cuts.into_iter().collect();
        cuts.chunks_exact(2)
            .map(|p| Interval::new(time(p[0]), time(p[1])))
            .collect()
    })
}

fn arb_week() -> impl Strategy<Value = Weekly<Interval>> {
    prop::collection::vec(arb_day(), 7).prop_map(|days| {
        let mut w = Weekly::default();
        for (d, list) in Weekday::ALL.into_iter().zip(days) {
            *w.day_mut(d) = list;
        }
        w
    })
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn generated_business_hours_round_trip(schedule in arb_week(), tz in prop::sample::select(vec![None, Some("UTC"), Some("Asia/Vladivostok")])) {
        let h = BusinessHours {
            name: "Office".into(),
            time_zone: tz.map(str::to_owned),
            schedule,
            exceptions: Default::default(),
        };
        prop_assert_eq!(h.validate(), Ok(()));
        prop_assert!(check::<BusinessHours>(&serde_json::to_vec(&h).unwrap()));
    }

    #[test]
    fn generated_queues_round_trip(
        strategy in prop::sample::select(QueueStrategy::ALL.to_vec()),
        ring in 1u32..=600,
        wrap in 0u32..=3600,
        max_wait in 0u32..=86_400,
        priority in 0u32..=100,
        steps in prop::collection::btree_set((0u32..=86_400, 0u32..=100), 0..5),
    ) {
        let mut q = Queue::new("Q");
        q.strategy = strategy;
        q.ring_timeout_seconds = ring;
        q.wrap_up_seconds = wrap;
        q.max_wait_seconds = max_wait;
        q.priority = priority;
        if strategy == QueueStrategy::RingProgressively {
            q.ring_progressively_interval_seconds = Some(ring.min(60));
        }
        // Keep only steps that increase in both fields.
        let mut last: Option<(u32, u32)> = None;
        for (after, pen) in steps {
            if last.is_none_or(|(a, p)| after > a && pen > p) {
                q.penalty_widening.push(hotline_config::PenaltyStep { after_seconds: after, max_penalty: pen });
                last = Some((after, pen));
            }
        }
        prop_assert_eq!(q.validate(), Ok(()));
        prop_assert!(check::<Queue>(&serde_json::to_vec(&q).unwrap()));
    }
}

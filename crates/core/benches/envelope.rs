//! Envelope encode and decode: every event crosses this edge at least twice (publish,
//! consume), so its cost bounds the bus throughput of one core.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use hotline_core::events::payload::CallOffered;
use hotline_core::{CallId, Event, Payload, TenantId};

fn envelope(c: &mut Criterion) {
    let event = Event::new(
        TenantId::new("acme").expect("id"),
        Some(CallId::generate()),
        Payload::CallOffered(CallOffered {
            caller: "+15550001".into(),
            did: "+15550100".into(),
            entry_flow_id: "main".into(),
            ivr_path: vec!["1".into(), "2".into()],
            sip_call_id: "a84b4c76e66710@pc33.example.com".into(),
            ..Default::default()
        }),
    );
    let bytes = event.encode_to_vec();
    c.bench_function("envelope_encode_call_offered", |b| {
        b.iter(|| black_box(&event).encode_to_vec())
    });
    c.bench_function("envelope_decode_call_offered", |b| {
        b.iter(|| Event::decode(black_box(&bytes)))
    });
}

criterion_group!(benches, envelope);
criterion_main!(benches);

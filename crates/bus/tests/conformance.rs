//! The conformance suite of the event bus: one set of tests, generic over
//! `Arc<dyn EventBus>`, run against [`MemoryBus`] and against [`KafkaBus`] on a real
//! Kafka-compatible broker (tansu; address in `HOTLINE_TEST_KAFKA`, default
//! `127.0.0.1:19092`). A Kafka test fails, never skips, when the broker is unreachable.
//!
//! Every test makes its own topics and groups (uuid v7 suffix), so the tests run in
//! parallel and on a broker shared with others. Timeouts are generous and only there to
//! turn a hang into a failure.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context as _, anyhow, bail, ensure};
use async_trait::async_trait;
use bytes::Bytes;
use hotline_bus::{
    ConsumerMetrics, Delivery, Error, EventBus, HEADER_DLQ_REASON, HEADER_DLQ_SOURCE,
    HEADER_EVENT_ID, HEADER_EVENT_TYPE, HEADER_TENANT_ID, HEADER_TRACEPARENT, Handler,
    HandlerError, KafkaBus, KafkaConfig, MemoryBus, Publisher, Record, Subscription, TopicSpec,
    dead_letter_topic, publisher::extract_context, run_consumer, topics_for,
};
use hotline_core::{CallId, Event, TenantId};
use hotline_proto::v1 as pb;
use opentelemetry::trace::{SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState};
use prost::Message as _;
use tokio::sync::{Notify, mpsc};
use tokio_util::sync::CancellationToken;

/// Longest wait for anything; only reached when something hangs.
const WAIT: Duration = Duration::from_secs(60);

// ---------------------------------------------------------------------------------------
// Harness

fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", uuid::Uuid::now_v7().simple())
}

fn memory_bus() -> Arc<dyn EventBus> {
    Arc::new(MemoryBus::new())
}

async fn kafka_bus() -> Arc<dyn EventBus> {
    let brokers =
        std::env::var("HOTLINE_TEST_KAFKA").unwrap_or_else(|_| "127.0.0.1:19092".to_owned());
    let mut config = KafkaConfig::new(&brokers);
    config.client_id = "hotline-bus-conformance".to_owned();
    let bus = KafkaBus::new(config).expect("kafka client configuration is valid");
    match tokio::time::timeout(Duration::from_secs(20), bus.ping()).await {
        Ok(Ok(())) => Arc::new(bus),
        other => panic!(
            "the Kafka-compatible broker at {brokers} (HOTLINE_TEST_KAFKA) is unreachable: \
             {other:?}; start one with `tansu broker --listener-url tcp://{brokers} \
             --advertised-listener-url tcp://{brokers} --storage-engine memory://tansu/`"
        ),
    }
}

async fn next(sub: &mut Box<dyn Subscription>) -> anyhow::Result<Delivery> {
    tokio::time::timeout(WAIT, sub.next())
        .await
        .context("no record arrived in time")?
        .context("next failed")
}

fn record(topic: &str, key: &str, payload: impl Into<Bytes>) -> Record {
    Record {
        topic: topic.to_owned(),
        key: key.to_owned(),
        payload: payload.into(),
        headers: vec![],
    }
}

/// A `CallOffered` event of `tenant`, built from the wire so that the test depends only
/// on the envelope contract.
fn event(tenant: &str, call: &CallId) -> Event {
    let env = pb::Envelope {
        event_id: uuid::Uuid::now_v7().to_string(),
        tenant_id: tenant.to_owned(),
        call_id: call.to_string(),
        occurred_at: Some(Default::default()),
        schema_version: hotline_proto::SCHEMA_VERSION,
        payload: Some(pb::envelope::Payload::CallOffered(pb::CallOffered {
            caller: "+15550100".to_owned(),
            did: "+15550199".to_owned(),
            ..Default::default()
        })),
    };
    let template = Event::decode(&env.encode_to_vec()).expect("a valid envelope decodes");
    Event::new(
        TenantId::new(tenant).expect("valid tenant id"),
        Some(call.clone()),
        template.payload,
    )
}

/// Records every event it handles; fails the first `transient` attempts of each event
/// transiently, and every event in `permanent` for good.
#[derive(Default)]
struct Recorder {
    transient: u32,
    permanent: Vec<String>,
    attempts: Mutex<HashMap<String, u32>>,
    handled: Mutex<Vec<Event>>,
    tx: Mutex<Option<mpsc::UnboundedSender<Event>>>,
}

impl Recorder {
    fn new() -> (Arc<Self>, mpsc::UnboundedReceiver<Event>) {
        Self::with(0, vec![])
    }

    fn with(transient: u32, permanent: Vec<String>) -> (Arc<Self>, mpsc::UnboundedReceiver<Event>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let r = Self {
            transient,
            permanent,
            tx: Mutex::new(Some(tx)),
            ..Self::default()
        };
        (Arc::new(r), rx)
    }

    fn attempts(&self, id: &str) -> u32 {
        self.attempts
            .lock()
            .expect("recorder lock")
            .get(id)
            .copied()
            .unwrap_or(0)
    }

    fn handled_ids(&self) -> Vec<String> {
        self.handled
            .lock()
            .expect("recorder lock")
            .iter()
            .map(|e| e.id.to_string())
            .collect()
    }
}

#[async_trait]
impl Handler for Recorder {
    async fn handle(&self, event: &Event) -> Result<(), HandlerError> {
        let id = event.id.to_string();
        let attempt = {
            let mut attempts = self.attempts.lock().expect("recorder lock");
            let n = attempts.entry(id.clone()).or_insert(0);
            *n += 1;
            *n
        };
        if self.permanent.contains(&id) {
            return Err(HandlerError::Permanent("refused by the test".to_owned()));
        }
        if attempt <= self.transient {
            return Err(HandlerError::Transient(format!("attempt {attempt} fails")));
        }
        self.handled
            .lock()
            .expect("recorder lock")
            .push(event.clone());
        if let Some(tx) = self.tx.lock().expect("recorder lock").as_ref() {
            let _ = tx.send(event.clone());
        }
        Ok(())
    }
}

async fn recv(rx: &mut mpsc::UnboundedReceiver<Event>) -> anyhow::Result<Event> {
    tokio::time::timeout(WAIT, rx.recv())
        .await
        .context("the handler saw no event in time")?
        .ok_or_else(|| anyhow!("handler channel closed"))
}

fn metrics_text(metrics: &ConsumerMetrics) -> anyhow::Result<String> {
    let mut registry = prometheus_client::registry::Registry::default();
    let sub = registry.sub_registry_with_prefix("hotline_test");
    metrics.register(sub);
    let mut text = String::new();
    prometheus_client::encoding::text::encode(&mut text, &registry)?;
    Ok(text)
}

/// The value of the sample whose line starts with `prefix` (name and labels).
fn sample(text: &str, prefix: &str) -> Option<f64> {
    text.lines()
        .find(|l| l.starts_with(prefix))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

struct Running {
    shutdown: CancellationToken,
    task: tokio::task::JoinHandle<hotline_bus::Result<()>>,
}

impl Running {
    fn start(
        bus: &Arc<dyn EventBus>,
        group: &str,
        topic: &str,
        handler: Arc<dyn Handler>,
        metrics: &ConsumerMetrics,
    ) -> Self {
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(run_consumer(
            Arc::clone(bus),
            group.to_owned(),
            topic.to_owned(),
            handler,
            metrics.clone(),
            shutdown.clone(),
        ));
        Self { shutdown, task }
    }

    async fn stop(self) -> anyhow::Result<()> {
        self.shutdown.cancel();
        tokio::time::timeout(WAIT, self.task)
            .await
            .context("run_consumer did not stop")???;
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------
// The suite

/// A record comes back with its key, payload and headers, byte for byte and in order.
async fn publish_with_headers_roundtrip(bus: Arc<dyn EventBus>) -> anyhow::Result<()> {
    let topic = unique("roundtrip");
    bus.ensure_topics(&[TopicSpec::new(&topic, 1)]).await?;
    let sent = Record {
        topic: topic.clone(),
        key: "call-1".to_owned(),
        payload: Bytes::from_static(b"\x00\x01payload\xff"),
        headers: vec![
            ("h-text".to_owned(), Bytes::from_static(b"value")),
            ("h-binary".to_owned(), Bytes::from_static(b"\x00\xff\x10")),
            ("h-empty".to_owned(), Bytes::new()),
        ],
    };
    bus.publish(sent.clone()).await?;
    let mut sub = bus
        .subscribe(&unique("g"), std::slice::from_ref(&topic))
        .await?;
    let d = next(&mut sub).await?;
    assert_eq!(d.topic, topic);
    assert_eq!(d.partition, 0);
    assert_eq!(d.key.as_deref(), Some("call-1"));
    assert_eq!(d.payload, sent.payload);
    assert_eq!(d.headers, sent.headers);
    assert_eq!(d.header("h-binary"), Some(&b"\x00\xff\x10"[..]));
    assert_eq!(d.header("missing"), None);
    Ok(())
}

/// A group reads a partition in order, and records published after it joined arrive too.
async fn consume_in_group(bus: Arc<dyn EventBus>) -> anyhow::Result<()> {
    let topic = unique("group");
    bus.ensure_topics(&[TopicSpec::new(&topic, 1)]).await?;
    for i in 0..3 {
        bus.publish(record(&topic, "k", format!("r{i}"))).await?;
    }
    let mut sub = bus
        .subscribe(&unique("g"), std::slice::from_ref(&topic))
        .await?;
    let mut offsets = vec![];
    for i in 0..3 {
        let d = next(&mut sub).await?;
        assert_eq!(d.payload, format!("r{i}").as_bytes());
        offsets.push(d.offset);
        sub.commit(&d).await?;
    }
    assert!(offsets.windows(2).all(|w| w[0] < w[1]), "{offsets:?}");
    // next() waits for what comes later.
    let later = {
        let bus = Arc::clone(&bus);
        let topic = topic.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(200)).await;
            bus.publish(record(&topic, "k", "late")).await
        })
    };
    let d = next(&mut sub).await?;
    assert_eq!(d.payload, &b"late"[..]);
    later.await??;
    Ok(())
}

/// Consume 5, commit the 3rd, drop the consumer: a new member of the group gets the 4th
/// and 5th again; another group sees all 5.
async fn at_least_once_after_restart(bus: Arc<dyn EventBus>) -> anyhow::Result<()> {
    let topic = unique("restart");
    let group = unique("g");
    bus.ensure_topics(&[TopicSpec::new(&topic, 1)]).await?;
    for i in 1..=5 {
        bus.publish(record(&topic, "k", format!("r{i}"))).await?;
    }
    let mut first = bus.subscribe(&group, std::slice::from_ref(&topic)).await?;
    let mut got = vec![];
    for _ in 0..5 {
        got.push(next(&mut first).await?);
    }
    assert_eq!(got[2].payload, &b"r3"[..]);
    first.commit(&got[2]).await?;
    drop(first);

    let mut second = bus.subscribe(&group, std::slice::from_ref(&topic)).await?;
    let d4 = next(&mut second).await?;
    assert_eq!(d4.payload, &b"r4"[..], "resumes after the last commit");
    assert_eq!(d4.offset, got[3].offset);
    let d5 = next(&mut second).await?;
    assert_eq!(d5.payload, &b"r5"[..]);
    second.commit(&d5).await?;

    let mut other = bus
        .subscribe(&unique("g2"), std::slice::from_ref(&topic))
        .await?;
    for i in 1..=5 {
        assert_eq!(next(&mut other).await?.payload, format!("r{i}").as_bytes());
    }
    Ok(())
}

/// Two live members of one group share the partitions (each gets records, none is lost);
/// when one leaves, the other takes its partitions over.
async fn group_members_share_and_take_over(bus: Arc<dyn EventBus>) -> anyhow::Result<()> {
    let topic = unique("share");
    let group = unique("g");
    bus.ensure_topics(&[TopicSpec::new(&topic, 4)]).await?;
    let (tx, mut rx) = mpsc::unbounded_channel::<(&'static str, String)>();
    let reader = |name: &'static str, mut sub: Box<dyn Subscription>| {
        let tx = tx.clone();
        tokio::spawn(async move {
            loop {
                let d = sub.next().await?;
                sub.commit(&d).await?;
                let payload = String::from_utf8(d.payload.to_vec())?;
                if tx.send((name, payload)).is_err() {
                    return anyhow::Ok(());
                }
            }
        })
    };
    let a = reader(
        "a",
        bus.subscribe(&group, std::slice::from_ref(&topic)).await?,
    );
    let b = reader(
        "b",
        bus.subscribe(&group, std::slice::from_ref(&topic)).await?,
    );

    // Publish until both members got records: with Kafka, the group settles in the
    // background, so how many records that takes is not fixed.
    let mut published = std::collections::BTreeSet::new();
    let mut received: HashMap<String, Vec<&str>> = HashMap::new();
    let deadline = tokio::time::Instant::now() + WAIT;
    let mut i = 0;
    loop {
        let members: std::collections::HashSet<&str> =
            received.values().flatten().copied().collect();
        if members.len() == 2 {
            break;
        }
        ensure!(
            tokio::time::Instant::now() < deadline,
            "both members never got records: {members:?}"
        );
        let payload = format!("r{i}");
        bus.publish(record(&topic, &format!("key-{i}"), payload.clone()))
            .await?;
        published.insert(payload);
        i += 1;
        while let Ok(Some((m, p))) =
            tokio::time::timeout(Duration::from_millis(50), rx.recv()).await
        {
            received.entry(p).or_default().push(m);
        }
    }
    // Nothing published so far is lost.
    while !published.iter().all(|p| received.contains_key(p)) {
        let (m, p) = tokio::time::timeout(WAIT, rx.recv())
            .await
            .context("records went missing")?
            .ok_or_else(|| anyhow!("readers stopped"))?;
        received.entry(p).or_default().push(m);
    }

    // b leaves; a takes over b's partitions, so every new record reaches a.
    b.abort();
    let _ = b.await;
    let mut after = std::collections::BTreeSet::new();
    for j in 0..20 {
        let payload = format!("after{j}");
        bus.publish(record(&topic, &format!("key-after-{j}"), payload.clone()))
            .await?;
        after.insert(payload);
    }
    while !after.is_empty() {
        let (m, p) = tokio::time::timeout(WAIT, rx.recv())
            .await
            .context("a did not take b's partitions over")?
            .ok_or_else(|| anyhow!("readers stopped"))?;
        if after.remove(&p) {
            assert_eq!(m, "a");
        }
    }
    a.abort();
    Ok(())
}

/// On a multi-partition topic, each key's records stay on one partition and in order.
async fn per_key_order(bus: Arc<dyn EventBus>) -> anyhow::Result<()> {
    let topic = unique("order");
    bus.ensure_topics(&[TopicSpec::new(&topic, 4)]).await?;
    let keys: Vec<String> = (0..6).map(|k| format!("call-{k}")).collect();
    const PER_KEY: usize = 15;
    for seq in 0..PER_KEY {
        for key in &keys {
            bus.publish(record(&topic, key, format!("{key}:{seq}")))
                .await?;
        }
    }
    let mut sub = bus
        .subscribe(&unique("g"), std::slice::from_ref(&topic))
        .await?;
    let mut seen: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    let mut partition_of: HashMap<String, i32> = HashMap::new();
    for _ in 0..keys.len() * PER_KEY {
        let d = next(&mut sub).await?;
        let text = String::from_utf8(d.payload.to_vec())?;
        let (key, seq) = text.split_once(':').ok_or_else(|| anyhow!("bad payload"))?;
        assert_eq!(d.key.as_deref(), Some(key));
        let p = *partition_of.entry(key.to_owned()).or_insert(d.partition);
        assert_eq!(p, d.partition, "key {key} moved partitions");
        seen.entry(key.to_owned()).or_default().push(seq.parse()?);
    }
    for key in &keys {
        assert_eq!(
            seen.get(key),
            Some(&(0..PER_KEY).collect::<Vec<_>>()),
            "order of {key}"
        );
    }
    let partitions: std::collections::HashSet<_> = partition_of.values().collect();
    assert!(partitions.len() > 1, "keys should spread over partitions");
    Ok(())
}

/// ensure_topics twice is fine and keeps the data; unknown topics and bad specs are
/// specific errors; ping answers.
async fn ensure_topics_idempotent(bus: Arc<dyn EventBus>) -> anyhow::Result<()> {
    bus.ping().await?;
    let topic = unique("ensure");
    let specs = topics_for(&topic, 2);
    assert_eq!(specs[1].name, dead_letter_topic(&topic));
    bus.ensure_topics(&specs).await?;
    bus.publish(record(&topic, "k", "kept")).await?;
    bus.ensure_topics(&specs).await?;
    bus.ensure_topics(&[TopicSpec::new(&topic, 5)]).await?;
    bus.ensure_topics(&[]).await?;
    let mut sub = bus
        .subscribe(&unique("g"), std::slice::from_ref(&topic))
        .await?;
    assert_eq!(next(&mut sub).await?.payload, &b"kept"[..]);

    let missing = unique("missing");
    match bus.publish(record(&missing, "k", "x")).await {
        Err(Error::UnknownTopic(t)) => assert_eq!(t, missing),
        other => bail!("publish to a missing topic: {other:?}"),
    }
    match bus
        .subscribe(&unique("g"), std::slice::from_ref(&missing))
        .await
    {
        Err(Error::UnknownTopic(t)) => assert_eq!(t, missing),
        other => bail!("subscribe to a missing topic: {other:?}"),
    }
    for bad in [
        TopicSpec::new("has space", 1),
        TopicSpec::new("", 1),
        TopicSpec::new(unique("zero"), 0),
    ] {
        let result = bus.ensure_topics(std::slice::from_ref(&bad)).await;
        assert!(
            matches!(result, Err(Error::CreateTopic { .. })),
            "{bad:?}: {result:?}"
        );
    }
    assert!(matches!(
        bus.subscribe("", std::slice::from_ref(&topic)).await,
        Err(Error::Invalid(_))
    ));
    assert!(matches!(
        bus.subscribe("g", &[]).await,
        Err(Error::Invalid(_))
    ));
    Ok(())
}

/// A record over the size limit is refused with a specific error and nothing is stored;
/// one just under it goes through.
async fn oversized_records_are_refused(bus: Arc<dyn EventBus>) -> anyhow::Result<()> {
    let topic = unique("size");
    bus.ensure_topics(&[TopicSpec::new(&topic, 1)]).await?;
    let max = hotline_bus::DEFAULT_MAX_RECORD_BYTES;
    let too_big = record(&topic, "k", vec![7u8; max]);
    match bus.publish(too_big.clone()).await {
        Err(Error::RecordTooLarge { size, max: limit }) => {
            assert_eq!(size, too_big.size());
            assert_eq!(limit, max);
        }
        other => bail!("oversized record: {other:?}"),
    }
    let fits = record(&topic, "k", vec![7u8; 512 * 1024]);
    bus.publish(fits.clone()).await?;
    let mut sub = bus
        .subscribe(&unique("g"), std::slice::from_ref(&topic))
        .await?;
    let d = next(&mut sub).await?;
    assert_eq!(
        d.payload, fits.payload,
        "only the record that fits was stored"
    );
    Ok(())
}

/// Garbage, an unknown schema version, an envelope without payload and a record whose
/// tenant header lies are parked on the DLQ with the reason and the original bytes,
/// counted, and the consumer goes on to the next good event.
async fn bad_records_are_dead_lettered(bus: Arc<dyn EventBus>) -> anyhow::Result<()> {
    let topic = unique("dlq");
    bus.ensure_topics(&topics_for(&topic, 2)).await?;
    let tenant = unique("t");
    let call = CallId::generate();
    let key = call.to_string();
    let publisher = Publisher::new(Arc::clone(&bus), &topic);

    let garbage = Bytes::from_static(b"\xff\xfe not protobuf \x00\x01");
    let mut unknown_schema = pb::Envelope::from(event(&tenant, &call));
    unknown_schema.schema_version = 99;
    let mut no_payload = pb::Envelope::from(event(&tenant, &call));
    no_payload.payload = None;
    let liar = event(&tenant, &call);
    let mut liar_record =
        hotline_bus::publisher::record_for(&topic, &liar, &opentelemetry::Context::new());
    for (k, v) in &mut liar_record.headers {
        if k == HEADER_TENANT_ID {
            *v = Bytes::from("someone-else");
        }
    }
    let bad: Vec<(Record, &str)> = vec![
        (
            Record {
                headers: vec![("origin".to_owned(), Bytes::from_static(b"fuzzer"))],
                ..record(&topic, &key, garbage)
            },
            "malformed",
        ),
        (
            record(&topic, &key, unknown_schema.encode_to_vec()),
            "unsupported_schema",
        ),
        (
            record(&topic, &key, no_payload.encode_to_vec()),
            "missing_payload",
        ),
        (liar_record, "tenant_mismatch"),
    ];
    for (r, _) in &bad {
        bus.publish(r.clone()).await?;
    }
    // Same key, same partition: the good event comes after the bad ones.
    let good = event(&tenant, &call);
    publisher.publish(&good).await?;

    let (handler, mut rx) = Recorder::new();
    let metrics = ConsumerMetrics::new();
    let consumer = Running::start(&bus, &unique("g"), &topic, handler.clone(), &metrics);
    let handled = recv(&mut rx).await?;
    assert_eq!(handled.id, good.id);
    consumer.stop().await?;
    assert_eq!(handler.handled_ids(), vec![good.id.to_string()]);

    let mut dlq = bus
        .subscribe(&unique("dlq-reader"), &[dead_letter_topic(&topic)])
        .await?;
    for (original, reason) in &bad {
        let d = next(&mut dlq).await?;
        assert_eq!(d.header(HEADER_DLQ_REASON), Some(reason.as_bytes()));
        assert_eq!(d.header(HEADER_DLQ_SOURCE), Some(topic.as_bytes()));
        assert_eq!(d.payload, original.payload, "{reason}: original bytes");
        assert_eq!(d.key.as_deref(), Some(key.as_str()));
        for (k, v) in &original.headers {
            assert_eq!(d.header(k), Some(v.as_ref()), "{reason}: header {k}");
        }
    }

    let text = metrics_text(&metrics)?;
    for (_, reason) in &bad {
        let line = format!(
            "hotline_test_bus_events_dead_lettered_total{{topic=\"{topic}\",reason=\"{reason}\"}}"
        );
        assert_eq!(sample(&text, &line), Some(1.0), "{line} in\n{text}");
    }
    let consumed = format!(
        "hotline_test_bus_events_consumed_total{{topic=\"{topic}\",event_type=\"CallOffered\"}}"
    );
    assert_eq!(sample(&text, &consumed), Some(1.0), "{text}");
    Ok(())
}

/// A transient handler error is retried until it works; the event is handled once,
/// committed, and the consumer moves on.
async fn transient_errors_are_retried(bus: Arc<dyn EventBus>) -> anyhow::Result<()> {
    let topic = unique("retry");
    let group = unique("g");
    bus.ensure_topics(&topics_for(&topic, 1)).await?;
    let publisher = Publisher::new(Arc::clone(&bus), &topic);
    let tenant = unique("t");
    let first = event(&tenant, &CallId::generate());
    publisher.publish(&first).await?;

    let (handler, mut rx) = Recorder::with(3, vec![]);
    let metrics = ConsumerMetrics::new();
    let consumer = Running::start(&bus, &group, &topic, handler.clone(), &metrics);
    assert_eq!(recv(&mut rx).await?.id, first.id);
    assert_eq!(handler.attempts(&first.id.to_string()), 4);
    let second = event(&tenant, &CallId::generate());
    publisher.publish(&second).await?;
    assert_eq!(recv(&mut rx).await?.id, second.id);
    consumer.stop().await?;
    assert_eq!(
        handler.handled_ids(),
        vec![first.id.to_string(), second.id.to_string()]
    );
    let text = metrics_text(&metrics)?;
    let retries = format!("hotline_test_bus_handler_retries_total{{topic=\"{topic}\"}}");
    // The second event also fails 3 times before it works.
    assert_eq!(sample(&text, &retries), Some(6.0), "{text}");

    // Both were committed: a restarted consumer of the group sees only what is new.
    let third = event(&tenant, &CallId::generate());
    publisher.publish(&third).await?;
    let (handler, mut rx) = Recorder::new();
    let consumer = Running::start(&bus, &group, &topic, handler.clone(), &metrics);
    assert_eq!(recv(&mut rx).await?.id, third.id);
    consumer.stop().await?;
    assert_eq!(handler.handled_ids(), vec![third.id.to_string()]);
    Ok(())
}

/// A permanent handler error parks the event and the consumer goes on.
async fn permanent_errors_are_dead_lettered(bus: Arc<dyn EventBus>) -> anyhow::Result<()> {
    let topic = unique("permanent");
    bus.ensure_topics(&topics_for(&topic, 1)).await?;
    let publisher = Publisher::new(Arc::clone(&bus), &topic);
    let tenant = unique("t");
    let refused = event(&tenant, &CallId::generate());
    let fine = event(&tenant, &CallId::generate());
    publisher.publish(&refused).await?;
    publisher.publish(&fine).await?;

    let (handler, mut rx) = Recorder::with(0, vec![refused.id.to_string()]);
    let metrics = ConsumerMetrics::new();
    let consumer = Running::start(&bus, &unique("g"), &topic, handler.clone(), &metrics);
    assert_eq!(recv(&mut rx).await?.id, fine.id);
    consumer.stop().await?;
    assert_eq!(handler.attempts(&refused.id.to_string()), 1);

    let mut dlq = bus
        .subscribe(&unique("dlq-reader"), &[dead_letter_topic(&topic)])
        .await?;
    let d = next(&mut dlq).await?;
    assert_eq!(d.header(HEADER_DLQ_REASON), Some(&b"handler_permanent"[..]));
    assert_eq!(Event::decode(&d.payload)?.id, refused.id);
    let text = metrics_text(&metrics)?;
    let line = format!(
        "hotline_test_bus_events_dead_lettered_total{{topic=\"{topic}\",reason=\"handler_permanent\"}}"
    );
    assert_eq!(sample(&text, &line), Some(1.0), "{text}");
    Ok(())
}

/// Shutdown while the handler works: the record is finished and committed, then
/// run_consumer returns.
async fn shutdown_finishes_the_record_in_hand(bus: Arc<dyn EventBus>) -> anyhow::Result<()> {
    struct Slow {
        started: Notify,
        release: Notify,
        done: AtomicU32,
    }
    #[async_trait]
    impl Handler for Slow {
        async fn handle(&self, _: &Event) -> Result<(), HandlerError> {
            self.started.notify_one();
            self.release.notified().await;
            self.done.fetch_add(1, Ordering::SeqCst);
            Ok(())
        }
    }
    let topic = unique("shutdown");
    let group = unique("g");
    bus.ensure_topics(&topics_for(&topic, 1)).await?;
    let publisher = Publisher::new(Arc::clone(&bus), &topic);
    let tenant = unique("t");
    publisher
        .publish(&event(&tenant, &CallId::generate()))
        .await?;
    let slow = Arc::new(Slow {
        started: Notify::new(),
        release: Notify::new(),
        done: AtomicU32::new(0),
    });
    let consumer = Running::start(&bus, &group, &topic, slow.clone(), &ConsumerMetrics::new());
    tokio::time::timeout(WAIT, slow.started.notified()).await?;
    consumer.shutdown.cancel();
    slow.release.notify_one();
    tokio::time::timeout(WAIT, consumer.task).await???;
    assert_eq!(slow.done.load(Ordering::SeqCst), 1);

    // The record was committed before returning.
    let after = event(&tenant, &CallId::generate());
    publisher.publish(&after).await?;
    let (handler, mut rx) = Recorder::new();
    let consumer = Running::start(
        &bus,
        &group,
        &topic,
        handler.clone(),
        &ConsumerMetrics::new(),
    );
    assert_eq!(recv(&mut rx).await?.id, after.id);
    consumer.stop().await?;
    assert_eq!(handler.handled_ids(), vec![after.id.to_string()]);
    Ok(())
}

/// Every record carries its tenant, event id and type in headers that match the
/// envelope, and a consumer filtering on the tenant header sees only its tenant's events.
async fn tenant_isolation(bus: Arc<dyn EventBus>) -> anyhow::Result<()> {
    let topic = unique("tenants");
    bus.ensure_topics(&[TopicSpec::new(&topic, 3)]).await?;
    let publisher = Publisher::new(Arc::clone(&bus), &topic);
    let (a, b) = (unique("tenant-a"), unique("tenant-b"));
    let mut sent_a = vec![];
    for _ in 0..4 {
        let ea = event(&a, &CallId::generate());
        let eb = event(&b, &CallId::generate());
        publisher.publish(&ea).await?;
        publisher.publish(&eb).await?;
        sent_a.push(ea.id.to_string());
    }
    let mut sub = bus
        .subscribe(&unique("g"), std::slice::from_ref(&topic))
        .await?;
    let mut seen_a = vec![];
    for _ in 0..8 {
        let d = next(&mut sub).await?;
        let e = Event::decode(&d.payload)?;
        assert_eq!(d.tenant(), Some(e.tenant.as_str()));
        assert_eq!(d.header(HEADER_EVENT_ID), Some(e.id.to_string().as_bytes()));
        assert_eq!(d.header(HEADER_EVENT_TYPE), Some(e.kind().as_bytes()));
        assert_eq!(d.key, Some(e.key()));
        if d.tenant() == Some(a.as_str()) {
            ensure!(e.tenant.as_str() == a, "tenant B's event passed A's filter");
            seen_a.push(e.id.to_string());
        }
    }
    seen_a.sort();
    sent_a.sort();
    assert_eq!(seen_a, sent_a);
    Ok(())
}

/// The W3C trace context of the publisher travels in `traceparent` and comes back out.
async fn trace_context_travels(bus: Arc<dyn EventBus>) -> anyhow::Result<()> {
    opentelemetry::global::set_text_map_propagator(
        opentelemetry_sdk::propagation::TraceContextPropagator::new(),
    );
    let topic = unique("trace");
    bus.ensure_topics(&[TopicSpec::new(&topic, 1)]).await?;
    let span = SpanContext::new(
        TraceId::from(0x0af7_6519_16cd_43dd_8448_eb21_1c80_319c_u128),
        SpanId::from(0xb7ad_6b71_6920_3331_u64),
        TraceFlags::SAMPLED,
        true,
        TraceState::default(),
    );
    let cx = opentelemetry::Context::new().with_remote_span_context(span.clone());
    let publisher = Publisher::new(Arc::clone(&bus), &topic);
    publisher
        .publish_with_context(&event(&unique("t"), &CallId::generate()), &cx)
        .await?;
    let mut sub = bus
        .subscribe(&unique("g"), std::slice::from_ref(&topic))
        .await?;
    let d = next(&mut sub).await?;
    assert_eq!(
        d.header(HEADER_TRACEPARENT),
        Some(&b"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"[..])
    );
    let extracted = extract_context(&d);
    assert_eq!(extracted.span().span_context().trace_id(), span.trace_id());
    assert_eq!(extracted.span().span_context().span_id(), span.span_id());
    Ok(())
}

macro_rules! conformance {
    ($($name:ident),* $(,)?) => {
        mod memory {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() -> anyhow::Result<()> {
                    super::$name(super::memory_bus()).await
                }
            )*
        }
        mod kafka {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() -> anyhow::Result<()> {
                    super::$name(super::kafka_bus().await).await
                }
            )*
        }
    };
}

conformance!(
    publish_with_headers_roundtrip,
    consume_in_group,
    at_least_once_after_restart,
    per_key_order,
    group_members_share_and_take_over,
    ensure_topics_idempotent,
    oversized_records_are_refused,
    bad_records_are_dead_lettered,
    transient_errors_are_retried,
    permanent_errors_are_dead_lettered,
    shutdown_finishes_the_record_in_hand,
    tenant_isolation,
    trace_context_travels,
);

/// Kafka only: a second client, which has not created the topics itself, finds them by
/// metadata, and still gets `UnknownTopic` for a missing one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kafka_fresh_client_finds_existing_topics() -> anyhow::Result<()> {
    let creator = kafka_bus().await;
    let topic = unique("fresh");
    creator.ensure_topics(&[TopicSpec::new(&topic, 2)]).await?;
    let other = kafka_bus().await;
    other.publish(record(&topic, "k", "from-other")).await?;
    let mut sub = other
        .subscribe(&unique("g"), std::slice::from_ref(&topic))
        .await?;
    assert_eq!(next(&mut sub).await?.payload, &b"from-other"[..]);
    let missing = unique("missing");
    assert!(matches!(
        other.publish(record(&missing, "k", "x")).await,
        Err(Error::UnknownTopic(_))
    ));
    Ok(())
}

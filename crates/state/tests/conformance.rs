//! Conformance suite for [`QueueState`]: one set of behaviours, run against
//! [`MemoryState`] (on a manual clock), [`RedisState`] on the Redis at
//! `HOTLINE_TEST_REDIS` (default `redis://127.0.0.1:6379`), and a few of them on a
//! three-node Redis Cluster the test starts itself (`redis-server` and `redis-cli` must
//! be on the PATH).
//!
//! Every test gets its own key prefix (`hltest:<uuid v7>`) and tenant ids, deletes its
//! keys at the end (also when it fails), and never assumes it owns the server.

// A failed unwrap is a failed test here.
#![allow(clippy::unwrap_used)]

use std::collections::{BTreeSet, HashMap};
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use futures::FutureExt;
use hotline_core::{AgentId, CallId, QueueId, TenantId};
use hotline_state::memory::{ManualClock, MemoryState};
use hotline_state::redis::RedisState;
use hotline_state::{
    AgentStatus, Error, MAX_RESERVATION_TTL_MS, QueueState, Reservation, ReserveOutcome, Waiting,
};
use tokio::sync::Barrier;

// ---------------------------------------------------------------------------------------
// fixture
// ---------------------------------------------------------------------------------------

enum Backend {
    Memory(Arc<ManualClock>),
    Redis {
        /// What `RedisState::connect` got (one URL, or the cluster's seeds).
        urls: Vec<String>,
        /// Every node holding data, to scan and clean.
        nodes: Vec<String>,
        prefix: String,
    },
}

struct Fixture {
    state: Arc<dyn QueueState>,
    backend: Backend,
    /// Two tenants; tests use `a` unless they test isolation.
    a: TenantId,
    b: TenantId,
}

fn redis_url() -> String {
    std::env::var("HOTLINE_TEST_REDIS").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned())
}

fn suffix() -> String {
    uuid::Uuid::now_v7().simple().to_string()
}

impl Fixture {
    fn memory() -> Self {
        let clock = Arc::new(ManualClock::new());
        Self {
            state: Arc::new(MemoryState::with_clock(clock.clone())),
            backend: Backend::Memory(clock),
            a: tenant(&format!("acme-{}", suffix())),
            b: tenant(&format!("globex-{}", suffix())),
        }
    }

    async fn redis() -> Self {
        let url = redis_url();
        Self::on_redis(vec![url.clone()], vec![url]).await
    }

    async fn on_redis(urls: Vec<String>, nodes: Vec<String>) -> Self {
        let prefix = format!("hltest:{}", suffix());
        let state = RedisState::connect(&urls, &prefix)
            .await
            .unwrap_or_else(|err| {
                panic!("redis at {urls:?} is unreachable (set HOTLINE_TEST_REDIS): {err}")
            });
        Self {
            state: Arc::new(state),
            backend: Backend::Redis {
                urls,
                nodes,
                prefix,
            },
            a: tenant(&format!("acme-{}", suffix())),
            b: tenant(&format!("globex-{}", suffix())),
        }
    }

    /// `n` handles on the same state, as `n` routing replicas would have: for Redis each
    /// is its own connection.
    async fn replicas(&self, n: usize) -> Vec<Arc<dyn QueueState>> {
        let mut out = Vec::with_capacity(n);
        for _ in 0..n {
            out.push(match &self.backend {
                Backend::Memory(_) => self.state.clone(),
                Backend::Redis { urls, prefix, .. } => Arc::new(
                    RedisState::connect(urls, prefix)
                        .await
                        .expect("second connection to redis"),
                ) as Arc<dyn QueueState>,
            });
        }
        out
    }

    /// Lets `by` pass for reservation ttls: the manual clock moves, Redis is waited for.
    async fn pass(&self, by: Duration) {
        match &self.backend {
            Backend::Memory(clock) => clock.advance(by),
            Backend::Redis { .. } => tokio::time::sleep(by).await,
        }
    }

    /// A reservation ttl short enough to wait for on Redis, long enough that the checks
    /// right after reserving still see it on a busy machine.
    const SHORT_TTL_MS: u64 = 500;

    async fn cleanup(&self) {
        if let Backend::Redis { nodes, prefix, .. } = &self.backend {
            for node in nodes {
                let mut conn = plain(node).await;
                let keys = scan(&mut conn, &format!("{prefix}:*")).await;
                for key in keys {
                    let _: i64 = redis::cmd("DEL")
                        .arg(&key)
                        .query_async(&mut conn)
                        .await
                        .expect("DEL");
                }
            }
        }
    }
}

async fn plain(url: &str) -> redis::aio::MultiplexedConnection {
    redis::Client::open(url)
        .expect("redis url")
        .get_multiplexed_async_connection()
        .await
        .unwrap_or_else(|err| panic!("redis at {url} is unreachable: {err}"))
}

async fn scan(conn: &mut redis::aio::MultiplexedConnection, pattern: &str) -> Vec<String> {
    let mut cursor: u64 = 0;
    let mut keys = Vec::new();
    loop {
        let (next, batch): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(pattern)
            .arg("COUNT")
            .arg(1000)
            .query_async(conn)
            .await
            .expect("SCAN");
        keys.extend(batch);
        if next == 0 {
            return keys;
        }
        cursor = next;
    }
}

/// Runs one suite function on a fixture, cleans up even when it panics, re-raises.
async fn run_on<F>(f: Fixture, test: F)
where
    F: for<'a> FnOnce(&'a Fixture) -> futures::future::BoxFuture<'a, ()>,
{
    let outcome = AssertUnwindSafe(test(&f)).catch_unwind().await;
    f.cleanup().await;
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}

macro_rules! conformance {
    ($($name:ident),* $(,)?) => {
        mod memory_state {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    super::run_on(super::Fixture::memory(), |f| Box::pin(super::$name(f))).await;
                }
            )*
        }
        mod redis_state {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    super::run_on(super::Fixture::redis().await, |f| Box::pin(super::$name(f)))
                        .await;
                }
            )*
        }
    };
}

conformance!(
    ping_answers,
    enqueue_is_idempotent_and_reports_positions,
    priority_then_arrival_then_id_order,
    remove_takes_a_call_out,
    agent_states_round_trip,
    reserve_needs_a_waiting_call_and_an_available_agent,
    bad_ttls_are_refused,
    fencing_tokens_strictly_increase_per_tenant,
    confirm_refuses_stale_and_wrong_tokens,
    release_with_requeue_restores_the_old_place,
    release_without_requeue_drops_the_call,
    reservation_expires,
    set_agent_drops_a_reservation,
    one_agent_many_calls_race,
    many_agents_one_call_race,
    tenant_isolation,
);

// ---------------------------------------------------------------------------------------
// helpers
// ---------------------------------------------------------------------------------------

fn tenant(s: &str) -> TenantId {
    TenantId::new(s).expect("tenant id")
}
fn queue(s: &str) -> QueueId {
    QueueId::new(s).expect("queue id")
}
fn call(s: &str) -> CallId {
    CallId::new(s).expect("call id")
}
fn agent(s: &str) -> AgentId {
    AgentId::new(s).expect("agent id")
}
fn waiting(c: &str, priority: i32, joined_at_ms: u64) -> Waiting {
    Waiting {
        call: call(c),
        priority,
        joined_at_ms,
    }
}
fn ids(ws: &[Waiting]) -> Vec<&str> {
    ws.iter().map(|w| w.call.as_str()).collect()
}

const TTL: u64 = 30_000;

// ---------------------------------------------------------------------------------------
// the suite
// ---------------------------------------------------------------------------------------

async fn ping_answers(f: &Fixture) {
    f.state.ping().await.expect("ping");
}

async fn enqueue_is_idempotent_and_reports_positions(f: &Fixture) {
    let (s, t, q) = (&f.state, &f.a, &queue("sales"));
    assert_eq!(s.waiting(t, q).await.unwrap(), vec![]);
    assert_eq!(s.enqueue(t, q, waiting("c1", 0, 100)).await.unwrap(), 1);
    assert_eq!(s.enqueue(t, q, waiting("c2", 0, 200)).await.unwrap(), 2);
    assert_eq!(s.enqueue(t, q, waiting("c3", 0, 300)).await.unwrap(), 3);

    // again, even with another priority and time: nothing changes, same position
    assert_eq!(s.enqueue(t, q, waiting("c2", 0, 200)).await.unwrap(), 2);
    assert_eq!(s.enqueue(t, q, waiting("c2", 9, 1)).await.unwrap(), 2);
    assert_eq!(
        s.waiting(t, q).await.unwrap(),
        vec![
            waiting("c1", 0, 100),
            waiting("c2", 0, 200),
            waiting("c3", 0, 300)
        ]
    );

    assert_eq!(s.position(t, q, &call("c1")).await.unwrap(), Some(1));
    assert_eq!(s.position(t, q, &call("c3")).await.unwrap(), Some(3));
    assert_eq!(s.position(t, q, &call("nope")).await.unwrap(), None);
    assert_eq!(
        s.position(t, &queue("other"), &call("c1")).await.unwrap(),
        None
    );

    // the same call may wait in another queue independently
    assert_eq!(
        s.enqueue(t, &queue("support"), waiting("c3", 0, 300))
            .await
            .unwrap(),
        1
    );
    assert_eq!(s.position(t, q, &call("c3")).await.unwrap(), Some(3));
}

async fn priority_then_arrival_then_id_order(f: &Fixture) {
    let (s, t, q) = (&f.state, &f.a, &queue("q"));
    let input = [
        waiting("late-low", -5, 50),
        waiting("b-tie", 0, 10),
        waiting("max", i32::MAX, u64::MAX),
        waiting("a-tie", 0, 10),
        waiting("early", 0, 0),
        waiting("vip", 10, 999),
        waiting("min", i32::MIN, 0),
        waiting("later", 0, 11),
    ];
    for w in &input {
        s.enqueue(t, q, w.clone()).await.unwrap();
    }
    let got = s.waiting(t, q).await.unwrap();
    assert_eq!(
        ids(&got),
        [
            "max", "vip", "early", "a-tie", "b-tie", "later", "late-low", "min"
        ]
    );
    // nothing lost in the stored form
    let by_id: HashMap<_, _> = got.iter().map(|w| (w.call.clone(), w.clone())).collect();
    for w in &input {
        assert_eq!(by_id.get(&w.call), Some(w));
    }
    for (i, w) in got.iter().enumerate() {
        assert_eq!(s.position(t, q, &w.call).await.unwrap(), Some(i as u32 + 1));
    }
    // a later high-priority call goes before everyone of lower priority
    assert_eq!(s.enqueue(t, q, waiting("urgent", 10, 5)).await.unwrap(), 2);
}

async fn remove_takes_a_call_out(f: &Fixture) {
    let (s, t, q) = (&f.state, &f.a, &queue("q"));
    for (i, c) in ["c1", "c2", "c3"].iter().enumerate() {
        s.enqueue(t, q, waiting(c, 0, i as u64)).await.unwrap();
    }
    assert!(!s.remove(t, &queue("other"), &call("c2")).await.unwrap());
    assert!(s.remove(t, q, &call("c2")).await.unwrap());
    assert!(!s.remove(t, q, &call("c2")).await.unwrap());
    assert_eq!(ids(&s.waiting(t, q).await.unwrap()), ["c1", "c3"]);
    assert_eq!(s.position(t, q, &call("c3")).await.unwrap(), Some(2));
    assert_eq!(s.position(t, q, &call("c2")).await.unwrap(), None);
    // a removed call can come back, as a new arrival
    assert_eq!(s.enqueue(t, q, waiting("c2", 0, 99)).await.unwrap(), 3);
    assert!(s.remove(t, q, &call("c1")).await.unwrap());
    assert!(s.remove(t, q, &call("c2")).await.unwrap());
    assert!(s.remove(t, q, &call("c3")).await.unwrap());
    assert_eq!(s.waiting(t, q).await.unwrap(), vec![]);
}

async fn agent_states_round_trip(f: &Fixture) {
    let (s, t, x) = (&f.state, &f.a, &agent("alice"));
    assert_eq!(s.agent(t, x).await.unwrap(), AgentStatus::LoggedOut);
    for status in [
        AgentStatus::Available,
        AgentStatus::OnCall,
        AgentStatus::WrapUp,
        AgentStatus::Break,
        AgentStatus::LoggedOut,
        AgentStatus::Available,
    ] {
        s.set_agent(t, x, status).await.unwrap();
        assert_eq!(s.agent(t, x).await.unwrap(), status);
    }
    assert!(matches!(
        s.set_agent(t, x, AgentStatus::Reserved).await,
        Err(Error::ReservedBySetAgent)
    ));
    assert_eq!(s.agent(t, x).await.unwrap(), AgentStatus::Available);
    assert_eq!(
        s.agent(t, &agent("bob")).await.unwrap(),
        AgentStatus::LoggedOut
    );
}

async fn reserve_needs_a_waiting_call_and_an_available_agent(f: &Fixture) {
    let (s, t, q) = (&f.state, &f.a, &queue("q"));
    let (x, y) = (&agent("alice"), &agent("bob"));
    let (c1, c2) = (&call("c1"), &call("c2"));
    s.enqueue(t, q, waiting("c1", 0, 1)).await.unwrap();
    s.enqueue(t, q, waiting("c2", 0, 2)).await.unwrap();

    // agent never seen, on break, on call: busy, and the call keeps its place
    assert_eq!(
        s.reserve(t, q, c1, x, TTL).await.unwrap(),
        ReserveOutcome::AgentBusy
    );
    for busy in [AgentStatus::Break, AgentStatus::OnCall, AgentStatus::WrapUp] {
        s.set_agent(t, x, busy).await.unwrap();
        assert_eq!(
            s.reserve(t, q, c1, x, TTL).await.unwrap(),
            ReserveOutcome::AgentBusy
        );
    }
    assert_eq!(s.position(t, q, c1).await.unwrap(), Some(1));

    s.set_agent(t, x, AgentStatus::Available).await.unwrap();
    assert_eq!(
        s.reserve(t, q, &call("unknown"), x, TTL).await.unwrap(),
        ReserveOutcome::CallGone
    );
    assert_eq!(
        s.reserve(t, &queue("other"), c1, x, TTL).await.unwrap(),
        ReserveOutcome::CallGone
    );
    assert_eq!(s.agent(t, x).await.unwrap(), AgentStatus::Available);

    let ReserveOutcome::Reserved(token) = s.reserve(t, q, c1, x, TTL).await.unwrap() else {
        panic!("reserve failed");
    };
    assert_eq!(s.agent(t, x).await.unwrap(), AgentStatus::Reserved);
    assert_eq!(ids(&s.waiting(t, q).await.unwrap()), ["c2"]);
    assert_eq!(s.position(t, q, c1).await.unwrap(), None);
    assert_eq!(
        s.reservation(t, x).await.unwrap(),
        Some(Reservation {
            tenant: t.clone(),
            queue: q.clone(),
            call: c1.clone(),
            agent: x.clone(),
            fencing_token: token,
        })
    );
    assert_eq!(s.reservation(t, y).await.unwrap(), None);

    // the call is taken: another agent gets CallGone; the agent is taken: AgentBusy
    s.set_agent(t, y, AgentStatus::Available).await.unwrap();
    assert_eq!(
        s.reserve(t, q, c1, y, TTL).await.unwrap(),
        ReserveOutcome::CallGone
    );
    assert_eq!(
        s.reserve(t, q, c2, x, TTL).await.unwrap(),
        ReserveOutcome::AgentBusy
    );
    // both: the call is checked first
    assert_eq!(
        s.reserve(t, q, c1, x, TTL).await.unwrap(),
        ReserveOutcome::CallGone
    );
    // nothing of that touched the reservation or the other call
    assert_eq!(
        s.reservation(t, x).await.unwrap().unwrap().fencing_token,
        token
    );
    assert_eq!(s.position(t, q, c2).await.unwrap(), Some(1));
}

async fn bad_ttls_are_refused(f: &Fixture) {
    let (s, t, q, x, c) = (&f.state, &f.a, &queue("q"), &agent("alice"), &call("c1"));
    s.enqueue(t, q, waiting("c1", 0, 1)).await.unwrap();
    s.set_agent(t, x, AgentStatus::Available).await.unwrap();
    for ttl in [0, MAX_RESERVATION_TTL_MS + 1, u64::MAX] {
        assert!(
            matches!(s.reserve(t, q, c, x, ttl).await, Err(Error::InvalidTtl { ttl_ms }) if ttl_ms == ttl),
            "ttl {ttl} accepted"
        );
    }
    assert_eq!(s.position(t, q, c).await.unwrap(), Some(1));
    assert_eq!(s.agent(t, x).await.unwrap(), AgentStatus::Available);
    assert!(matches!(
        s.reserve(t, q, c, x, MAX_RESERVATION_TTL_MS).await.unwrap(),
        ReserveOutcome::Reserved(_)
    ));
}

async fn fencing_tokens_strictly_increase_per_tenant(f: &Fixture) {
    let (s, q, x) = (&f.state, &queue("q"), &agent("alice"));
    let mut tokens = Vec::new();
    for i in 0..6u64 {
        let c = call(&format!("c{i}"));
        s.enqueue(&f.a, q, waiting(c.as_str(), 0, i)).await.unwrap();
        s.set_agent(&f.a, x, AgentStatus::Available).await.unwrap();
        let ReserveOutcome::Reserved(token) = s.reserve(&f.a, q, &c, x, TTL).await.unwrap() else {
            panic!("reserve {i} failed");
        };
        tokens.push(token);
        // end the reservation three different ways
        match i % 3 {
            0 => assert!(s.confirm(&f.a, x, &c, token).await.unwrap()),
            1 => assert!(s.release(&f.a, x, token, false).await.unwrap()),
            _ => {}
        }
        // a reserve that fails takes no token (checked by the 1..=6 below)
        assert_eq!(
            s.reserve(&f.a, q, &call("nope"), x, TTL).await.unwrap(),
            ReserveOutcome::CallGone
        );
    }
    assert!(tokens.windows(2).all(|w| w[0] < w[1]), "tokens {tokens:?}");
    assert_eq!(
        tokens,
        (1..=6).collect::<Vec<_>>(),
        "one counter step per reservation"
    );

    // tenant B has its own counter, untouched by A's six reservations
    s.enqueue(&f.b, q, waiting("c0", 0, 0)).await.unwrap();
    s.set_agent(&f.b, x, AgentStatus::Available).await.unwrap();
    assert_eq!(
        s.reserve(&f.b, q, &call("c0"), x, TTL).await.unwrap(),
        ReserveOutcome::Reserved(1)
    );
}

async fn confirm_refuses_stale_and_wrong_tokens(f: &Fixture) {
    let (s, t, q) = (&f.state, &f.a, &queue("q"));
    let (x, y) = (&agent("alice"), &agent("bob"));
    let (c1, c2) = (&call("c1"), &call("c2"));
    s.enqueue(t, q, waiting("c1", 0, 1)).await.unwrap();
    s.enqueue(t, q, waiting("c2", 0, 2)).await.unwrap();
    s.set_agent(t, x, AgentStatus::Available).await.unwrap();
    s.set_agent(t, y, AgentStatus::Available).await.unwrap();

    let ReserveOutcome::Reserved(old) = s.reserve(t, q, c1, x, TTL).await.unwrap() else {
        panic!("reserve failed");
    };
    assert!(s.release(t, x, old, true).await.unwrap());
    let ReserveOutcome::Reserved(token) = s.reserve(t, q, c1, x, TTL).await.unwrap() else {
        panic!("reserve failed");
    };
    assert!(token > old);

    assert!(!s.confirm(t, x, c1, old).await.unwrap(), "stale token");
    assert!(
        !s.confirm(t, x, c1, token + 1).await.unwrap(),
        "future token"
    );
    assert!(!s.confirm(t, x, c1, 0).await.unwrap(), "zero token");
    assert!(!s.confirm(t, x, c2, token).await.unwrap(), "wrong call");
    assert!(!s.confirm(t, y, c1, token).await.unwrap(), "wrong agent");
    assert!(!s.release(t, x, old, true).await.unwrap(), "stale release");
    assert_eq!(s.agent(t, x).await.unwrap(), AgentStatus::Reserved);
    assert_eq!(s.agent(t, y).await.unwrap(), AgentStatus::Available);

    assert!(s.confirm(t, x, c1, token).await.unwrap());
    assert_eq!(s.agent(t, x).await.unwrap(), AgentStatus::OnCall);
    assert_eq!(s.reservation(t, x).await.unwrap(), None);
    assert!(
        !s.confirm(t, x, c1, token).await.unwrap(),
        "confirmed twice"
    );
    assert!(
        !s.release(t, x, token, true).await.unwrap(),
        "released after confirm"
    );
    assert_eq!(s.agent(t, x).await.unwrap(), AgentStatus::OnCall);
    assert_eq!(ids(&s.waiting(t, q).await.unwrap()), ["c2"]);
}

async fn release_with_requeue_restores_the_old_place(f: &Fixture) {
    let (s, t, q, x) = (&f.state, &f.a, &queue("q"), &agent("alice"));
    let before = vec![
        waiting("vip", 7, 500),
        waiting("c1", 0, 100),
        waiting("c2", 0, 200),
        waiting("c3", 0, 300),
        waiting("low", -3, 50),
    ];
    for w in &before {
        s.enqueue(t, q, w.clone()).await.unwrap();
    }
    s.set_agent(t, x, AgentStatus::Available).await.unwrap();

    for w in &before {
        let pos = s.position(t, q, &w.call).await.unwrap();
        let ReserveOutcome::Reserved(token) = s.reserve(t, q, &w.call, x, TTL).await.unwrap()
        else {
            panic!("reserve {} failed", w.call);
        };
        assert_eq!(s.position(t, q, &w.call).await.unwrap(), None);
        // more calls arrive meanwhile, behind everyone
        s.enqueue(t, q, waiting(&format!("new-{}", w.call), -100, 9_000))
            .await
            .unwrap();
        assert!(
            !s.release(t, x, token + 1, true).await.unwrap(),
            "wrong token"
        );
        assert!(s.release(t, x, token, true).await.unwrap());
        assert_eq!(s.position(t, q, &w.call).await.unwrap(), pos, "{}", w.call);
        assert_eq!(s.agent(t, x).await.unwrap(), AgentStatus::Available);
        assert_eq!(s.reservation(t, x).await.unwrap(), None);
    }
    let after = s.waiting(t, q).await.unwrap();
    assert_eq!(after[..before.len()], before[..]);

    // a call enqueued again while reserved keeps that entry on release
    let ReserveOutcome::Reserved(token) = s.reserve(t, q, &call("c2"), x, TTL).await.unwrap()
    else {
        panic!("reserve failed");
    };
    s.enqueue(t, q, waiting("c2", 1, 700)).await.unwrap();
    assert!(s.release(t, x, token, true).await.unwrap());
    let c2: Vec<_> = s
        .waiting(t, q)
        .await
        .unwrap()
        .into_iter()
        .filter(|w| w.call.as_str() == "c2")
        .collect();
    assert_eq!(c2, vec![waiting("c2", 1, 700)]);
}

async fn release_without_requeue_drops_the_call(f: &Fixture) {
    let (s, t, q, x) = (&f.state, &f.a, &queue("q"), &agent("alice"));
    s.enqueue(t, q, waiting("c1", 0, 1)).await.unwrap();
    s.enqueue(t, q, waiting("c2", 0, 2)).await.unwrap();
    s.set_agent(t, x, AgentStatus::Available).await.unwrap();
    let ReserveOutcome::Reserved(token) = s.reserve(t, q, &call("c1"), x, TTL).await.unwrap()
    else {
        panic!("reserve failed");
    };
    assert!(s.release(t, x, token, false).await.unwrap());
    assert!(
        !s.release(t, x, token, false).await.unwrap(),
        "released twice"
    );
    assert_eq!(ids(&s.waiting(t, q).await.unwrap()), ["c2"]);
    assert_eq!(s.agent(t, x).await.unwrap(), AgentStatus::Available);
    assert!(matches!(
        s.reserve(t, q, &call("c2"), x, TTL).await.unwrap(),
        ReserveOutcome::Reserved(t2) if t2 > token
    ));
}

async fn reservation_expires(f: &Fixture) {
    let (s, t, q, x) = (&f.state, &f.a, &queue("q"), &agent("alice"));
    s.enqueue(t, q, waiting("c1", 0, 1)).await.unwrap();
    s.enqueue(t, q, waiting("c2", 0, 2)).await.unwrap();
    s.set_agent(t, x, AgentStatus::Available).await.unwrap();
    let ttl = Fixture::SHORT_TTL_MS;
    let ReserveOutcome::Reserved(token) = s.reserve(t, q, &call("c1"), x, ttl).await.unwrap()
    else {
        panic!("reserve failed");
    };
    assert_eq!(s.agent(t, x).await.unwrap(), AgentStatus::Reserved);
    assert!(s.reservation(t, x).await.unwrap().is_some());
    assert_eq!(
        s.reserve(t, q, &call("c2"), x, ttl).await.unwrap(),
        ReserveOutcome::AgentBusy
    );

    f.pass(Duration::from_millis(ttl + 200)).await;

    assert_eq!(s.reservation(t, x).await.unwrap(), None);
    assert_eq!(s.agent(t, x).await.unwrap(), AgentStatus::Available);
    assert!(
        !s.confirm(t, x, &call("c1"), token).await.unwrap(),
        "expired confirm"
    );
    assert!(
        !s.release(t, x, token, true).await.unwrap(),
        "expired release"
    );
    // the expired reservation's call is not requeued: routing does that
    assert_eq!(s.position(t, q, &call("c1")).await.unwrap(), None);
    assert_eq!(ids(&s.waiting(t, q).await.unwrap()), ["c2"]);
    // and the agent can be reserved again, with a newer token
    let ReserveOutcome::Reserved(next) = s.reserve(t, q, &call("c2"), x, TTL).await.unwrap() else {
        panic!("agent not available after expiry");
    };
    assert!(next > token);
    assert!(s.confirm(t, x, &call("c2"), next).await.unwrap());
}

async fn set_agent_drops_a_reservation(f: &Fixture) {
    let (s, t, q, x) = (&f.state, &f.a, &queue("q"), &agent("alice"));
    s.enqueue(t, q, waiting("c1", 0, 1)).await.unwrap();
    s.set_agent(t, x, AgentStatus::Available).await.unwrap();
    let ReserveOutcome::Reserved(token) = s.reserve(t, q, &call("c1"), x, TTL).await.unwrap()
    else {
        panic!("reserve failed");
    };
    s.set_agent(t, x, AgentStatus::Break).await.unwrap();
    assert_eq!(s.agent(t, x).await.unwrap(), AgentStatus::Break);
    assert_eq!(s.reservation(t, x).await.unwrap(), None);
    assert!(!s.confirm(t, x, &call("c1"), token).await.unwrap());
    assert!(!s.release(t, x, token, true).await.unwrap());
    assert_eq!(
        s.position(t, q, &call("c1")).await.unwrap(),
        None,
        "not requeued"
    );
    // available again: no ghost of the old reservation
    s.set_agent(t, x, AgentStatus::Available).await.unwrap();
    assert_eq!(s.agent(t, x).await.unwrap(), AgentStatus::Available);
    assert_eq!(s.reservation(t, x).await.unwrap(), None);
}

async fn one_agent_many_calls_race(f: &Fixture) {
    const N: usize = 20;
    let (t, q, x) = (f.a.clone(), queue("q"), agent("alice"));
    f.state
        .set_agent(&t, &x, AgentStatus::Available)
        .await
        .unwrap();
    for i in 0..N {
        f.state
            .enqueue(&t, &q, waiting(&format!("c{i}"), 0, i as u64))
            .await
            .unwrap();
    }
    let replicas = f.replicas(4).await;
    let barrier = Arc::new(Barrier::new(N));
    let tasks: Vec<_> = (0..N)
        .map(|i| {
            let (s, barrier) = (replicas[i % replicas.len()].clone(), barrier.clone());
            let (t, q, x, c) = (t.clone(), q.clone(), x.clone(), call(&format!("c{i}")));
            tokio::spawn(async move {
                barrier.wait().await;
                (c.clone(), s.reserve(&t, &q, &c, &x, TTL).await.unwrap())
            })
        })
        .collect();
    let outcomes: Vec<_> = futures::future::join_all(tasks)
        .await
        .into_iter()
        .map(|r| r.expect("task"))
        .collect();

    let winners: Vec<_> = outcomes
        .iter()
        .filter_map(|(c, o)| match o {
            ReserveOutcome::Reserved(token) => Some((c.clone(), *token)),
            _ => None,
        })
        .collect();
    assert_eq!(winners.len(), 1, "outcomes {outcomes:?}");
    assert_eq!(
        outcomes
            .iter()
            .filter(|(_, o)| *o == ReserveOutcome::AgentBusy)
            .count(),
        N - 1
    );
    let (won, token) = winners[0].clone();
    let res = f
        .state
        .reservation(&t, &x)
        .await
        .unwrap()
        .expect("reservation");
    assert_eq!((res.call, res.fencing_token), (won.clone(), token));
    let left = f.state.waiting(&t, &q).await.unwrap();
    assert_eq!(left.len(), N - 1);
    assert!(left.iter().all(|w| w.call != won));
}

async fn many_agents_one_call_race(f: &Fixture) {
    const N: usize = 10;
    let (t, q, c) = (f.a.clone(), queue("q"), call("hot"));
    f.state.enqueue(&t, &q, waiting("hot", 0, 1)).await.unwrap();
    let agents: Vec<_> = (0..N).map(|i| agent(&format!("a{i}"))).collect();
    for x in &agents {
        f.state
            .set_agent(&t, x, AgentStatus::Available)
            .await
            .unwrap();
    }
    let replicas = f.replicas(4).await;
    let barrier = Arc::new(Barrier::new(N));
    let tasks: Vec<_> = agents
        .iter()
        .enumerate()
        .map(|(i, x)| {
            let (s, barrier) = (replicas[i % replicas.len()].clone(), barrier.clone());
            let (t, q, c, x) = (t.clone(), q.clone(), c.clone(), x.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                (x.clone(), s.reserve(&t, &q, &c, &x, TTL).await.unwrap())
            })
        })
        .collect();
    let outcomes: Vec<_> = futures::future::join_all(tasks)
        .await
        .into_iter()
        .map(|r| r.expect("task"))
        .collect();
    let winners: Vec<_> = outcomes
        .iter()
        .filter(|(_, o)| matches!(o, ReserveOutcome::Reserved(_)))
        .map(|(x, _)| x.clone())
        .collect();
    assert_eq!(winners.len(), 1, "outcomes {outcomes:?}");
    assert_eq!(
        outcomes
            .iter()
            .filter(|(_, o)| *o == ReserveOutcome::CallGone)
            .count(),
        N - 1
    );
    for x in &agents {
        let expected = if *x == winners[0] {
            AgentStatus::Reserved
        } else {
            AgentStatus::Available
        };
        assert_eq!(f.state.agent(&t, x).await.unwrap(), expected, "{x}");
    }
    assert_eq!(f.state.waiting(&t, &q).await.unwrap(), vec![]);
}

async fn tenant_isolation(f: &Fixture) {
    let (s, a, b) = (&f.state, &f.a, &f.b);
    let (q, x, c) = (&queue("sales"), &agent("alice"), &call("c1"));
    s.enqueue(a, q, waiting("c1", 5, 1)).await.unwrap();
    s.enqueue(a, q, waiting("c2", 0, 2)).await.unwrap();
    s.set_agent(a, x, AgentStatus::Available).await.unwrap();

    // B sees nothing of A under the same names
    assert_eq!(s.waiting(b, q).await.unwrap(), vec![]);
    assert_eq!(s.position(b, q, c).await.unwrap(), None);
    assert_eq!(s.agent(b, x).await.unwrap(), AgentStatus::LoggedOut);
    // B cannot remove or take A's call
    assert!(!s.remove(b, q, c).await.unwrap());
    s.set_agent(b, x, AgentStatus::Available).await.unwrap();
    assert_eq!(
        s.reserve(b, q, c, x, TTL).await.unwrap(),
        ReserveOutcome::CallGone
    );
    assert_eq!(s.position(a, q, c).await.unwrap(), Some(1));

    let ReserveOutcome::Reserved(token) = s.reserve(a, q, c, x, TTL).await.unwrap() else {
        panic!("reserve failed");
    };
    // B cannot see, confirm, release or clobber A's reservation, whatever token it tries
    assert_eq!(s.reservation(b, x).await.unwrap(), None);
    assert_eq!(s.agent(b, x).await.unwrap(), AgentStatus::Available);
    for guess in [token, token + 1, 1] {
        assert!(!s.confirm(b, x, c, guess).await.unwrap());
        assert!(!s.release(b, x, guess, true).await.unwrap());
        assert!(!s.release(b, x, guess, false).await.unwrap());
    }
    s.set_agent(b, x, AgentStatus::Break).await.unwrap();
    s.set_agent(b, x, AgentStatus::LoggedOut).await.unwrap();
    assert_eq!(s.waiting(b, q).await.unwrap(), vec![]);

    // B's own call under the same ids lives beside A's
    assert_eq!(s.enqueue(b, q, waiting("c2", 0, 2)).await.unwrap(), 1);
    assert!(s.remove(b, q, &call("c2")).await.unwrap());

    // A is untouched
    assert_eq!(s.agent(a, x).await.unwrap(), AgentStatus::Reserved);
    assert_eq!(
        s.reservation(a, x).await.unwrap().unwrap().fencing_token,
        token
    );
    assert_eq!(ids(&s.waiting(a, q).await.unwrap()), ["c2"]);
    assert!(s.confirm(a, x, c, token).await.unwrap());
    assert_eq!(s.agent(a, x).await.unwrap(), AgentStatus::OnCall);
}

// ---------------------------------------------------------------------------------------
// Redis only: key layout and corrupt data
// ---------------------------------------------------------------------------------------

/// Fills both tenants with every kind of key.
async fn touch_every_key_kind(f: &Fixture) {
    for t in [&f.a, &f.b] {
        let s = &f.state;
        for (q, x) in [("q1", "x1"), ("q2", "x2")] {
            s.enqueue(t, &queue(q), waiting("c1", 0, 1)).await.unwrap();
            s.enqueue(t, &queue(q), waiting("c2", 0, 2)).await.unwrap();
            s.set_agent(t, &agent(x), AgentStatus::Available)
                .await
                .unwrap();
            let ReserveOutcome::Reserved(_) = s
                .reserve(t, &queue(q), &call("c1"), &agent(x), TTL)
                .await
                .unwrap()
            else {
                panic!("reserve failed");
            };
        }
    }
}

/// Every key under the fixture's prefix, per node.
async fn keys_per_node(f: &Fixture) -> Vec<(String, Vec<String>)> {
    let Backend::Redis { nodes, prefix, .. } = &f.backend else {
        panic!("not a redis fixture");
    };
    let mut out = Vec::new();
    for node in nodes {
        let mut conn = plain(node).await;
        out.push((node.clone(), scan(&mut conn, &format!("{prefix}:*")).await));
    }
    out
}

/// Checks the `<prefix>:{<tenant>}:<kind>:<id>` layout; returns the tenant of each key.
fn check_layout(f: &Fixture, keys: &[String]) -> Vec<TenantId> {
    let Backend::Redis { prefix, .. } = &f.backend else {
        panic!("not a redis fixture");
    };
    let kinds = ["queue", "calls", "agent", "res", "fence"];
    keys.iter()
        .map(|key| {
            let rest = key
                .strip_prefix(&format!("{prefix}:{{"))
                .unwrap_or_else(|| panic!("{key} lacks the prefix and hash tag"));
            let (t, rest) = rest.split_once("}:").expect("closing brace");
            let (kind, id) = rest.split_once(':').expect("kind");
            assert!(kinds.contains(&kind), "{key}: unknown kind {kind}");
            assert!(!id.is_empty(), "{key}: no id");
            assert!(!id.contains(['{', '}']), "{key}");
            let t = tenant(t);
            assert!(t == f.a || t == f.b, "{key}: foreign tenant");
            t
        })
        .collect()
}

async fn keys_carry_the_tenant_hash_tag(f: &Fixture) {
    touch_every_key_kind(f).await;
    let keys: Vec<String> = keys_per_node(f)
        .await
        .into_iter()
        .flat_map(|(_, keys)| keys)
        .collect();
    // per tenant: 2 queues, 2 details hashes, 2 agents, 2 reservations, 1 fence
    assert_eq!(keys.len(), 2 * 9, "{keys:#?}");
    let tenants = check_layout(f, &keys);
    assert_eq!(tenants.iter().filter(|t| **t == f.a).count(), 9);
    assert_eq!(tenants.iter().filter(|t| **t == f.b).count(), 9);
}

async fn corrupt_data_is_an_error(f: &Fixture) {
    let Backend::Redis { nodes, prefix, .. } = &f.backend else {
        panic!("not a redis fixture");
    };
    let mut conn = plain(&nodes[0]).await;
    let (s, t, q, x) = (&f.state, &f.a, &queue("q"), &agent("alice"));
    let key = |kind: &str, id: &str| format!("{prefix}:{{{t}}}:{kind}:{id}");
    async fn set(conn: &mut redis::aio::MultiplexedConnection, args: &[&str]) {
        let mut cmd = redis::cmd(args[0]);
        for a in &args[1..] {
            cmd.arg(*a);
        }
        let _: redis::Value = cmd.query_async(conn).await.expect("raw command");
    }
    fn is_corrupt<T>(r: &Result<T, Error>) -> bool {
        matches!(r, Err(Error::Corrupt { .. }))
    }

    s.enqueue(t, q, waiting("c1", 0, 1)).await.unwrap();
    s.set_agent(t, x, AgentStatus::Available).await.unwrap();

    // a fencing counter that is not a number: reserve refuses and changes nothing
    set(&mut conn, &["SET", &key("fence", "token"), "twelve"]).await;
    let r = s.reserve(t, q, &call("c1"), x, TTL).await;
    assert!(is_corrupt(&r), "{r:?}");
    assert_eq!(s.position(t, q, &call("c1")).await.unwrap(), Some(1));
    assert_eq!(s.agent(t, x).await.unwrap(), AgentStatus::Available);
    set(&mut conn, &["DEL", &key("fence", "token")]).await;

    // an unknown agent status
    set(&mut conn, &["SET", &key("agent", "alice"), "dancing"]).await;
    let r = s.agent(t, x).await;
    assert!(is_corrupt(&r), "{r:?}");
    let r = s.reserve(t, q, &call("c1"), x, TTL).await;
    assert!(is_corrupt(&r), "{r:?}");
    // a key of the wrong type
    set(&mut conn, &["DEL", &key("agent", "alice")]).await;
    set(&mut conn, &["HSET", &key("agent", "alice"), "f", "v"]).await;
    let r = s.agent(t, x).await;
    assert!(is_corrupt(&r), "{r:?}");
    set(&mut conn, &["DEL", &key("agent", "alice")]).await;

    // a reservation with a token that is not a number
    set(
        &mut conn,
        &[
            "HSET",
            &key("res", "bob"),
            "queue",
            "q",
            "call",
            "c9",
            "token",
            "x",
        ],
    )
    .await;
    let r = s.reservation(t, &agent("bob")).await;
    assert!(is_corrupt(&r), "{r:?}");
    let r = s.confirm(t, &agent("bob"), &call("c9"), 1).await;
    assert!(is_corrupt(&r), "{r:?}");
    let r = s.release(t, &agent("bob"), 1, true).await;
    assert!(is_corrupt(&r), "{r:?}");
    // a half reservation
    set(&mut conn, &["HDEL", &key("res", "bob"), "token"]).await;
    let r = s.reservation(t, &agent("bob")).await;
    assert!(is_corrupt(&r), "{r:?}");

    // a queue member that is not ours, and call details that are not ours
    set(&mut conn, &["ZADD", &key("queue", "q"), "0", "garbage"]).await;
    let r = s.waiting(t, q).await;
    assert!(is_corrupt(&r), "{r:?}");
    set(&mut conn, &["HSET", &key("calls", "q2"), "c1", "soon"]).await;
    let r = s.position(t, &queue("q2"), &call("c1")).await;
    assert!(is_corrupt(&r), "{r:?}");
    let r = s.enqueue(t, &queue("q2"), waiting("c1", 0, 1)).await;
    assert!(is_corrupt(&r), "{r:?}");
    s.set_agent(t, x, AgentStatus::Available).await.unwrap();
    let r = s.reserve(t, &queue("q2"), &call("c1"), x, TTL).await;
    assert!(is_corrupt(&r), "{r:?}");
}

async fn bad_prefixes_and_urls_are_refused(_f: &Fixture) {
    let url = vec![redis_url()];
    for bad in ["", "a{b}", "a*", "a b"] {
        assert!(matches!(
            RedisState::connect(&url, bad).await,
            Err(Error::InvalidPrefix { .. })
        ));
    }
    assert!(matches!(
        RedisState::connect(&[], "p").await,
        Err(Error::NoUrl)
    ));
    assert!(matches!(
        RedisState::connect(&["not a url".to_owned()], "p").await,
        Err(Error::Redis(_))
    ));
}

mod redis_only {
    #[tokio::test]
    async fn keys_carry_the_tenant_hash_tag() {
        super::run_on(super::Fixture::redis().await, |f| {
            Box::pin(super::keys_carry_the_tenant_hash_tag(f))
        })
        .await;
    }

    #[tokio::test]
    async fn corrupt_data_is_an_error() {
        super::run_on(super::Fixture::redis().await, |f| {
            Box::pin(super::corrupt_data_is_an_error(f))
        })
        .await;
    }

    #[tokio::test]
    async fn bad_prefixes_and_urls_are_refused() {
        super::run_on(super::Fixture::redis().await, |f| {
            Box::pin(super::bad_prefixes_and_urls_are_refused(f))
        })
        .await;
    }
}

// ---------------------------------------------------------------------------------------
// Redis Cluster: three local nodes started by the test
// ---------------------------------------------------------------------------------------

mod cluster {
    use std::fs::File;
    use std::net::TcpListener;
    use std::path::Path;
    use std::process::{Child, Command, Stdio};
    use std::time::{Duration, Instant};

    use super::*;

    /// Three `redis-server --cluster-enabled yes` processes; killed on drop.
    struct Cluster {
        children: Vec<Child>,
        ports: Vec<u16>,
        /// Node configs and logs; removed on drop, after the processes are gone.
        dir: tempfile::TempDir,
    }

    impl Drop for Cluster {
        fn drop(&mut self) {
            for child in &mut self.children {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
    }

    impl Cluster {
        fn urls(&self) -> Vec<String> {
            self.ports
                .iter()
                .map(|p| format!("redis://127.0.0.1:{p}"))
                .collect()
        }
    }

    /// A free port whose cluster bus port (+10000) is free too.
    fn free_port(taken: &[u16]) -> u16 {
        for _ in 0..200 {
            let port = TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .expect("bind")
                .port();
            if port < 55_000
                && !taken.contains(&port)
                && TcpListener::bind(("127.0.0.1", port + 10_000)).is_ok()
            {
                return port;
            }
        }
        panic!("no free port pair found");
    }

    fn ping(port: u16) -> bool {
        redis::Client::open(format!("redis://127.0.0.1:{port}"))
            .and_then(|c| c.get_connection_with_timeout(Duration::from_millis(200)))
            .and_then(|mut c| redis::cmd("PING").query::<String>(&mut c))
            .is_ok()
    }

    fn cluster_ok(port: u16) -> bool {
        redis::Client::open(format!("redis://127.0.0.1:{port}"))
            .and_then(|c| c.get_connection_with_timeout(Duration::from_millis(200)))
            .and_then(|mut c| redis::cmd("CLUSTER").arg("INFO").query::<String>(&mut c))
            .is_ok_and(|info| info.contains("cluster_state:ok"))
    }

    /// The end of every node's log (the directory is gone once the test fails).
    fn logs(dir: &Path) -> String {
        let mut out = String::new();
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.extension().is_some_and(|e| e == "log") {
                let text = std::fs::read_to_string(&path).unwrap_or_default();
                let tail: Vec<&str> = text.lines().rev().take(20).collect();
                out.push_str(&format!("--- {}\n", path.display()));
                for line in tail.iter().rev() {
                    out.push_str(line);
                    out.push('\n');
                }
            }
        }
        out
    }

    fn wait_for(what: &str, dir: &Path, mut ok: impl FnMut() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while !ok() {
            if Instant::now() > deadline {
                panic!(
                    "redis cluster: timed out waiting for {what}; node logs:\n{}",
                    logs(dir)
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn start() -> Cluster {
        // if anything below panics, dropping `cluster` kills what was started
        let mut cluster = Cluster {
            children: Vec::new(),
            ports: Vec::new(),
            dir: tempfile::tempdir().expect("temp dir"),
        };
        let dir = cluster.dir.path().to_owned();
        for _ in 0..3 {
            let port = free_port(&cluster.ports);
            let log = File::create(dir.join(format!("redis-{port}.log"))).expect("log");
            let child = Command::new("redis-server")
                .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
                .args(["--cluster-enabled", "yes", "--cluster-config-file"])
                .arg(dir.join(format!("nodes-{port}.conf")))
                .arg("--dir")
                .arg(&dir)
                .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
                .stdout(Stdio::from(log.try_clone().expect("log")))
                .stderr(Stdio::from(log))
                .spawn()
                .expect("redis-server must be on the PATH to run the cluster test");
            cluster.children.push(child);
            cluster.ports.push(port);
        }
        for &port in &cluster.ports {
            wait_for(&format!("node {port}"), &dir, || ping(port));
        }
        let out = Command::new("redis-cli")
            .args(["--cluster", "create"])
            .args(cluster.ports.iter().map(|p| format!("127.0.0.1:{p}")))
            .args(["--cluster-replicas", "0", "--cluster-yes"])
            .output()
            .expect("redis-cli must be on the PATH to run the cluster test");
        assert!(
            out.status.success(),
            "redis-cli --cluster create failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        for &port in &cluster.ports {
            wait_for(&format!("cluster_state:ok on {port}"), &dir, || {
                cluster_ok(port)
            });
        }
        cluster
    }

    async fn on_cluster<F>(c: &Cluster, test: F)
    where
        F: for<'a> FnOnce(&'a Fixture) -> futures::future::BoxFuture<'a, ()>,
    {
        run_on(Fixture::on_redis(c.urls(), c.urls()).await, test).await;
    }

    /// Tenants' keys each sit in one slot, and tenants spread over the nodes.
    async fn one_slot_per_tenant(f: &Fixture) {
        touch_every_key_kind(f).await;
        let per_node = keys_per_node(f).await;
        let all: Vec<String> = per_node.iter().flat_map(|(_, k)| k.clone()).collect();
        assert_eq!(all.len(), 2 * 9, "{per_node:#?}");
        check_layout(f, &all);
        for (node, keys) in &per_node {
            let mut conn = plain(node).await;
            let mut slots: HashMap<TenantId, BTreeSet<i64>> = HashMap::new();
            for (key, t) in keys.iter().zip(check_layout(f, keys)) {
                let slot: i64 = redis::cmd("CLUSTER")
                    .arg("KEYSLOT")
                    .arg(key)
                    .query_async(&mut conn)
                    .await
                    .expect("CLUSTER KEYSLOT");
                slots.entry(t).or_default().insert(slot);
            }
            for (t, s) in &slots {
                assert_eq!(s.len(), 1, "tenant {t} spans slots {s:?}");
            }
        }
        // every key of a tenant is on the node that holds its first key
        for t in [&f.a, &f.b] {
            let holders = per_node
                .iter()
                .filter(|(_, keys)| keys.iter().any(|k| k.contains(&format!("{{{t}}}"))))
                .count();
            assert_eq!(holders, 1, "tenant {t} on {holders} nodes");
        }
    }

    async fn many_tenants_spread_over_nodes(f: &Fixture) {
        let s = &f.state;
        for i in 0..12 {
            let t = tenant(&format!("t{i}-{}", suffix()));
            s.enqueue(&t, &queue("q"), waiting("c", 0, 1))
                .await
                .unwrap();
            s.set_agent(&t, &agent("x"), AgentStatus::Available)
                .await
                .unwrap();
            assert!(matches!(
                s.reserve(&t, &queue("q"), &call("c"), &agent("x"), TTL)
                    .await
                    .unwrap(),
                ReserveOutcome::Reserved(1)
            ));
        }
        let used = keys_per_node(f)
            .await
            .iter()
            .filter(|(_, k)| !k.is_empty())
            .count();
        assert!(used >= 2, "12 tenants all on one node of three");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn suite_on_a_three_node_cluster() {
        let c = tokio::task::spawn_blocking(start)
            .await
            .expect("cluster start");
        on_cluster(&c, |f| Box::pin(ping_answers(f))).await;
        on_cluster(&c, |f| Box::pin(one_agent_many_calls_race(f))).await;
        on_cluster(&c, |f| Box::pin(many_agents_one_call_race(f))).await;
        on_cluster(&c, |f| Box::pin(tenant_isolation(f))).await;
        on_cluster(&c, |f| {
            Box::pin(release_with_requeue_restores_the_old_place(f))
        })
        .await;
        on_cluster(&c, |f| {
            Box::pin(fencing_tokens_strictly_increase_per_tenant(f))
        })
        .await;
        on_cluster(&c, |f| Box::pin(one_slot_per_tenant(f))).await;
        on_cluster(&c, |f| Box::pin(many_tenants_spread_over_nodes(f))).await;
        drop(c);
    }
}

//! In-process queue state for `hotline all-in-one` and tests.
//!
//! [`MemoryState`] keeps every tenant's queues, agents and reservations in one
//! `Mutex`'d map, so each operation is atomic simply by holding the lock; nothing awaits
//! while it is held. Semantics match [`crate::redis::RedisState`] exactly (the shared
//! conformance suite checks both). Reservation ttls are measured on a [`Clock`] that is
//! injected, so tests move time forward with [`ManualClock::advance`] instead of
//! sleeping.

use std::cmp::Reverse;
use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use hotline_core::{AgentId, CallId, QueueId, TenantId};

use crate::{
    AgentStatus, Error, QueueState, Reservation, ReserveOutcome, Result, Waiting, check_ttl,
    effective_status,
};

/// A monotonic millisecond clock, used only to expire reservations.
pub trait Clock: Send + Sync + std::fmt::Debug + 'static {
    /// Milliseconds since some fixed start; never goes back.
    fn now_ms(&self) -> u64;
}

/// The real clock: milliseconds since it was created, from [`Instant`].
#[derive(Debug, Clone, Copy)]
pub struct SystemClock {
    start: Instant,
}

impl SystemClock {
    /// A clock starting at zero now.
    pub fn new() -> Self {
        Self {
            start: Instant::now(),
        }
    }
}

impl Default for SystemClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for SystemClock {
    fn now_ms(&self) -> u64 {
        u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX)
    }
}

/// A clock that moves only when told to; for tests.
#[derive(Debug, Default)]
pub struct ManualClock {
    now_ms: AtomicU64,
}

impl ManualClock {
    /// A clock standing at zero.
    pub fn new() -> Self {
        Self::default()
    }

    /// Moves the clock forward.
    pub fn advance(&self, by: Duration) {
        let ms = u64::try_from(by.as_millis()).unwrap_or(u64::MAX);
        // fetch_update never fails with a closure that always returns Some
        let _ = self
            .now_ms
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |now| {
                Some(now.saturating_add(ms))
            });
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> u64 {
        self.now_ms.load(Ordering::SeqCst)
    }
}

/// The in-process [`QueueState`].
#[derive(Debug, Clone)]
pub struct MemoryState {
    inner: Arc<Mutex<HashMap<TenantId, Tenant>>>,
    clock: Arc<dyn Clock>,
}

/// A place in a queue; the derived order is the service order.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Place {
    priority: Reverse<i32>,
    joined_at_ms: u64,
    call: CallId,
}

#[derive(Debug, Default)]
struct Queue {
    order: BTreeSet<Place>,
    places: HashMap<CallId, Place>,
}

impl Queue {
    fn position(&self, place: &Place) -> u32 {
        let before = self.order.range(..place).count();
        u32::try_from(before).unwrap_or(u32::MAX).saturating_add(1)
    }

    fn insert(&mut self, place: Place) {
        self.order.insert(place.clone());
        self.places.insert(place.call.clone(), place);
    }
}

#[derive(Debug)]
struct Held {
    queue: QueueId,
    place: Place,
    token: u64,
    expires_at_ms: u64,
}

#[derive(Debug, Default)]
struct Tenant {
    fence: u64,
    queues: HashMap<QueueId, Queue>,
    /// Stored status; `reserved` stays after its reservation expires (see
    /// [`effective_status`]). Logged-out agents are not stored.
    agents: HashMap<AgentId, AgentStatus>,
    reservations: HashMap<AgentId, Held>,
}

impl Tenant {
    /// The agent's reservation if it is still live; an expired one is dropped here, which
    /// nothing can observe (it could not be confirmed or released anyway).
    fn live(&mut self, agent: &AgentId, now_ms: u64) -> Option<&Held> {
        let expired = self
            .reservations
            .get(agent)
            .is_some_and(|held| held.expires_at_ms <= now_ms);
        if expired {
            self.reservations.remove(agent);
        }
        self.reservations.get(agent)
    }

    fn effective(&mut self, agent: &AgentId, now_ms: u64) -> AgentStatus {
        let live = self.live(agent, now_ms).is_some();
        effective_status(self.agents.get(agent).copied(), live)
    }

    fn drop_empty(&mut self, queue: &QueueId) {
        if self.queues.get(queue).is_some_and(|q| q.places.is_empty()) {
            self.queues.remove(queue);
        }
    }
}

impl MemoryState {
    /// An empty state on the real clock.
    pub fn new() -> Self {
        Self::with_clock(Arc::new(SystemClock::new()))
    }

    /// An empty state on the given clock (a [`ManualClock`] in tests).
    pub fn with_clock(clock: Arc<dyn Clock>) -> Self {
        Self {
            inner: Arc::new(Mutex::new(HashMap::new())),
            clock,
        }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<TenantId, Tenant>> {
        // Every change below is applied in full or not at all before the lock is let go,
        // so the data behind a poisoned lock is still consistent.
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Default for MemoryState {
    fn default() -> Self {
        Self::new()
    }
}

#[async_trait]
impl QueueState for MemoryState {
    async fn ping(&self) -> Result<()> {
        Ok(())
    }

    async fn enqueue(&self, tenant: &TenantId, queue: &QueueId, waiting: Waiting) -> Result<u32> {
        let mut tenants = self.lock();
        let q = tenants
            .entry(tenant.clone())
            .or_default()
            .queues
            .entry(queue.clone())
            .or_default();
        if let Some(place) = q.places.get(&waiting.call) {
            return Ok(q.position(place));
        }
        let place = Place {
            priority: Reverse(waiting.priority),
            joined_at_ms: waiting.joined_at_ms,
            call: waiting.call,
        };
        q.insert(place.clone());
        Ok(q.position(&place))
    }

    async fn remove(&self, tenant: &TenantId, queue: &QueueId, call: &CallId) -> Result<bool> {
        let mut tenants = self.lock();
        let Some(t) = tenants.get_mut(tenant) else {
            return Ok(false);
        };
        let Some(q) = t.queues.get_mut(queue) else {
            return Ok(false);
        };
        let Some(place) = q.places.remove(call) else {
            return Ok(false);
        };
        q.order.remove(&place);
        t.drop_empty(queue);
        Ok(true)
    }

    async fn waiting(&self, tenant: &TenantId, queue: &QueueId) -> Result<Vec<Waiting>> {
        let tenants = self.lock();
        let Some(q) = tenants.get(tenant).and_then(|t| t.queues.get(queue)) else {
            return Ok(Vec::new());
        };
        Ok(q.order
            .iter()
            .map(|place| Waiting {
                call: place.call.clone(),
                priority: place.priority.0,
                joined_at_ms: place.joined_at_ms,
            })
            .collect())
    }

    async fn position(
        &self,
        tenant: &TenantId,
        queue: &QueueId,
        call: &CallId,
    ) -> Result<Option<u32>> {
        let tenants = self.lock();
        let Some(q) = tenants.get(tenant).and_then(|t| t.queues.get(queue)) else {
            return Ok(None);
        };
        Ok(q.places.get(call).map(|place| q.position(place)))
    }

    async fn set_agent(
        &self,
        tenant: &TenantId,
        agent: &AgentId,
        status: AgentStatus,
    ) -> Result<()> {
        if status == AgentStatus::Reserved {
            return Err(Error::ReservedBySetAgent);
        }
        let mut tenants = self.lock();
        let t = tenants.entry(tenant.clone()).or_default();
        if let Some(held) = t.reservations.remove(agent) {
            tracing::info!(
                tenant = %tenant,
                agent = %agent,
                call = %held.place.call,
                token = held.token,
                status = status.as_str(),
                "agent state set over a reservation; reservation dropped",
            );
        }
        if status == AgentStatus::LoggedOut {
            t.agents.remove(agent);
        } else {
            t.agents.insert(agent.clone(), status);
        }
        Ok(())
    }

    async fn agent(&self, tenant: &TenantId, agent: &AgentId) -> Result<AgentStatus> {
        let now = self.clock.now_ms();
        let mut tenants = self.lock();
        Ok(match tenants.get_mut(tenant) {
            Some(t) => t.effective(agent, now),
            None => AgentStatus::LoggedOut,
        })
    }

    async fn reserve(
        &self,
        tenant: &TenantId,
        queue: &QueueId,
        call: &CallId,
        agent: &AgentId,
        ttl_ms: u64,
    ) -> Result<ReserveOutcome> {
        check_ttl(ttl_ms)?;
        let now = self.clock.now_ms();
        let mut tenants = self.lock();
        let Some(t) = tenants.get_mut(tenant) else {
            return Ok(ReserveOutcome::CallGone);
        };
        let Some(place) = t
            .queues
            .get(queue)
            .and_then(|q| q.places.get(call))
            .cloned()
        else {
            return Ok(ReserveOutcome::CallGone);
        };
        if t.effective(agent, now) != AgentStatus::Available {
            return Ok(ReserveOutcome::AgentBusy);
        }
        let token = t.fence.checked_add(1).ok_or_else(|| Error::Corrupt {
            key: format!("{tenant}:fence"),
            reason: "fencing counter exhausted".to_owned(),
        })?;
        t.fence = token;
        if let Some(q) = t.queues.get_mut(queue) {
            q.places.remove(call);
            q.order.remove(&place);
        }
        t.drop_empty(queue);
        t.agents.insert(agent.clone(), AgentStatus::Reserved);
        t.reservations.insert(
            agent.clone(),
            Held {
                queue: queue.clone(),
                place,
                token,
                expires_at_ms: now.saturating_add(ttl_ms),
            },
        );
        Ok(ReserveOutcome::Reserved(token))
    }

    async fn confirm(
        &self,
        tenant: &TenantId,
        agent: &AgentId,
        call: &CallId,
        token: u64,
    ) -> Result<bool> {
        let now = self.clock.now_ms();
        let mut tenants = self.lock();
        let Some(t) = tenants.get_mut(tenant) else {
            return Ok(false);
        };
        let matches = t
            .live(agent, now)
            .is_some_and(|held| held.token == token && held.place.call == *call);
        if !matches {
            return Ok(false);
        }
        t.reservations.remove(agent);
        t.agents.insert(agent.clone(), AgentStatus::OnCall);
        Ok(true)
    }

    async fn release(
        &self,
        tenant: &TenantId,
        agent: &AgentId,
        token: u64,
        requeue: bool,
    ) -> Result<bool> {
        let now = self.clock.now_ms();
        let mut tenants = self.lock();
        let Some(t) = tenants.get_mut(tenant) else {
            return Ok(false);
        };
        if t.live(agent, now).is_none_or(|held| held.token != token) {
            return Ok(false);
        }
        let Some(held) = t.reservations.remove(agent) else {
            return Ok(false);
        };
        t.agents.insert(agent.clone(), AgentStatus::Available);
        if requeue {
            let q = t.queues.entry(held.queue).or_default();
            if !q.places.contains_key(&held.place.call) {
                q.insert(held.place);
            }
        }
        Ok(true)
    }

    async fn reservation(&self, tenant: &TenantId, agent: &AgentId) -> Result<Option<Reservation>> {
        let now = self.clock.now_ms();
        let mut tenants = self.lock();
        let Some(t) = tenants.get_mut(tenant) else {
            return Ok(None);
        };
        Ok(t.live(agent, now).map(|held| Reservation {
            tenant: tenant.clone(),
            queue: held.queue.clone(),
            call: held.place.call.clone(),
            agent: agent.clone(),
            fencing_token: held.token,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_only_moves_when_advanced() {
        let clock = ManualClock::new();
        assert_eq!(clock.now_ms(), 0);
        clock.advance(Duration::from_millis(250));
        assert_eq!(clock.now_ms(), 250);
        clock.advance(Duration::MAX);
        assert_eq!(clock.now_ms(), u64::MAX);
    }

    #[test]
    fn place_order_is_priority_then_arrival_then_id() {
        let place = |priority, joined_at_ms, call: &str| Place {
            priority: Reverse(priority),
            joined_at_ms,
            call: CallId::new(call).expect("call id"),
        };
        let mut order = [
            place(0, 5, "b"),
            place(0, 5, "a"),
            place(3, 9, "z"),
            place(-1, 1, "x"),
            place(0, 1, "y"),
        ];
        order.sort();
        let calls: Vec<_> = order.iter().map(|p| p.call.as_str()).collect();
        assert_eq!(calls, ["z", "y", "a", "b", "x"]);
    }
}

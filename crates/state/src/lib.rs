//! Shared, hot queue state: waiting calls per queue, agent states and reservations.
//!
//! [`QueueState`] is the small trait routing uses; [`redis::RedisState`] is the
//! production implementation, whose every key carries the tenant in a hash tag
//! (`<prefix>:{<tenant>}:…`) so a Redis Cluster shards by tenant, and whose every
//! multi-key change is one Lua script, so any number of routing replicas can act at once.
//! [`memory::MemoryState`] is the in-process implementation for `hotline all-in-one`.
//! Both pass the same conformance suite (`tests/conformance.rs`).
//!
//! A reservation carries a fencing token: a per-tenant counter that only ever grows.
//! Ingress presents it before bridging an agent; [`QueueState::confirm`] accepts only the
//! token of the agent's current reservation, so a stale one can never connect a call.
//!
//! # Semantics both implementations share
//!
//! - **Service order** of a queue: priority descending, then `joined_at_ms` ascending,
//!   then call id ascending (byte order), so the order is total and the same everywhere.
//! - **Enqueue is idempotent per (queue, call)**: enqueueing a call that already waits in
//!   that queue changes nothing (not even a different priority) and returns its current
//!   position. A call may wait in several queues at once; they are independent.
//! - **Agent status** as reported by [`QueueState::agent`] is the *effective* status:
//!   `Reserved` only while a reservation is live. When a reservation's ttl has passed
//!   the agent counts as `Available` again, for [`QueueState::agent`] and for
//!   [`QueueState::reserve`] alike, and the expired reservation can no longer be
//!   confirmed or released.
//! - **An expired reservation's call is not requeued** by this crate: [`QueueState::reserve`]
//!   took it out of the queue, and it stays out. Routing notices the missing confirmation
//!   (no `CallConnected`, or a `ReservationRejected`) and enqueues the call again itself.
//!   The same holds for a reservation dropped by [`QueueState::set_agent`].
//! - **Fencing tokens** come from one counter per tenant; each successful
//!   [`QueueState::reserve`] of the tenant takes the next value (1, 2, 3, …), so tokens
//!   are unique and strictly increasing per tenant. Tenants do not share counters.
//! - **Tenants are disjoint**: every operation names its tenant and sees only that
//!   tenant's queues, agents, reservations and counter, even when ids are equal.

use async_trait::async_trait;
use hotline_core::{AgentId, CallId, QueueId, TenantId};

pub mod memory;
pub mod redis;

/// Longest accepted reservation ttl (one hour). A reservation lives for the seconds it
/// takes to ring an agent; anything longer is a bug in the caller.
pub const MAX_RESERVATION_TTL_MS: u64 = 60 * 60 * 1000;

/// Errors of the queue state.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The Redis client or server failed (connection, timeout, server error).
    #[error("redis: {0}")]
    Redis(#[from] ::redis::RedisError),
    /// Data found in the backend does not have the shape this crate writes.
    #[error("corrupt state at {key}: {reason}")]
    Corrupt { key: String, reason: String },
    /// [`redis::RedisState::connect`] was given no URL.
    #[error("no redis url given")]
    NoUrl,
    /// The key prefix would break the key layout (hash tag, SCAN patterns).
    #[error("invalid key prefix {prefix:?}: {reason}")]
    InvalidPrefix {
        prefix: String,
        reason: &'static str,
    },
    /// A reservation ttl of zero or above [`MAX_RESERVATION_TTL_MS`].
    #[error("reservation ttl {ttl_ms} ms is outside 1..={max} ms", max = MAX_RESERVATION_TTL_MS)]
    InvalidTtl { ttl_ms: u64 },
    /// [`QueueState::set_agent`] was asked for `Reserved`: only [`QueueState::reserve`]
    /// reserves an agent, because a reservation needs a call and a fencing token.
    #[error("agent status reserved can only be set by reserve")]
    ReservedBySetAgent,
}

/// Result type of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A call waiting in a queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Waiting {
    /// The waiting call.
    pub call: CallId,
    /// Higher is served first; equal priorities are served in arrival order.
    pub priority: i32,
    /// When the call joined, milliseconds since the Unix epoch (from the caller's clock).
    /// Only used for ordering; this crate never compares it with its own clock.
    pub joined_at_ms: u64,
}

/// An agent's state as routing sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AgentStatus {
    /// Not working; also the state of an agent never seen.
    LoggedOut,
    /// Ready to take a call: the only state [`QueueState::reserve`] accepts.
    Available,
    /// Holding a live reservation (set only by [`QueueState::reserve`]).
    Reserved,
    /// Talking (set by [`QueueState::confirm`], or by [`QueueState::set_agent`]).
    OnCall,
    /// After a call, before being available again.
    WrapUp,
    /// On a break.
    Break,
}

impl AgentStatus {
    /// The stored form.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::LoggedOut => "logged_out",
            Self::Available => "available",
            Self::Reserved => "reserved",
            Self::OnCall => "on_call",
            Self::WrapUp => "wrap_up",
            Self::Break => "break",
        }
    }

    /// Parses the stored form.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "logged_out" => Self::LoggedOut,
            "available" => Self::Available,
            "reserved" => Self::Reserved,
            "on_call" => Self::OnCall,
            "wrap_up" => Self::WrapUp,
            "break" => Self::Break,
            _ => return None,
        })
    }
}

/// The status an agent effectively has, from the stored status and whether its
/// reservation is still live. Both implementations store `reserved` when reserving and
/// leave it there when the reservation expires; this is where that expiry is read as
/// `Available`.
pub(crate) fn effective_status(stored: Option<AgentStatus>, reservation_live: bool) -> AgentStatus {
    match stored {
        None => AgentStatus::LoggedOut,
        Some(AgentStatus::Reserved) if reservation_live => AgentStatus::Reserved,
        Some(AgentStatus::Reserved) => AgentStatus::Available,
        Some(other) => other,
    }
}

pub(crate) fn check_ttl(ttl_ms: u64) -> Result<()> {
    if ttl_ms == 0 || ttl_ms > MAX_RESERVATION_TTL_MS {
        return Err(Error::InvalidTtl { ttl_ms });
    }
    Ok(())
}

/// A call given to an agent, not yet bridged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reservation {
    pub tenant: TenantId,
    /// The queue the call was taken from (and goes back to on a requeueing release).
    pub queue: QueueId,
    pub call: CallId,
    pub agent: AgentId,
    /// Per-tenant, strictly increasing.
    pub fencing_token: u64,
}

/// What [`QueueState::reserve`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReserveOutcome {
    /// The agent holds the call; the value is the reservation's fencing token.
    Reserved(u64),
    /// The call is no longer waiting in that queue (answered elsewhere, abandoned,
    /// reserved by another agent). Checked first: when both the call is gone and the
    /// agent is busy, the outcome is `CallGone`.
    CallGone,
    /// The agent is not available (reserved by someone else, on a call, logged out).
    AgentBusy,
}

/// The shared queue state.
///
/// Every method is atomic on its own; see the crate docs for the semantics both
/// implementations share.
#[async_trait]
pub trait QueueState: Send + Sync + std::fmt::Debug + 'static {
    /// Checks that the backend answers (for readiness).
    async fn ping(&self) -> Result<()>;

    /// Adds a call to a queue; adding it again while it waits there changes nothing.
    /// Returns its 1-based position.
    async fn enqueue(&self, tenant: &TenantId, queue: &QueueId, waiting: Waiting) -> Result<u32>;

    /// Removes a call from a queue (abandoned, overflowed). Returns whether it was there.
    async fn remove(&self, tenant: &TenantId, queue: &QueueId, call: &CallId) -> Result<bool>;

    /// The calls waiting in a queue, in service order (priority, then arrival, then id).
    async fn waiting(&self, tenant: &TenantId, queue: &QueueId) -> Result<Vec<Waiting>>;

    /// 1-based position of a call, or `None` when it is not waiting there.
    async fn position(
        &self,
        tenant: &TenantId,
        queue: &QueueId,
        call: &CallId,
    ) -> Result<Option<u32>>;

    /// Sets an agent's state unconditionally (log in, break, log out, on call, wrap-up).
    /// Any reservation the agent holds is dropped, and its call is not requeued.
    /// `Reserved` is refused with [`Error::ReservedBySetAgent`].
    async fn set_agent(
        &self,
        tenant: &TenantId,
        agent: &AgentId,
        status: AgentStatus,
    ) -> Result<()>;

    /// An agent's effective state; `LoggedOut` for an agent never seen, `Available` for
    /// an agent whose reservation expired.
    async fn agent(&self, tenant: &TenantId, agent: &AgentId) -> Result<AgentStatus>;

    /// Atomically: if `call` is still waiting in `queue` and `agent` is available, take the
    /// call out of the queue, mark the agent reserved, and return a new fencing token.
    /// `ttl_ms` (1..=[`MAX_RESERVATION_TTL_MS`]) bounds how long the reservation lives
    /// without being confirmed; after it, the agent is available again and the call
    /// stays out of the queue (routing requeues it).
    async fn reserve(
        &self,
        tenant: &TenantId,
        queue: &QueueId,
        call: &CallId,
        agent: &AgentId,
        ttl_ms: u64,
    ) -> Result<ReserveOutcome>;

    /// Atomically: if `agent`'s current, live reservation is for `call` with `token`, the
    /// agent goes on call, the reservation ends and `true` is returned; otherwise nothing
    /// changes.
    async fn confirm(
        &self,
        tenant: &TenantId,
        agent: &AgentId,
        call: &CallId,
        token: u64,
    ) -> Result<bool>;

    /// Atomically: if `agent`'s current, live reservation has `token`, drop it, make the
    /// agent available again and, when `requeue` is set, put the call back at its old
    /// place (same priority and `joined_at_ms`; if the call was enqueued there again in
    /// the meantime, that entry is kept). Returns whether the reservation was released.
    async fn release(
        &self,
        tenant: &TenantId,
        agent: &AgentId,
        token: u64,
        requeue: bool,
    ) -> Result<bool>;

    /// The agent's current reservation, if any and not expired.
    async fn reservation(&self, tenant: &TenantId, agent: &AgentId) -> Result<Option<Reservation>>;
}

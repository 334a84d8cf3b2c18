//! Queue state in Redis, standalone or Redis Cluster.
//!
//! [`RedisState`] is the production [`QueueState`]: every routing replica talks to the
//! same Redis, and every change that touches more than one key is a single Lua script,
//! so replicas never race each other through read-modify-write across round trips.
//!
//! # Keys
//!
//! Every key is `<prefix>:{<tenant>}:<kind>:<id>`. The tenant sits in a hash tag, so all
//! of a tenant's keys hash to one cluster slot and the scripts, which touch several of
//! them, run on a cluster too. Ids never contain `{` or `}` (hotline-core validates
//! them) and the prefix is checked in [`RedisState::connect`], so the tag is always the
//! tenant.
//!
//! | key | type | content |
//! |---|---|---|
//! | `P:{T}:queue:<queue>` | sorted set | the waiting calls in service order: score `-priority`, member `<joined_at_ms, 20 digits zero-padded>:<call>`; equal scores sort by member bytes, i.e. by arrival, then by call id |
//! | `P:{T}:calls:<queue>` | hash | call id → `<priority>:<joined_at_ms, 20 digits>`: the details of each waiting call, from which its member is rebuilt |
//! | `P:{T}:agent:<agent>` | string | the agent's stored status ([`AgentStatus::as_str`]); absent = logged out. `reserved` stays after the reservation expired, and then reads as available |
//! | `P:{T}:res:<agent>` | hash, `PX` ttl | the agent's reservation: `queue`, `call`, `token`, `priority`, `joined` (the call's old place, for a requeueing release); its expiry ends the reservation |
//! | `P:{T}:fence:token` | string | the tenant's fencing counter, `INCR`ed by each reservation |
//!
//! # Scripts
//!
//! Each is a [`redis::Script`], hashed once (a process-wide static), loaded into the
//! server(s) by [`RedisState::connect`] and invoked with `EVALSHA`, falling back to
//! loading it again on `NOSCRIPT` (after a restart or a failover). Every script returns
//! `{'ok', …}` or `{'corrupt', key, reason}` (mapped to [`Error::Corrupt`]) and checks
//! everything it reads before its first write, so a corrupt key never leaves a half-done
//! change.
//!
//! - `ENQUEUE` (queue, calls): adds the call unless it has details already; returns its
//!   position (`ZRANK` + 1).
//! - `REMOVE` (queue, calls): deletes the details and the member.
//! - `POSITION` (queue, calls): the details give the member, `ZRANK` its position.
//! - `WAITING` (queue): `ZRANGE 0 -1 WITHSCORES`.
//! - `AGENT` (agent, res): the stored status and whether the reservation is live.
//! - `SET_AGENT` (agent, res): drops any reservation, stores the status (deletes the key
//!   for `logged_out`).
//! - `RESERVE` (queue, calls, agent, res, fence): if the call has details (else
//!   `call_gone`) and the agent is available — stored `available`, or stored `reserved`
//!   with no live reservation key — (else `agent_busy`): `INCR` the fence, remove the
//!   call from the queue, store `reserved`, write the reservation hash and `PEXPIRE` it.
//! - `CONFIRM` (agent, res): if the live reservation has this call and token: delete it,
//!   store `on_call`.
//! - `RELEASE` (agent, res[, queue, calls]): if the live reservation has this token:
//!   delete it, store `available`, and with requeue put the call back with its old
//!   priority and `joined` unless it already waits there again. With requeue, the queue's
//!   keys must be declared to the script, so [`RedisState`] first reads the reservation's
//!   `queue` field (one `HGET`) to name them; the script then re-checks the token, and
//!   since a token is never reused, a matching token means the queue read is still right.
//!   Nothing is decided on the first read alone.
//!
//! `reservation` is a single `HMGET` of the reservation hash.
//!
//! # Expiry
//!
//! The reservation hash carries the ttl (`PX`, on the Redis server's clock). After it, the
//! agent reads as available and can be reserved again, and the old token is refused by
//! `CONFIRM` and `RELEASE`. The call the expired reservation held is **not** requeued:
//! `RESERVE` took it out of the queue and nothing puts it back; routing enqueues it
//! again when the agent never answered.
//!
//! # Failover
//!
//! Redis replicates asynchronously: after a failover the last `INCR`s of the fence may be
//! lost and a token handed out again. Fencing still refuses every reservation the new
//! primary does not hold, but consumers must not assume a token is globally unique
//! across a failover.

use std::sync::LazyLock;

use async_trait::async_trait;
use hotline_core::{AgentId, CallId, QueueId, TenantId};
use redis::aio::ConnectionManager;
use redis::cluster::ClusterClient;
use redis::cluster_async::ClusterConnection;
use redis::{FromRedisValue, RedisError, Script, ScriptInvocation, Value};

use crate::{
    AgentStatus, Error, QueueState, Reservation, ReserveOutcome, Result, Waiting, check_ttl,
    effective_status,
};

/// Longest accepted key prefix.
pub const MAX_PREFIX_LEN: usize = 64;

/// Lua helpers shared by the scripts (a macro so `concat!` can splice it in).
macro_rules! lua_prelude {
    () => {
        r#"
local function corrupt(key, reason) return {'corrupt', key, reason} end
-- '<priority>:<joined, 20 digits>' -> priority, joined; nil when malformed
local function place_of(details)
  local p, j = string.match(details, '^(%-?%d+):(%d+)$')
  if p and #j == 20 then return p, j end
  return nil
end
"#
    };
}

const ENQUEUE: &str = concat!(
    lua_prelude!(),
    r#"
-- KEYS: queue, calls   ARGV: call, details, score, member
local member = ARGV[4]
local d = redis.call('HGET', KEYS[2], ARGV[1])
if d then
  local p, j = place_of(d)
  if not p then return corrupt(KEYS[2], 'bad details of call ' .. ARGV[1]) end
  member = j .. ':' .. ARGV[1]
else
  redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
  redis.call('ZADD', KEYS[1], ARGV[3], member)
end
local rank = redis.call('ZRANK', KEYS[1], member)
if not rank then return corrupt(KEYS[1], 'call ' .. ARGV[1] .. ' has details but no place') end
return {'ok', rank + 1}
"#
);

const REMOVE: &str = concat!(
    lua_prelude!(),
    r#"
-- KEYS: queue, calls   ARGV: call
local d = redis.call('HGET', KEYS[2], ARGV[1])
if not d then return {'ok', 0} end
local p, j = place_of(d)
if not p then return corrupt(KEYS[2], 'bad details of call ' .. ARGV[1]) end
redis.call('HDEL', KEYS[2], ARGV[1])
redis.call('ZREM', KEYS[1], j .. ':' .. ARGV[1])
return {'ok', 1}
"#
);

const POSITION: &str = concat!(
    lua_prelude!(),
    r#"
-- KEYS: queue, calls   ARGV: call
local d = redis.call('HGET', KEYS[2], ARGV[1])
if not d then return {'ok', 0} end
local p, j = place_of(d)
if not p then return corrupt(KEYS[2], 'bad details of call ' .. ARGV[1]) end
local rank = redis.call('ZRANK', KEYS[1], j .. ':' .. ARGV[1])
if not rank then return corrupt(KEYS[1], 'call ' .. ARGV[1] .. ' has details but no place') end
return {'ok', rank + 1}
"#
);

const WAITING: &str = r#"
-- KEYS: queue
return {'ok', redis.call('ZRANGE', KEYS[1], 0, -1, 'WITHSCORES')}
"#;

const AGENT: &str = r#"
-- KEYS: agent, res
return {'ok', redis.call('EXISTS', KEYS[2]), redis.call('GET', KEYS[1])}
"#;

const SET_AGENT: &str = r#"
-- KEYS: agent, res   ARGV: status
local dropped = redis.call('DEL', KEYS[2])
if ARGV[1] == 'logged_out' then
  redis.call('DEL', KEYS[1])
else
  redis.call('SET', KEYS[1], ARGV[1])
end
return {'ok', dropped}
"#;

const RESERVE: &str = concat!(
    lua_prelude!(),
    r#"
-- KEYS: queue, calls, agent, res, fence   ARGV: call, queue id, ttl ms
local known = {logged_out = true, available = true, reserved = true,
               on_call = true, wrap_up = true, ['break'] = true}
local d = redis.call('HGET', KEYS[2], ARGV[1])
if not d then return {'ok', 'call_gone'} end
local p, j = place_of(d)
if not p then return corrupt(KEYS[2], 'bad details of call ' .. ARGV[1]) end
local member = j .. ':' .. ARGV[1]
if not redis.call('ZSCORE', KEYS[1], member) then
  return corrupt(KEYS[1], 'call ' .. ARGV[1] .. ' has details but no place')
end
local s = redis.call('GET', KEYS[3])
if s and not known[s] then return corrupt(KEYS[3], 'unknown agent status') end
local available = s == 'available' or (s == 'reserved' and redis.call('EXISTS', KEYS[4]) == 0)
if not available then return {'ok', 'agent_busy'} end
local c = redis.call('GET', KEYS[5])
if c and not string.match(c, '^%d+$') then return corrupt(KEYS[5], 'fencing counter is not a number') end
local token = redis.call('INCR', KEYS[5])
redis.call('HDEL', KEYS[2], ARGV[1])
redis.call('ZREM', KEYS[1], member)
redis.call('SET', KEYS[3], 'reserved')
redis.call('DEL', KEYS[4])
redis.call('HSET', KEYS[4], 'queue', ARGV[2], 'call', ARGV[1], 'token', token,
           'priority', p, 'joined', j)
redis.call('PEXPIRE', KEYS[4], ARGV[3])
return {'ok', 'reserved', token}
"#
);

const CONFIRM: &str = concat!(
    lua_prelude!(),
    r#"
-- KEYS: agent, res   ARGV: call, token
local r = redis.call('HMGET', KEYS[2], 'call', 'token')
if not r[1] and not r[2] then return {'ok', 0} end
if not r[1] or not r[2] or not string.match(r[2], '^%d+$') then
  return corrupt(KEYS[2], 'reservation without a call or a numeric token')
end
if r[1] ~= ARGV[1] or r[2] ~= ARGV[2] then return {'ok', 0} end
redis.call('DEL', KEYS[2])
redis.call('SET', KEYS[1], 'on_call')
return {'ok', 1}
"#
);

const RELEASE: &str = concat!(
    lua_prelude!(),
    r#"
-- KEYS: agent, res[, queue, calls]   ARGV: token, requeue ('1' or '0'), queue id
local r = redis.call('HMGET', KEYS[2], 'token', 'queue', 'call', 'priority', 'joined')
if not r[1] then return {'ok', 0} end
if not string.match(r[1], '^%d+$') then return corrupt(KEYS[2], 'token is not a number') end
if r[1] ~= ARGV[1] then return {'ok', 0} end
if ARGV[2] == '1' then
  if r[2] ~= ARGV[3] then return corrupt(KEYS[2], 'reservation changed queue under its token') end
  if not r[3] or not r[4] or not r[5] then return corrupt(KEYS[2], 'reservation without its call place') end
  local p, j = place_of(r[4] .. ':' .. r[5])
  if not p then return corrupt(KEYS[2], 'bad place in reservation') end
  if redis.call('HEXISTS', KEYS[4], r[3]) == 0 then
    local score
    if p == '0' then score = '0'
    elseif string.sub(p, 1, 1) == '-' then score = string.sub(p, 2)
    else score = '-' .. p end
    redis.call('HSET', KEYS[4], r[3], p .. ':' .. j)
    redis.call('ZADD', KEYS[3], score, j .. ':' .. r[3])
  end
end
redis.call('DEL', KEYS[2])
redis.call('SET', KEYS[1], 'available')
return {'ok', 1}
"#
);

/// The scripts, hashed once per process.
struct Scripts {
    enqueue: Script,
    remove: Script,
    position: Script,
    waiting: Script,
    agent: Script,
    set_agent: Script,
    reserve: Script,
    confirm: Script,
    release: Script,
}

impl Scripts {
    fn all(&self) -> [&Script; 9] {
        [
            &self.enqueue,
            &self.remove,
            &self.position,
            &self.waiting,
            &self.agent,
            &self.set_agent,
            &self.reserve,
            &self.confirm,
            &self.release,
        ]
    }
}

static SCRIPTS: LazyLock<Scripts> = LazyLock::new(|| Scripts {
    enqueue: Script::new(ENQUEUE),
    remove: Script::new(REMOVE),
    position: Script::new(POSITION),
    waiting: Script::new(WAITING),
    agent: Script::new(AGENT),
    set_agent: Script::new(SET_AGENT),
    reserve: Script::new(RESERVE),
    confirm: Script::new(CONFIRM),
    release: Script::new(RELEASE),
});

/// The connection: one server, or a cluster (routed by key slot).
#[derive(Clone)]
enum Conn {
    Single(ConnectionManager),
    Cluster(ClusterConnection),
}

impl std::fmt::Debug for Conn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Single(_) => "Single",
            Self::Cluster(_) => "Cluster",
        })
    }
}

impl Conn {
    async fn invoke<T: FromRedisValue>(&self, inv: &ScriptInvocation<'_>) -> Result<T, RedisError> {
        match self {
            Self::Single(c) => inv.invoke_async(&mut c.clone()).await,
            Self::Cluster(c) => inv.invoke_async(&mut c.clone()).await,
        }
    }

    async fn query<T: FromRedisValue>(&self, cmd: &redis::Cmd) -> Result<T, RedisError> {
        match self {
            Self::Single(c) => cmd.query_async(&mut c.clone()).await,
            Self::Cluster(c) => cmd.query_async(&mut c.clone()).await,
        }
    }

    async fn load(&self, script: &Script) -> Result<String, RedisError> {
        match self {
            Self::Single(c) => script.load_async(&mut c.clone()).await,
            Self::Cluster(c) => script.load_async(&mut c.clone()).await,
        }
    }
}

/// The Redis-backed [`QueueState`]. Cheap to clone; clones share the connection.
#[derive(Debug, Clone)]
pub struct RedisState {
    conn: Conn,
    prefix: String,
}

/// Checks that a prefix keeps the key layout intact: no hash-tag braces, no glob
/// characters (tools and tests `SCAN MATCH <prefix>*`).
fn check_prefix(prefix: &str) -> Result<()> {
    let bad = |reason| {
        Err(Error::InvalidPrefix {
            prefix: prefix.chars().take(MAX_PREFIX_LEN).collect(),
            reason,
        })
    };
    if prefix.is_empty() {
        return bad("empty");
    }
    if prefix.len() > MAX_PREFIX_LEN {
        return bad("longer than 64 bytes");
    }
    if !prefix
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':'))
    {
        return bad("allowed are ASCII letters, digits, '-', '_', '.' and ':'");
    }
    Ok(())
}

impl RedisState {
    /// Connects and loads the scripts. One URL is a standalone server (behind a
    /// reconnecting [`ConnectionManager`]); several are seed nodes of a Redis Cluster.
    /// A cluster therefore needs at least two seed URLs.
    pub async fn connect(urls: &[String], prefix: &str) -> Result<Self> {
        check_prefix(prefix)?;
        let conn = match urls {
            [] => return Err(Error::NoUrl),
            [url] => {
                let client = redis::Client::open(url.as_str())?;
                Conn::Single(client.get_connection_manager().await?)
            }
            seeds => {
                let client = ClusterClient::new(seeds.iter().map(String::as_str))?;
                Conn::Cluster(client.get_async_connection().await?)
            }
        };
        for script in SCRIPTS.all() {
            conn.load(script).await?;
        }
        tracing::debug!(
            cluster = matches!(conn, Conn::Cluster(_)),
            prefix,
            "queue state connected"
        );
        Ok(Self {
            conn,
            prefix: prefix.to_owned(),
        })
    }

    /// The key prefix.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    fn key(&self, tenant: &TenantId, kind: &str, id: &str) -> String {
        format!("{}:{{{}}}:{}:{}", self.prefix, tenant, kind, id)
    }

    fn queue_keys(&self, tenant: &TenantId, queue: &QueueId) -> (String, String) {
        (
            self.key(tenant, "queue", queue.as_str()),
            self.key(tenant, "calls", queue.as_str()),
        )
    }

    fn agent_keys(&self, tenant: &TenantId, agent: &AgentId) -> (String, String) {
        (
            self.key(tenant, "agent", agent.as_str()),
            self.key(tenant, "res", agent.as_str()),
        )
    }

    /// Runs a script and unwraps its `{'ok', …}` / `{'corrupt', key, reason}` reply.
    async fn run(&self, inv: &ScriptInvocation<'_>, key: &str) -> Result<Vec<Value>> {
        let reply: Vec<Value> = self
            .conn
            .invoke(inv)
            .await
            .map_err(|err| from_redis(err, key))?;
        let mut items = reply.into_iter();
        match items.next().as_ref().and_then(text) {
            Some(tag) if tag == "ok" => Ok(items.collect()),
            Some(tag) if tag == "corrupt" => {
                let key = items.next().as_ref().and_then(text).unwrap_or_default();
                let reason = items.next().as_ref().and_then(text).unwrap_or_default();
                tracing::warn!(key, reason, "corrupt queue state");
                Err(Error::Corrupt { key, reason })
            }
            _ => Err(corrupt(key, "script gave an unexpected reply")),
        }
    }
}

/// Redis reports data of the wrong type (someone else's key, a hand edit) as a
/// `WRONGTYPE` error; to the caller that is corrupt state, not a failing server.
fn from_redis(err: RedisError, key: &str) -> Error {
    if err.code() == Some("WRONGTYPE") {
        tracing::warn!(key, error = %err, "corrupt queue state");
        return corrupt(key, &format!("wrong type: {err}"));
    }
    Error::Redis(err)
}

fn corrupt(key: &str, reason: &str) -> Error {
    Error::Corrupt {
        key: key.to_owned(),
        reason: reason.to_owned(),
    }
}

fn text(v: &Value) -> Option<String> {
    match v {
        Value::BulkString(b) => String::from_utf8(b.clone()).ok(),
        Value::SimpleString(s) => Some(s.clone()),
        Value::Int(i) => Some(i.to_string()),
        _ => None,
    }
}

fn int(v: Option<&Value>, key: &str) -> Result<i64> {
    match v {
        Some(Value::Int(i)) => Ok(*i),
        _ => Err(corrupt(key, "script gave no number")),
    }
}

fn to_u32(n: i64, key: &str) -> Result<u32> {
    u32::try_from(n).map_err(|_| corrupt(key, "position out of range"))
}

/// Parses a sorted-set member and score back into a [`Waiting`].
fn parse_waiting(member: &str, score: &str, key: &str) -> Result<Waiting> {
    let bad = |what: &str| corrupt(key, &format!("{what} in member {member:?}"));
    let (joined, call) = member.split_once(':').ok_or_else(|| bad("no separator"))?;
    if joined.len() != 20 || !joined.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad("bad arrival time"));
    }
    let joined_at_ms = joined.parse::<u64>().map_err(|_| bad("bad arrival time"))?;
    let call = CallId::new(call).map_err(|_| bad("bad call id"))?;
    let score: f64 = score
        .parse()
        .map_err(|_| bad(&format!("bad score {score:?}")))?;
    let priority = -score;
    if priority.fract() != 0.0 || priority < f64::from(i32::MIN) || priority > f64::from(i32::MAX) {
        return Err(bad(&format!("score {score} is no priority")));
    }
    // in range and integral, checked above
    #[allow(clippy::cast_possible_truncation)]
    let priority = priority as i32;
    Ok(Waiting {
        call,
        priority,
        joined_at_ms,
    })
}

#[async_trait]
impl QueueState for RedisState {
    async fn ping(&self) -> Result<()> {
        let _: String = self.conn.query(&redis::cmd("PING")).await?;
        Ok(())
    }

    #[tracing::instrument(name = "state.enqueue", level = "debug", skip_all,
        fields(tenant = %tenant, queue = %queue, call = %waiting.call))]
    async fn enqueue(&self, tenant: &TenantId, queue: &QueueId, waiting: Waiting) -> Result<u32> {
        let (zset, calls) = self.queue_keys(tenant, queue);
        let details = format!("{}:{:020}", waiting.priority, waiting.joined_at_ms);
        let score = (-i64::from(waiting.priority)).to_string();
        let member = format!("{:020}:{}", waiting.joined_at_ms, waiting.call);
        let reply = self
            .run(
                SCRIPTS
                    .enqueue
                    .key(&zset)
                    .key(&calls)
                    .arg(waiting.call.as_str())
                    .arg(details)
                    .arg(score)
                    .arg(member),
                &zset,
            )
            .await?;
        to_u32(int(reply.first(), &zset)?, &zset)
    }

    #[tracing::instrument(name = "state.remove", level = "debug", skip_all,
        fields(tenant = %tenant, queue = %queue, call = %call))]
    async fn remove(&self, tenant: &TenantId, queue: &QueueId, call: &CallId) -> Result<bool> {
        let (zset, calls) = self.queue_keys(tenant, queue);
        let reply = self
            .run(
                SCRIPTS.remove.key(&zset).key(&calls).arg(call.as_str()),
                &zset,
            )
            .await?;
        Ok(int(reply.first(), &zset)? == 1)
    }

    async fn waiting(&self, tenant: &TenantId, queue: &QueueId) -> Result<Vec<Waiting>> {
        let (zset, _) = self.queue_keys(tenant, queue);
        let reply = self.run(&SCRIPTS.waiting.key(&zset), &zset).await?;
        let Some(Value::Array(flat)) = reply.into_iter().next() else {
            return Err(corrupt(&zset, "script gave no list"));
        };
        if flat.len() % 2 != 0 {
            return Err(corrupt(&zset, "member without score"));
        }
        flat.chunks_exact(2)
            .map(|pair| {
                let member = text(&pair[0]).ok_or_else(|| corrupt(&zset, "member not text"))?;
                let score = text(&pair[1]).ok_or_else(|| corrupt(&zset, "score not text"))?;
                parse_waiting(&member, &score, &zset)
            })
            .collect()
    }

    async fn position(
        &self,
        tenant: &TenantId,
        queue: &QueueId,
        call: &CallId,
    ) -> Result<Option<u32>> {
        let (zset, calls) = self.queue_keys(tenant, queue);
        let reply = self
            .run(
                SCRIPTS.position.key(&zset).key(&calls).arg(call.as_str()),
                &zset,
            )
            .await?;
        match int(reply.first(), &zset)? {
            0 => Ok(None),
            n => to_u32(n, &zset).map(Some),
        }
    }

    #[tracing::instrument(name = "state.set_agent", level = "debug", skip_all,
        fields(tenant = %tenant, agent = %agent, status = status.as_str()))]
    async fn set_agent(
        &self,
        tenant: &TenantId,
        agent: &AgentId,
        status: AgentStatus,
    ) -> Result<()> {
        if status == AgentStatus::Reserved {
            return Err(Error::ReservedBySetAgent);
        }
        let (agent_key, res) = self.agent_keys(tenant, agent);
        let reply = self
            .run(
                SCRIPTS
                    .set_agent
                    .key(&agent_key)
                    .key(&res)
                    .arg(status.as_str()),
                &agent_key,
            )
            .await?;
        if int(reply.first(), &res)? == 1 {
            tracing::info!(
                tenant = %tenant,
                agent = %agent,
                status = status.as_str(),
                "agent state set over a reservation; reservation dropped",
            );
        }
        Ok(())
    }

    async fn agent(&self, tenant: &TenantId, agent: &AgentId) -> Result<AgentStatus> {
        let (agent_key, res) = self.agent_keys(tenant, agent);
        let reply = self
            .run(SCRIPTS.agent.key(&agent_key).key(&res), &agent_key)
            .await?;
        let live = int(reply.first(), &res)? == 1;
        let stored =
            match reply.get(1) {
                None | Some(Value::Nil) => None,
                Some(v) => {
                    let s = text(v).ok_or_else(|| corrupt(&agent_key, "status not text"))?;
                    Some(AgentStatus::parse(&s).ok_or_else(|| {
                        corrupt(&agent_key, &format!("unknown agent status {s:?}"))
                    })?)
                }
            };
        Ok(effective_status(stored, live))
    }

    #[tracing::instrument(name = "state.reserve", level = "debug", skip_all,
        fields(tenant = %tenant, queue = %queue, call = %call, agent = %agent))]
    async fn reserve(
        &self,
        tenant: &TenantId,
        queue: &QueueId,
        call: &CallId,
        agent: &AgentId,
        ttl_ms: u64,
    ) -> Result<ReserveOutcome> {
        check_ttl(ttl_ms)?;
        let (zset, calls) = self.queue_keys(tenant, queue);
        let (agent_key, res) = self.agent_keys(tenant, agent);
        let fence = self.key(tenant, "fence", "token");
        let reply = self
            .run(
                SCRIPTS
                    .reserve
                    .key(&zset)
                    .key(&calls)
                    .key(&agent_key)
                    .key(&res)
                    .key(&fence)
                    .arg(call.as_str())
                    .arg(queue.as_str())
                    .arg(ttl_ms),
                &zset,
            )
            .await?;
        match reply.first().and_then(text).as_deref() {
            Some("reserved") => {
                let token = int(reply.get(1), &fence)?;
                let token =
                    u64::try_from(token).map_err(|_| corrupt(&fence, "negative fencing token"))?;
                Ok(ReserveOutcome::Reserved(token))
            }
            Some("call_gone") => Ok(ReserveOutcome::CallGone),
            Some("agent_busy") => Ok(ReserveOutcome::AgentBusy),
            _ => Err(corrupt(&zset, "reserve gave an unexpected reply")),
        }
    }

    #[tracing::instrument(name = "state.confirm", level = "debug", skip_all,
        fields(tenant = %tenant, agent = %agent, call = %call, token))]
    async fn confirm(
        &self,
        tenant: &TenantId,
        agent: &AgentId,
        call: &CallId,
        token: u64,
    ) -> Result<bool> {
        let (agent_key, res) = self.agent_keys(tenant, agent);
        let reply = self
            .run(
                SCRIPTS
                    .confirm
                    .key(&agent_key)
                    .key(&res)
                    .arg(call.as_str())
                    .arg(token),
                &res,
            )
            .await?;
        Ok(int(reply.first(), &res)? == 1)
    }

    #[tracing::instrument(name = "state.release", level = "debug", skip_all,
        fields(tenant = %tenant, agent = %agent, token, requeue))]
    async fn release(
        &self,
        tenant: &TenantId,
        agent: &AgentId,
        token: u64,
        requeue: bool,
    ) -> Result<bool> {
        let (agent_key, res) = self.agent_keys(tenant, agent);
        let mut inv = SCRIPTS.release.key(&agent_key);
        inv.key(&res).arg(token);
        if requeue {
            // Only to name the queue's keys; the script re-checks the token (see module docs).
            let queue: Option<String> = self
                .conn
                .query(redis::cmd("HGET").arg(&res).arg("queue"))
                .await
                .map_err(|err| from_redis(err, &res))?;
            let Some(queue) = queue else {
                return Ok(false);
            };
            let queue_id = QueueId::new(queue.as_str())
                .map_err(|err| corrupt(&res, &format!("bad queue id: {err}")))?;
            let (zset, calls) = self.queue_keys(tenant, &queue_id);
            inv.key(zset).key(calls).arg("1").arg(queue);
        } else {
            inv.arg("0").arg("");
        }
        let reply = self.run(&inv, &res).await?;
        Ok(int(reply.first(), &res)? == 1)
    }

    async fn reservation(&self, tenant: &TenantId, agent: &AgentId) -> Result<Option<Reservation>> {
        let (_, res) = self.agent_keys(tenant, agent);
        let fields: Vec<Option<String>> = self
            .conn
            .query(
                redis::cmd("HMGET")
                    .arg(&res)
                    .arg(&["queue", "call", "token"]),
            )
            .await
            .map_err(|err| from_redis(err, &res))?;
        let (queue, call, token) = match fields.as_slice() {
            [None, None, None] => return Ok(None),
            [Some(q), Some(c), Some(t)] => (q, c, t),
            _ => return Err(corrupt(&res, "reservation lacks queue, call or token")),
        };
        Ok(Some(Reservation {
            tenant: tenant.clone(),
            queue: QueueId::new(queue.as_str())
                .map_err(|err| corrupt(&res, &format!("bad queue id: {err}")))?,
            call: CallId::new(call.as_str())
                .map_err(|err| corrupt(&res, &format!("bad call id: {err}")))?,
            agent: agent.clone(),
            fencing_token: token
                .parse()
                .map_err(|_| corrupt(&res, &format!("token {token:?} is not a number")))?,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_that_break_the_hash_tag_or_scan_are_refused() {
        assert!(check_prefix("hotline").is_ok());
        assert!(check_prefix("hl:test-1_a.b").is_ok());
        for bad in ["", "a{b", "a}b", "a*", "a?", "a[b]", "a b", &"x".repeat(65)] {
            assert!(
                matches!(check_prefix(bad), Err(Error::InvalidPrefix { .. })),
                "{bad:?} accepted"
            );
        }
    }

    #[test]
    fn members_round_trip_and_bad_ones_are_corrupt() {
        let w = parse_waiting("00000001732500000000:call-1", "-7", "k").expect("valid member");
        assert_eq!(w.call.as_str(), "call-1");
        assert_eq!(w.priority, 7);
        assert_eq!(w.joined_at_ms, 1_732_500_000_000);
        assert_eq!(
            parse_waiting("00000000000000000001:c", "0", "k")
                .expect("valid member")
                .priority,
            0
        );
        assert_eq!(
            parse_waiting("00000000000000000001:c", "-0", "k")
                .expect("valid member")
                .priority,
            0
        );
        for (member, score) in [
            ("nocolon", "0"),
            ("123:c", "0"),
            ("0000000000000000000x:c", "0"),
            ("99999999999999999999:c", "0"),
            ("00000000000000000001:bad{id}", "0"),
            ("00000000000000000001:c", "1.5"),
            ("00000000000000000001:c", "nan"),
            ("00000000000000000001:c", "1e12"),
            ("00000000000000000001:c", "x"),
        ] {
            assert!(
                matches!(
                    parse_waiting(member, score, "k"),
                    Err(Error::Corrupt { .. })
                ),
                "{member:?} {score:?} accepted"
            );
        }
    }
}

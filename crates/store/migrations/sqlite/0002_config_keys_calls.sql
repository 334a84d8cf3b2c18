-- The embedded store's configuration documents, outbox, API keys, idempotency records
-- and call log: the same tables and constraints as migrations/postgres, in SQLite's
-- types (times INTEGER microseconds since the Unix epoch, event ids hyphenated UUID
-- text, bytes BLOB). Text compares bytewise (BINARY), which is PostgreSQL's "C".

CREATE TABLE config_documents (
    tenant_id   TEXT    NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    kind        TEXT    NOT NULL,
    id          TEXT    NOT NULL,
    name        TEXT    NOT NULL,
    version     INTEGER NOT NULL CHECK (version >= 1),
    body        TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, kind, id)
) STRICT;

-- AUTOINCREMENT: a seq is never reused after its row is acknowledged, so a late
-- acknowledgement can never remove a newer, unpublished row.
CREATE TABLE outbox (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id   TEXT    NOT NULL,
    topic_key   TEXT    NOT NULL,
    payload     BLOB    NOT NULL,
    created_at  INTEGER NOT NULL
) STRICT;

CREATE INDEX outbox_by_tenant ON outbox (tenant_id);

CREATE TABLE api_keys (
    id            TEXT    PRIMARY KEY NOT NULL,
    tenant_id     TEXT    NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    hash          BLOB    NOT NULL UNIQUE CHECK (length(hash) = 32),
    role          TEXT    NOT NULL
                          CHECK (role IN ('admin', 'supervisor', 'agent', 'readonly')),
    label         TEXT    NOT NULL,
    created_at    INTEGER NOT NULL,
    revoked_at    INTEGER,
    last_used_at  INTEGER
) STRICT;

CREATE INDEX api_keys_by_tenant ON api_keys (tenant_id, created_at);

CREATE TABLE idempotency (
    tenant_id     TEXT    NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    key           TEXT    NOT NULL,
    request_hash  BLOB    NOT NULL CHECK (length(request_hash) = 32),
    status        INTEGER NOT NULL CHECK (status BETWEEN 100 AND 599),
    response      TEXT    NOT NULL,
    created_at    INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, key)
) STRICT;

CREATE INDEX idempotency_by_age ON idempotency (created_at);

CREATE TABLE calls (
    tenant_id     TEXT    NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    call_id       TEXT    NOT NULL,
    caller        TEXT,
    did           TEXT,
    started_at    INTEGER NOT NULL,
    answered_at   INTEGER,
    ended_at      INTEGER,
    disposition   TEXT,
    ivr_path      TEXT    NOT NULL DEFAULT '[]',
    queue_id      TEXT,
    agent_id      TEXT,
    wait_seconds  INTEGER CHECK (wait_seconds >= 0),
    talk_seconds  INTEGER CHECK (talk_seconds >= 0),
    PRIMARY KEY (tenant_id, call_id)
) STRICT;

CREATE INDEX calls_newest_first ON calls (tenant_id, started_at DESC, call_id DESC);

CREATE TABLE call_events (
    tenant_id    TEXT    NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    call_id      TEXT    NOT NULL,
    event_id     TEXT    NOT NULL,
    event_type   TEXT    NOT NULL,
    occurred_at  INTEGER NOT NULL,
    body         TEXT    NOT NULL,
    PRIMARY KEY (tenant_id, event_id)
) STRICT;

CREATE INDEX call_events_by_call ON call_events (tenant_id, call_id, occurred_at, event_id);

-- Configuration documents and the outbox that publishes their changes, API keys,
-- idempotency records, and the call log. Every tenant-owned row carries tenant_id and
-- goes when its tenant is deleted (ON DELETE CASCADE backs up the explicit deletes of
-- delete_tenant). Ids that listings order by are COLLATE "C": bytewise order, whatever
-- the database's locale, the same as the embedded store.

-- One row per configuration resource; body is JSON the store keeps opaque.
CREATE TABLE config_documents (
    tenant_id   text        NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    kind        text        COLLATE "C" NOT NULL,
    id          text        COLLATE "C" NOT NULL,
    name        text        NOT NULL,
    version     bigint      NOT NULL CHECK (version >= 1),
    body        text        NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, kind, id)
);

-- Events to publish, written in the transaction of the change they describe. No
-- foreign key: the event announcing a tenant's deletion outlives the tenant.
CREATE TABLE outbox (
    seq         bigserial   PRIMARY KEY,
    tenant_id   text        NOT NULL,
    topic_key   text        NOT NULL,
    payload     bytea       NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX outbox_by_tenant ON outbox (tenant_id);

-- Tenant API keys; hash is the SHA-256 of the secret, which is never stored.
CREATE TABLE api_keys (
    id            text        PRIMARY KEY,
    tenant_id     text        NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    hash          bytea       NOT NULL UNIQUE CHECK (length(hash) = 32),
    role          text        NOT NULL
                              CHECK (role IN ('admin', 'supervisor', 'agent', 'readonly')),
    label         text        NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    revoked_at    timestamptz,
    last_used_at  timestamptz
);

CREATE INDEX api_keys_by_tenant ON api_keys (tenant_id, created_at);

-- The first answer to a create carrying an Idempotency-Key.
CREATE TABLE idempotency (
    tenant_id     text        NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    key           text        NOT NULL,
    request_hash  bytea       NOT NULL CHECK (length(request_hash) = 32),
    status        integer     NOT NULL CHECK (status BETWEEN 100 AND 599),
    response      text        NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, key)
);

CREATE INDEX idempotency_by_age ON idempotency (created_at);

-- The call log: one row per call, folded from its events. ivr_path is a JSON array of
-- strings.
CREATE TABLE calls (
    tenant_id     text        NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    call_id       text        COLLATE "C" NOT NULL,
    caller        text,
    did           text,
    started_at    timestamptz NOT NULL,
    answered_at   timestamptz,
    ended_at      timestamptz,
    disposition   text,
    ivr_path      text        NOT NULL DEFAULT '[]',
    queue_id      text,
    agent_id      text,
    wait_seconds  bigint      CHECK (wait_seconds >= 0),
    talk_seconds  bigint      CHECK (talk_seconds >= 0),
    PRIMARY KEY (tenant_id, call_id)
);

CREATE INDEX calls_newest_first ON calls (tenant_id, started_at DESC, call_id DESC);

-- The events of each call as received; (tenant_id, event_id) detects redelivery.
CREATE TABLE call_events (
    tenant_id    text        NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    call_id      text        COLLATE "C" NOT NULL,
    event_id     uuid        NOT NULL,
    event_type   text        NOT NULL,
    occurred_at  timestamptz NOT NULL,
    body         text        NOT NULL,
    PRIMARY KEY (tenant_id, event_id)
);

CREATE INDEX call_events_by_call ON call_events (tenant_id, call_id, occurred_at, event_id);

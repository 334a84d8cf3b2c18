-- Tenants, their phone numbers, and the dedup markers of idempotent event consumers.
-- Every tenant-owned row carries tenant_id; tenant-scoped queries filter on it.

CREATE TABLE tenants (
    id          text        PRIMARY KEY,
    name        text        NOT NULL,
    time_zone   text        NOT NULL,
    locale      text        NOT NULL,
    status      text        NOT NULL DEFAULT 'active'
                            CHECK (status IN ('active', 'suspended')),
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- A number belongs to at most one tenant in the whole platform: the number alone is
-- the key, so a second tenant claiming it is a unique violation.
CREATE TABLE phone_numbers (
    number      text PRIMARY KEY,
    tenant_id   text NOT NULL REFERENCES tenants (id),
    entry_flow  text NOT NULL
);

CREATE INDEX phone_numbers_by_tenant ON phone_numbers (tenant_id, number);

-- Event ids are unique platform-wide (UUIDv7), so (consumer, event_id) identifies a
-- delivery; tenant_id records whose event it was. No foreign key to tenants: a marker
-- must never fail because of the order in which a consumer sees events.
CREATE TABLE processed_events (
    consumer      text        NOT NULL,
    tenant_id     text        NOT NULL,
    event_id      uuid        NOT NULL,
    processed_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, event_id)
);

CREATE INDEX processed_events_by_tenant ON processed_events (tenant_id, processed_at);

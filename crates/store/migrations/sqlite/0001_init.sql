-- The embedded store's schema: the same tables and constraints as
-- migrations/postgres, in SQLite's types. Times are INTEGER microseconds since the
-- Unix epoch (PostgreSQL's timestamptz resolution); event ids are hyphenated UUID text.
-- STRICT makes SQLite enforce the column types.

CREATE TABLE tenants (
    id          TEXT    PRIMARY KEY NOT NULL,
    name        TEXT    NOT NULL,
    time_zone   TEXT    NOT NULL,
    locale      TEXT    NOT NULL,
    status      TEXT    NOT NULL DEFAULT 'active'
                        CHECK (status IN ('active', 'suspended')),
    created_at  INTEGER NOT NULL
) STRICT;

CREATE TABLE phone_numbers (
    number      TEXT PRIMARY KEY NOT NULL,
    tenant_id   TEXT NOT NULL REFERENCES tenants (id),
    entry_flow  TEXT NOT NULL
) STRICT;

CREATE INDEX phone_numbers_by_tenant ON phone_numbers (tenant_id, number);

CREATE TABLE processed_events (
    consumer      TEXT    NOT NULL,
    tenant_id     TEXT    NOT NULL,
    event_id      TEXT    NOT NULL,
    processed_at  INTEGER NOT NULL,
    PRIMARY KEY (consumer, event_id)
) STRICT;

CREATE INDEX processed_events_by_tenant ON processed_events (tenant_id, processed_at);

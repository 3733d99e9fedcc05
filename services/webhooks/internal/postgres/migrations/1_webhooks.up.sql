-- Webhook endpoints, the events waiting for delivery to them (jobs), and every delivery attempt.
CREATE SCHEMA IF NOT EXISTS webhooks;

CREATE TABLE webhooks.endpoints (
    id            uuid        PRIMARY KEY,
    url           text        NOT NULL,
    event_types   text[]      NOT NULL,
    description   text        NOT NULL DEFAULT '',
    active        boolean     NOT NULL DEFAULT true,
    secret        text        NOT NULL,
    created_at    timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL,
    failing_since timestamptz
);

-- One job per endpoint and event; next_attempt_at is also the claim's lease (see Store.Claim).
CREATE TABLE webhooks.jobs (
    id              bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    endpoint_id     uuid        NOT NULL REFERENCES webhooks.endpoints (id) ON DELETE CASCADE,
    event_id        text        NOT NULL,
    event_type      text        NOT NULL,
    body            bytea       NOT NULL,
    attempts        integer     NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (endpoint_id, event_id)
);
CREATE INDEX jobs_due_idx ON webhooks.jobs (next_attempt_at);

CREATE TABLE webhooks.attempts (
    id          bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    endpoint_id uuid        NOT NULL REFERENCES webhooks.endpoints (id) ON DELETE CASCADE,
    event_id    text        NOT NULL,
    event_type  text        NOT NULL,
    attempt     integer     NOT NULL,
    status_code integer,
    error       text,
    duration_ms bigint      NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX attempts_endpoint_idx ON webhooks.attempts (endpoint_id, id DESC);

CREATE TABLE webhooks.outbox (
    seq        bigserial   PRIMARY KEY,
    event_id   uuid        NOT NULL UNIQUE,
    event      jsonb       NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

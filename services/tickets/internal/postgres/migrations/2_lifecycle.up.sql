-- Timestamps for the statistics: first response (the ticket first left
-- "new", or staff first commented) and resolution (it was completed).
ALTER TABLE tickets.requests
    ADD COLUMN first_response_at timestamptz,
    ADD COLUMN resolved_at       timestamptz;

-- Lists filter by status and by creation time, and keyset-page on
-- (created_at, id); these keep them index-only at a million tickets.
CREATE INDEX requests_created_idx ON tickets.requests (created_at DESC, id DESC);
CREATE INDEX requests_status_idx ON tickets.requests (status, created_at DESC, id DESC);
CREATE INDEX requests_unassigned_idx ON tickets.requests (created_at DESC, id DESC) WHERE staff_id IS NULL;

-- The export shows the owner's INN and phone.
ALTER TABLE tickets.users
    ADD COLUMN inn   text,
    ADD COLUMN phone text;

CREATE TABLE tickets.comments (
    id         bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    request_id bigint      NOT NULL REFERENCES tickets.requests (id) ON DELETE CASCADE,
    author_id  bigint      NOT NULL,
    body       text        NOT NULL CHECK (length(body) BETWEEN 1 AND 5000),
    internal   boolean     NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX comments_request_idx ON tickets.comments (request_id, id);

-- Idempotency keys: a retried create or comment returns the first result.
CREATE TABLE tickets.idempotency_keys (
    actor_id     bigint      NOT NULL,
    scope        text        NOT NULL,
    key          text        NOT NULL,
    request_hash bytea       NOT NULL,
    resource_id  bigint      NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (actor_id, scope, key)
);

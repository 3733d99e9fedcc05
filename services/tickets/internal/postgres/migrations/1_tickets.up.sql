CREATE SCHEMA IF NOT EXISTS tickets;

-- The user directory: a read model of auth's users, fed by support.user.* events.
CREATE TABLE tickets.users (
    id          bigint      PRIMARY KEY,
    email       text        NOT NULL,
    role        text        NOT NULL CHECK (role IN ('user', 'staff', 'admin')),
    first_name  text,
    last_name   text,
    father_name text,
    active      boolean     NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE tickets.requests (
    id            bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- No foreign keys to tickets.users: the directory may lag behind auth.
    owner_id      bigint      NOT NULL,
    staff_id      bigint,
    title         text        CHECK (length(title) <= 200),
    text          text        NOT NULL CHECK (length(text) BETWEEN 1 AND 5000),
    status        text        NOT NULL DEFAULT 'new' CHECK (status IN ('new', 'in_progress', 'completed', 'closed')),
    priority      text        NOT NULL DEFAULT 'normal' CHECK (priority IN ('low', 'normal', 'high', 'urgent')),
    category      text        CHECK (length(category) <= 100),
    staff_comment text,
    version       integer     NOT NULL DEFAULT 1,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX requests_owner_idx ON tickets.requests (owner_id, created_at DESC, id DESC);
CREATE INDEX requests_staff_idx ON tickets.requests (staff_id, created_at DESC, id DESC);

-- The transactional outbox (see pkg/outbox).
CREATE TABLE tickets.outbox (
    seq        bigserial   PRIMARY KEY,
    event_id   uuid        NOT NULL UNIQUE,
    event      jsonb       NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

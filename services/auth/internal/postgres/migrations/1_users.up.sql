CREATE SCHEMA IF NOT EXISTS auth;

CREATE TABLE auth.users (
    id            bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    email         text        NOT NULL CHECK (length(email) <= 255),
    password_hash text        NOT NULL,
    role          text        NOT NULL CHECK (role IN ('user', 'staff', 'admin')),
    inn           text,
    phone         text,
    first_name    text,
    last_name     text,
    father_name   text,
    birth_date    date,
    active        boolean     NOT NULL DEFAULT true,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);

-- Emails are unique case-insensitively; they are also stored lower-cased.
CREATE UNIQUE INDEX users_email_key ON auth.users (lower(email));
CREATE INDEX users_role_id_idx ON auth.users (role, id);

CREATE TABLE auth.refresh_tokens (
    token_hash  bytea       PRIMARY KEY,
    user_id     bigint      NOT NULL REFERENCES auth.users (id) ON DELETE CASCADE,
    family_id   text        NOT NULL,
    expires_at  timestamptz NOT NULL,
    used_at     timestamptz,
    revoked_at  timestamptz,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX refresh_tokens_user_idx ON auth.refresh_tokens (user_id);
CREATE INDEX refresh_tokens_family_idx ON auth.refresh_tokens (family_id);

-- The transactional outbox (see pkg/outbox).
CREATE TABLE auth.outbox (
    seq        bigserial   PRIMARY KEY,
    event_id   uuid        NOT NULL UNIQUE,
    event      jsonb       NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

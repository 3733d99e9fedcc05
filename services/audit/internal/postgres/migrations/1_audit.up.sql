-- The audit log in PostgreSQL: what the MongoDB store keeps, as tables.
CREATE SCHEMA IF NOT EXISTS audit;

-- One row per event, keyed by the event id: a redelivered event never makes
-- a second row. The columns after data's envelope are derived when the event
-- is stored, so that every log query is an index range read.
CREATE TABLE audit.entries (
    event_id     text PRIMARY KEY,
    type         text NOT NULL,
    source       text NOT NULL,
    subject      text NOT NULL,
    time         timestamptz NOT NULL,
    actor_id     text,
    actor_role   text,
    trace_id     text,
    action       text,
    request_id   bigint,
    call         boolean NOT NULL DEFAULT false,
    method       text,
    route        text,
    status_code  integer,
    status_class text,
    process_time double precision,
    latency      double precision,
    weight       bigint NOT NULL DEFAULT 1,
    data         json NOT NULL, -- json, not jsonb: kept exactly as it came
    received_at  timestamptz NOT NULL
);

-- Every index ends in the logs' order (time, then event id, descending).
-- The time index carries what a summary reads, so summarising a stretch of
-- the log never leaves the index.
CREATE INDEX entries_time ON audit.entries (time DESC, event_id DESC)
    INCLUDE (call, status_class, action, latency, weight);
-- Each log by itself: the API log, the events log (everything else) and the
-- request-actions log, so that a page deep in one never reads the others.
CREATE INDEX entries_calls ON audit.entries (time DESC, event_id DESC) WHERE call;
CREATE INDEX entries_events ON audit.entries (time DESC, event_id DESC) WHERE NOT call;
CREATE INDEX entries_actions ON audit.entries (time DESC, event_id DESC) WHERE action IS NOT NULL;
CREATE INDEX entries_type ON audit.entries (type, time DESC, event_id DESC);
CREATE INDEX entries_subject ON audit.entries (subject, time DESC, event_id DESC);
CREATE INDEX entries_actor ON audit.entries (actor_id, time DESC, event_id DESC) WHERE actor_id IS NOT NULL;
CREATE INDEX entries_action ON audit.entries (action, time DESC, event_id DESC) WHERE action IS NOT NULL;
CREATE INDEX entries_request ON audit.entries (request_id, time DESC, event_id DESC) WHERE request_id IS NOT NULL;
CREATE INDEX entries_method ON audit.entries (method, time DESC, event_id DESC) WHERE call;
CREATE INDEX entries_status ON audit.entries (status_code, time DESC, event_id DESC) WHERE call;

-- An append-only log: vacuumed (and analysed) after every 1 % of new rows
-- rather than 20 %, so that the newest pages, which the queries read most,
-- are soon all-visible and read from the indexes alone, and the planner
-- knows the table's size.
ALTER TABLE audit.entries SET (
    autovacuum_vacuum_insert_scale_factor = 0.01,
    autovacuum_analyze_scale_factor = 0.01
);

-- The summary of each sealed minute and hour, and the generation of each
-- minute and hour that a late entry made out of date (see audit.Rollup).
-- A summary is its counts, the small maps by status class and by action,
-- and the latency histogram as two arrays: the rounded process times and
-- how many calls took each (read in binary, not parsed from text).
CREATE TABLE audit.rollups (
    span            integer NOT NULL, -- seconds: 60 or 3600
    start           timestamptz NOT NULL,
    gen             bigint NOT NULL DEFAULT 0,
    summarised      boolean NOT NULL DEFAULT false,
    sum_gen         bigint NOT NULL DEFAULT 0,
    total           bigint NOT NULL DEFAULT 0,
    calls           bigint NOT NULL DEFAULT 0,
    actions         bigint NOT NULL DEFAULT 0,
    by_status_class jsonb,
    by_action       jsonb,
    latency_s       double precision[],
    latency_n       bigint[],
    PRIMARY KEY (span, start)
);

CREATE TABLE audit.dead_letters (
    id          bigserial PRIMARY KEY,
    subject     text NOT NULL,
    reason      text NOT NULL,
    data        text NOT NULL,
    event_id    text,
    received_at timestamptz NOT NULL
);
CREATE INDEX dead_letters_received ON audit.dead_letters (received_at DESC);

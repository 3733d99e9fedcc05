-- SLA clocks. A ticket has two: first response and resolution. Each has a due time (creation time plus
-- the target of the ticket's priority in SLA_POLICY) and a state: none (no target: the ticket's priority
-- has none, or it was created before SLA clocks), pending (running), met (answered, or resolved, by the
-- due time) or breached (the due time passed unmet; final). The service's clock job claims the pending
-- clocks whose due time has passed (the partial indexes below find them), marks them breached and
-- publishes support.ticket.sla_breached.v1 in the same transaction: once per ticket and clock.
ALTER TABLE tickets.requests
    ADD COLUMN first_response_due_at timestamptz,
    ADD COLUMN resolution_due_at     timestamptz,
    ADD COLUMN first_response_sla    text NOT NULL DEFAULT 'none'
        CHECK (first_response_sla IN ('none', 'pending', 'met', 'breached')),
    ADD COLUMN resolution_sla        text NOT NULL DEFAULT 'none'
        CHECK (resolution_sla IN ('none', 'pending', 'met', 'breached'));

CREATE INDEX requests_first_response_due_idx ON tickets.requests (first_response_due_at)
    WHERE first_response_sla = 'pending';
CREATE INDEX requests_resolution_due_idx ON tickets.requests (resolution_due_at)
    WHERE resolution_sla = 'pending';
-- The staff lists' sla=breached, newest first.
CREATE INDEX requests_sla_breached_idx ON tickets.requests (created_at DESC, id DESC)
    WHERE first_response_sla = 'breached' OR resolution_sla = 'breached';

DROP INDEX tickets.requests_sla_breached_idx;
DROP INDEX tickets.requests_resolution_due_idx;
DROP INDEX tickets.requests_first_response_due_idx;
ALTER TABLE tickets.requests
    DROP COLUMN resolution_sla, DROP COLUMN first_response_sla,
    DROP COLUMN resolution_due_at, DROP COLUMN first_response_due_at;

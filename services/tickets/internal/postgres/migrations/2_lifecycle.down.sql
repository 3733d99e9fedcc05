DROP TABLE tickets.idempotency_keys;
DROP TABLE tickets.comments;
ALTER TABLE tickets.users DROP COLUMN phone, DROP COLUMN inn;
DROP INDEX tickets.requests_unassigned_idx;
DROP INDEX tickets.requests_status_idx;
DROP INDEX tickets.requests_created_idx;
ALTER TABLE tickets.requests DROP COLUMN resolved_at, DROP COLUMN first_response_at;

-- The staff's open queue (unassigned, usually with a status filter): an
-- index-only scan for both its page and its count at a million tickets.
CREATE INDEX requests_unassigned_status_idx ON tickets.requests (status, created_at DESC, id DESC) WHERE staff_id IS NULL;

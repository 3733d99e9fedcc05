-- Every published change of a user counts up its version, which the user's
-- events carry, so that a read model applies them in their order whatever
-- order they arrive in (several outbox relays may publish out of order).
ALTER TABLE auth.users ADD COLUMN version bigint NOT NULL DEFAULT 1;

-- A ticket's deletion leaves a tombstone, so that its creation arriving
-- after it does not bring the ticket back.
ALTER TABLE auth.ticket_refs ADD COLUMN deleted boolean NOT NULL DEFAULT false;

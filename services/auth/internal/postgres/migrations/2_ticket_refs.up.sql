-- Which user owns which ticket, from the tickets service's events, so that a
-- user with tickets is not deleted (the contract's 409).
CREATE TABLE auth.ticket_refs (
    ticket_id bigint PRIMARY KEY,
    owner_id  bigint NOT NULL
);
CREATE INDEX ticket_refs_owner_idx ON auth.ticket_refs (owner_id);

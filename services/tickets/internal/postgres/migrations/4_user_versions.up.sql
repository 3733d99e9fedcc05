-- The version of each directory user, from auth's user events: an event
-- older than what the directory holds is not applied. 0 is a user written
-- before events carried versions, which any event replaces.
ALTER TABLE tickets.users ADD COLUMN version bigint NOT NULL DEFAULT 0;

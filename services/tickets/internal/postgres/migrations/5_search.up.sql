-- Full-text search. Every ticket keeps three text-search vectors: its title (weight A) and text (B), its
-- public comments, and its internal notes (C). A user's search reads the first two, staff's and admins'
-- all three; a GIN index serves each. Triggers keep the vectors, so every writer (the service, a bulk
-- load) leaves them right, in the language tickets.search_settings names (SEARCH_LANGUAGE; the service
-- sets it at start and rebuilds the vectors when it changes).
CREATE TABLE tickets.search_settings (
    only_row boolean   PRIMARY KEY DEFAULT true CHECK (only_row),
    language regconfig NOT NULL,
    -- false from a change of language until every ticket's vectors are rebuilt in it
    rebuilt  boolean   NOT NULL DEFAULT true
);
INSERT INTO tickets.search_settings (language) VALUES ('simple');

CREATE FUNCTION tickets.search_language() RETURNS regconfig
    LANGUAGE sql STABLE AS $$ SELECT language FROM tickets.search_settings $$;

-- The vector of a ticket's title and text.
CREATE FUNCTION tickets.search_document(title text, body text) RETURNS tsvector
    LANGUAGE sql STABLE AS $$
    SELECT setweight(to_tsvector(tickets.search_language(), coalesce(title, '')), 'A')
        || setweight(to_tsvector(tickets.search_language(), body), 'B')
$$;

-- The vector of a ticket's comments, public or internal.
CREATE FUNCTION tickets.search_comments(ticket bigint, internal_notes boolean) RETURNS tsvector
    LANGUAGE sql STABLE AS $$
    SELECT coalesce(setweight(to_tsvector(tickets.search_language(), string_agg(body, ' ' ORDER BY id)), 'C'), '')
    FROM tickets.comments WHERE request_id = ticket AND internal = internal_notes
$$;

ALTER TABLE tickets.requests
    ADD COLUMN search_text     tsvector NOT NULL DEFAULT '',
    ADD COLUMN search_public   tsvector NOT NULL DEFAULT '',
    ADD COLUMN search_internal tsvector NOT NULL DEFAULT '';

CREATE FUNCTION tickets.requests_search() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.search_text := tickets.search_document(NEW.title, NEW.text);
    RETURN NEW;
END $$;
CREATE TRIGGER requests_search BEFORE INSERT OR UPDATE OF title, text ON tickets.requests
    FOR EACH ROW EXECUTE FUNCTION tickets.requests_search();

CREATE FUNCTION tickets.comments_search() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.internal THEN
        UPDATE tickets.requests SET search_internal = tickets.search_comments(NEW.request_id, true) WHERE id = NEW.request_id;
    ELSE
        UPDATE tickets.requests SET search_public = tickets.search_comments(NEW.request_id, false) WHERE id = NEW.request_id;
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER comments_search AFTER INSERT ON tickets.comments
    FOR EACH ROW EXECUTE FUNCTION tickets.comments_search();

UPDATE tickets.requests r SET
    search_text = tickets.search_document(r.title, r.text),
    search_public = tickets.search_comments(r.id, false),
    search_internal = tickets.search_comments(r.id, true);

CREATE INDEX requests_search_public_idx ON tickets.requests USING gin ((search_text || search_public));
CREATE INDEX requests_search_all_idx ON tickets.requests USING gin ((search_text || search_public || search_internal));

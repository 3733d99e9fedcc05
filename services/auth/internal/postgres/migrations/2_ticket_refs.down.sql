DROP TABLE auth.ticket_refs;

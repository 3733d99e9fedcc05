DROP TABLE tickets.outbox;
DROP TABLE tickets.requests;
DROP TABLE tickets.users;
DROP SCHEMA tickets;

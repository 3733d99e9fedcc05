DROP TABLE auth.outbox;
DROP TABLE auth.refresh_tokens;
DROP TABLE auth.users;
DROP SCHEMA auth;

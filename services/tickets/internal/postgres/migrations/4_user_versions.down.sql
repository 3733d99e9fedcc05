ALTER TABLE tickets.users DROP COLUMN version;

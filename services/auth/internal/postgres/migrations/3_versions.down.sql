DELETE FROM auth.ticket_refs WHERE deleted;
ALTER TABLE auth.ticket_refs DROP COLUMN deleted;
ALTER TABLE auth.users DROP COLUMN version;

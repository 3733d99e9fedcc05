-- Attempts older than WEBHOOK_KEEP_ATTEMPTS are deleted by their time.
CREATE INDEX attempts_created_idx ON webhooks.attempts (created_at);

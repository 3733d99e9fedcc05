DROP INDEX IF EXISTS webhooks.attempts_created_idx;

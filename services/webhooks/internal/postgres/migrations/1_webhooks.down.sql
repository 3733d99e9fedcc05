DROP TABLE webhooks.outbox;
DROP TABLE webhooks.attempts;
DROP TABLE webhooks.jobs;
DROP TABLE webhooks.endpoints;

-- A row its writer publishes straight after commit (runtime/outbox_direct.py): the relay's take leaves it to the
-- writer for a grace period, then takes it like any other (the writer crashed).
ALTER TABLE outbox ADD COLUMN direct boolean NOT NULL DEFAULT false;
-- Queuing a row direct asks whether an earlier row of its topic and key is still waiting (per-key order).
CREATE INDEX outbox_topic_key ON outbox (topic, key) WHERE key IS NOT NULL;

-- Web Push subscriptions (RFC 8030/8291): the push service URL is `url`, the browser's keys beside it.
ALTER TABLE endpoints ALTER COLUMN secret DROP NOT NULL;
ALTER TABLE endpoints ADD COLUMN p256dh text, ADD COLUMN auth text;
-- Secret rotation (Standard Webhooks): the previous secret also signs until previous_secret_until,
-- so a receiver can switch to the new secret at its own pace.
ALTER TABLE endpoints ADD COLUMN previous_secret text, ADD COLUMN previous_secret_until timestamptz;
ALTER TABLE endpoints ADD COLUMN disabled_reason text;
ALTER TABLE endpoints ADD CONSTRAINT endpoints_channel_keys CHECK (
    (channel = 'webhook' AND secret IS NOT NULL) OR (channel = 'webpush' AND p256dh IS NOT NULL AND auth IS NOT NULL));
CREATE INDEX endpoints_by_recipient ON endpoints (recipient_id) WHERE active;

-- A replay gives a dead delivery a fresh budget of attempts counted from here (the log keeps the old ones).
ALTER TABLE deliveries ADD COLUMN attempts_before_replay integer NOT NULL DEFAULT 0;
ALTER TABLE deliveries ADD COLUMN channel text NOT NULL DEFAULT 'webhook' CHECK (channel IN ('webhook', 'webpush'));
CREATE INDEX deliveries_by_recipient ON deliveries (recipient_id);

-- Deliveries that exhausted their attempts (or whose endpoint is gone): what, why, and whether an operator
-- replayed them. One row per death: a delivery replayed and dead again has two.
CREATE TABLE dead_letters (
    id           bigserial PRIMARY KEY,
    delivery_id  uuid NOT NULL REFERENCES deliveries,
    reason       text NOT NULL,
    attempts     integer NOT NULL,
    dead_at      timestamptz NOT NULL,
    replayed_at  timestamptz
);
CREATE INDEX dead_letters_open ON dead_letters (dead_at) WHERE replayed_at IS NULL;

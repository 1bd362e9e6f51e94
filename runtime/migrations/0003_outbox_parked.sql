-- Outbox rows Kafka refuses for good (a record over max.message.bytes, an invalid topic): the relay moves them
-- here with the reason instead of retrying them for ever, and keeps relaying the rest (runtime/outbox.py).
-- An operator decides about each (docs/operations.md, AtaOutboxParked): queue it again or record why not.
CREATE TABLE outbox_parked (
    id          bigint      PRIMARY KEY,
    message_id  uuid        NOT NULL,
    topic       text        NOT NULL,
    key         bytea,
    headers     jsonb       NOT NULL,
    payload     bytea       NOT NULL,
    created_at  timestamptz NOT NULL,
    parked_at   timestamptz NOT NULL DEFAULT now(),
    reason      text        NOT NULL
);

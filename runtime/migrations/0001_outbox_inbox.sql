-- Transactional outbox: rows written in the same transaction as the state change they announce.
CREATE TABLE outbox (
    id          bigserial PRIMARY KEY,
    message_id  uuid        NOT NULL UNIQUE,
    topic       text        NOT NULL,
    key         bytea,
    headers     jsonb       NOT NULL,
    payload     bytea       NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- Inbox: a message id is claimed in the same transaction as its effect, so a redelivery is a no-op.
CREATE TABLE inbox (
    consumer    text        NOT NULL,
    message_id  uuid        NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, message_id)
);

-- Where each holder or representative wants confirmations (webhook here; Web Push is a later issue).
CREATE TABLE endpoints (
    endpoint_id   uuid PRIMARY KEY,
    recipient_id  text NOT NULL,
    channel       text NOT NULL CHECK (channel IN ('webhook', 'webpush')),
    url           text NOT NULL,
    secret        text NOT NULL,
    active        boolean NOT NULL DEFAULT true,
    created_at    timestamptz NOT NULL DEFAULT now(),
    UNIQUE (recipient_id, channel, url)
);

-- One delivery per confirmation and endpoint; survives restarts; the worker claims due rows.
CREATE TABLE deliveries (
    delivery_id      uuid PRIMARY KEY,
    confirmation_id  uuid NOT NULL,
    endpoint_id      uuid NOT NULL REFERENCES endpoints,
    recipient_id     text NOT NULL,
    carnet_number    text NOT NULL,
    event_type       text NOT NULL,
    body             jsonb NOT NULL,
    status           text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'dead')),
    attempts         integer NOT NULL DEFAULT 0,
    next_attempt_at  timestamptz NOT NULL,
    requested_at     timestamptz NOT NULL,
    delivered_at     timestamptz,
    last_error       text,
    UNIQUE (confirmation_id, endpoint_id)
);
CREATE INDEX deliveries_due ON deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX deliveries_by_carnet ON deliveries (carnet_number);

-- The delivery log: every attempt, its answer and its duration.
CREATE TABLE delivery_attempts (
    delivery_id  uuid NOT NULL REFERENCES deliveries,
    attempt      integer NOT NULL,
    attempted_at timestamptz NOT NULL,
    status_code  integer,
    error        text,
    duration_ms  double precision NOT NULL,
    PRIMARY KEY (delivery_id, attempt)
);

-- One row per NGA request: a repeated request id gets the stored answer again (no second carnet).
CREATE TABLE requests (
    nga            text        NOT NULL,
    request_id     text        NOT NULL,
    outcome        text        NOT NULL CHECK (outcome IN ('issued', 'rejected')),
    carnet_number  text,
    response_type  text        NOT NULL,
    response       jsonb       NOT NULL,
    received_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (nga, request_id)
);

-- Carnet number allocation: one counter per country and year, incremented under a row lock,
-- safe with several issuer instances.
CREATE TABLE carnet_sequences (
    country   text    NOT NULL,
    year      integer NOT NULL,
    last_value integer NOT NULL,
    PRIMARY KEY (country, year)
);

-- What the issuer keeps of a carnet: no holder name, no goods descriptions (those travel encrypted).
CREATE TABLE carnets (
    carnet_number        text PRIMARY KEY,
    nga                  text NOT NULL,
    issuing_association  text NOT NULL,
    request_id           text NOT NULL,
    holder_id            text NOT NULL,
    issue_date           date NOT NULL,
    expiry_date          date NOT NULL,
    general_list_digest  text NOT NULL,
    item_count           integer NOT NULL,
    issued_at            timestamptz NOT NULL DEFAULT now()
);

-- Issue 4: the carnets the gateway has on file (from ata.issuance.events.v1), so a scan can match the
-- declared items, the general list's digest and the crossing's country against the carnet. No descriptions.
CREATE TABLE carnets_on_file (
    carnet_number        text PRIMARY KEY,
    home_country         text   NOT NULL,
    countries            text[] NOT NULL,
    issue_date           date   NOT NULL,
    expiry_date          date   NOT NULL,
    general_list_digest  text   NOT NULL,
    -- [{item_number, quantity, origin_country}]
    items                jsonb  NOT NULL
);

-- The declarations the core accepted (ata.declarations.v1), for the typed transaction-code fallback.
-- token_id arrives with TokenIssued (same declaration_id); declaration_tokens holds one that came first.
CREATE TABLE declarations_on_file (
    transaction_code  text PRIMARY KEY,
    declaration_id    uuid      NOT NULL UNIQUE,
    carnet_number     text      NOT NULL,
    kind              text      NOT NULL,
    country           text      NOT NULL,
    items             integer[] NOT NULL,
    sequence          integer   NOT NULL,
    token_id          uuid,
    token_expires_at  timestamptz
);

CREATE TABLE declaration_tokens (
    declaration_id  uuid PRIMARY KEY,
    token_id        uuid        NOT NULL,
    expires_at      timestamptz NOT NULL
);

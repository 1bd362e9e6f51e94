CREATE TABLE carnets (
    carnet_number        text PRIMARY KEY,
    home_country         text    NOT NULL,
    countries            text[]  NOT NULL,
    issue_date           date    NOT NULL,
    expiry_date          date    NOT NULL,
    holder_id            text    NOT NULL,
    representative_ids   text[]  NOT NULL DEFAULT '{}',
    general_list_digest  text    NOT NULL,
    active               boolean NOT NULL DEFAULT false,
    created_at           timestamptz NOT NULL DEFAULT now()
);

-- R11: where each item is; changed only by a committed crossing.
CREATE TABLE items (
    carnet_number   text    NOT NULL REFERENCES carnets,
    item_number     integer NOT NULL,
    quantity        integer NOT NULL,
    origin_country  text    NOT NULL,
    location        text    NOT NULL DEFAULT 'home'
                    CHECK (location IN ('home', 'exported', 'abroad', 'in_transit', 'accounted')),
    country         text,
    final_date      date,
    PRIMARY KEY (carnet_number, item_number)
);

CREATE TABLE declarations (
    declaration_id    uuid PRIMARY KEY,
    carnet_number     text    NOT NULL REFERENCES carnets,
    kind              text    NOT NULL,
    country           text    NOT NULL,
    items             integer[] NOT NULL,
    sequence          integer NOT NULL,
    transaction_code  text    NOT NULL UNIQUE,
    token_id          uuid    NOT NULL UNIQUE,
    token             text    NOT NULL,
    token_expires_at  timestamptz NOT NULL,
    declared_by       text    NOT NULL,
    status            text    NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'committed', 'refused')),
    created_at        timestamptz NOT NULL DEFAULT now(),
    UNIQUE (carnet_number, kind, sequence)
);

-- The per-carnet transaction history.
CREATE TABLE transactions (
    transaction_id  uuid PRIMARY KEY,
    carnet_number   text    NOT NULL REFERENCES carnets,
    declaration_id  uuid    NOT NULL UNIQUE REFERENCES declarations,
    commit_id       uuid    NOT NULL UNIQUE,
    kind            text    NOT NULL,
    country         text    NOT NULL,
    items           integer[] NOT NULL,
    sequence        integer NOT NULL,
    decision        text    NOT NULL CHECK (decision IN ('committed', 'refused')),
    reasons         jsonb   NOT NULL DEFAULT '[]',
    office_id       text    NOT NULL,
    officer_id      text    NOT NULL,
    decided_at      timestamptz NOT NULL,
    recorded_at     timestamptz NOT NULL
);
CREATE INDEX transactions_by_carnet ON transactions (carnet_number, recorded_at);

CREATE TABLE signing_keys (
    kid         text PRIMARY KEY,
    jwk         jsonb       NOT NULL,
    not_before  timestamptz NOT NULL,
    not_after   timestamptz
);

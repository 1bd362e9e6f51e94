-- Public keys the core signs tokens with, learned from the trust topic: verification is offline.
CREATE TABLE signing_keys (
    kid         text PRIMARY KEY,
    jwk         jsonb       NOT NULL,
    not_before  timestamptz NOT NULL,
    not_after   timestamptz,
    received_at timestamptz NOT NULL DEFAULT now()
);

-- R18: administrations are set up as regions, offices and individual officer accounts.
CREATE TABLE offices (
    office_id  text PRIMARY KEY,
    country    text NOT NULL,
    region     text NOT NULL,
    name       text NOT NULL,
    timezone   text NOT NULL
);

CREATE TABLE officers (
    officer_id  text PRIMARY KEY,
    office_id   text NOT NULL REFERENCES offices,
    active      boolean NOT NULL DEFAULT true,
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- The commit log: one decision per token, so a replayed QR is refused here.
CREATE TABLE commits (
    commit_id         uuid PRIMARY KEY,
    token_id          uuid NOT NULL UNIQUE,
    transaction_code  text NOT NULL UNIQUE,
    carnet_number     text NOT NULL,
    kind              text NOT NULL,
    country           text NOT NULL,
    items             integer[] NOT NULL,
    office_id         text NOT NULL REFERENCES offices,
    officer_id        text NOT NULL REFERENCES officers,
    decision          text NOT NULL CHECK (decision IN ('committed', 'refused')),
    final_date        date,
    refusal_reason    text,
    decided_at        timestamptz NOT NULL
);
CREATE INDEX commits_by_carnet ON commits (carnet_number);

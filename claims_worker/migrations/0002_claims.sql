-- The claims procedure (R19-R27): claims, what customs and the associations told us, and the
-- deadlines a scheduler acts on exactly once.

-- R19: seizures extend the final date (not for a personal lawsuit); end_date NULL: still seized.
CREATE TABLE seizures (
    seizure_id        text PRIMARY KEY,
    carnet_number     text    NOT NULL,
    country           text    NOT NULL,
    items             integer[] NOT NULL,
    personal_lawsuit  boolean NOT NULL,
    office_timezone   text    NOT NULL,
    start_date        date    NOT NULL,
    end_date          date,
    CHECK (end_date IS NULL OR end_date >= start_date)
);
CREATE INDEX seizures_by_carnet ON seizures (carnet_number);

-- R22, R25: duties assessed at importation per item and currency; a newer assessment replaces it.
CREATE TABLE duty_assessments (
    carnet_number  text    NOT NULL,
    item_number    integer NOT NULL,
    currency       text    NOT NULL,
    duties         numeric(18, 2) NOT NULL CHECK (duties >= 0),
    claimed        numeric(18, 2) NOT NULL CHECK (claimed >= 0),
    assessed_at    timestamptz NOT NULL,
    PRIMARY KEY (carnet_number, item_number, currency)
);

-- Whom to remind: the recipients of the carnet's latest confirmation (holder, then representatives).
CREATE TABLE recipients (
    carnet_number  text PRIMARY KEY,
    recipient_ids  text[] NOT NULL,
    updated_at     timestamptz NOT NULL
);

CREATE TABLE claims (
    claim_id           uuid PRIMARY KEY,
    carnet_number      text    NOT NULL,
    country            text    NOT NULL,
    items              integer[] NOT NULL,
    office_timezone    text    NOT NULL,
    carnet_expiry      date    NOT NULL,
    reexport_deadline  date    NOT NULL,
    state              text    NOT NULL,
    notice_date        date,
    evidence_deadline  date,
    memo_date          date,
    payment_deadline   date,
    payment_date       date,
    refund_deadline    date,
    memo_amounts       jsonb   NOT NULL DEFAULT '{}',
    paid               jsonb   NOT NULL DEFAULT '{}',
    refund_requested   jsonb   NOT NULL DEFAULT '{}',
    opened_at          timestamptz NOT NULL,
    updated_at         timestamptz NOT NULL
);
CREATE INDEX claims_by_carnet ON claims (carnet_number);
CREATE INDEX claims_by_state ON claims (state);

-- Durable deadlines. A scheduler takes due pending rows FOR UPDATE SKIP LOCKED in due order, acts and
-- marks them acted in the same transaction as the outbox rows it writes: each acted on exactly once.
CREATE TABLE deadlines (
    deadline_id      bigserial PRIMARY KEY,
    carnet_number    text    NOT NULL,
    dedupe_key       text    NOT NULL,
    kind             text    NOT NULL CHECK (kind IN ('reminder', 'overdue', 'evidence_window', 'payment', 'refund_window')),
    due_at           timestamptz NOT NULL,
    claim_id         uuid REFERENCES claims,
    country          text,
    items            integer[],
    office_timezone  text    NOT NULL,
    carnet_expiry    date,
    last_day         date    NOT NULL,
    days_before      integer,
    state            text    NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'acted', 'cancelled', 'failed')),
    outcome          text,
    attempts         integer NOT NULL DEFAULT 0,
    retry_at         timestamptz,
    last_error       text,
    acted_at         timestamptz,
    acted_by         text,
    created_at       timestamptz NOT NULL,
    UNIQUE (carnet_number, dedupe_key)
);
CREATE INDEX deadlines_due ON deadlines (due_at, deadline_id) WHERE state = 'pending';
CREATE INDEX deadlines_by_claim ON deadlines (claim_id) WHERE state = 'pending';

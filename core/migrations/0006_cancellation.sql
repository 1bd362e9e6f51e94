-- Issue 4 item 8. A refused declaration leaves its voucher unused (the next declaration of that
-- kind takes the same number again); a committed one keeps it, even once cancelled (R8).
ALTER TABLE declarations DROP CONSTRAINT declarations_status_check;
ALTER TABLE declarations ADD CONSTRAINT declarations_status_check
    CHECK (status IN ('pending', 'committed', 'refused', 'cancelled'));
ALTER TABLE declarations DROP CONSTRAINT declarations_carnet_number_kind_sequence_key;
CREATE UNIQUE INDEX declarations_voucher ON declarations (carnet_number, kind, sequence) WHERE status <> 'refused';

-- What cancelling a committed crossing needs: the holder's consent code, and the items as they
-- were before and after it, so it is undone exactly and only while nothing moved them on.
ALTER TABLE transactions
    ADD COLUMN cancellation_code   text,
    ADD COLUMN items_before        jsonb,
    ADD COLUMN items_after         jsonb,
    ADD COLUMN active_before       boolean,
    ADD COLUMN cancellation_id     uuid UNIQUE,
    ADD COLUMN cancelled_at        timestamptz,
    ADD COLUMN cancelled_by        text,
    ADD COLUMN cancellation_reason text;

-- Every cancellation asked for, applied or refused: a request is decided once.
CREATE TABLE cancellation_requests (
    cancellation_id  uuid PRIMARY KEY,
    carnet_number    text        NOT NULL,
    transaction_code text        NOT NULL,
    officer_id       text        NOT NULL,
    outcome          text        NOT NULL CHECK (outcome IN ('cancelled', 'refused')),
    reasons          jsonb       NOT NULL DEFAULT '[]',
    decided_at       timestamptz NOT NULL
);
CREATE INDEX cancellation_requests_by_code ON cancellation_requests (transaction_code);

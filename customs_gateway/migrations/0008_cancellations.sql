-- Issue 4 item 8: cancellations of committed transactions, asked by an officer with the holder's
-- cancellation code (never stored here) and decided by the core. At most one cancellation of a
-- transaction is pending or done; after a refusal (a mistyped code) the officer may ask again.
CREATE TABLE cancellations (
    cancellation_id   uuid PRIMARY KEY,
    commit_id         uuid        NOT NULL REFERENCES commits,
    transaction_code  text        NOT NULL,
    carnet_number     text        NOT NULL,
    office_id         text        NOT NULL REFERENCES offices,
    officer_id        text        NOT NULL REFERENCES officers,
    reason            text        NOT NULL,
    posted_at         timestamptz NOT NULL,
    status            text        NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'cancelled', 'refused')),
    reasons           jsonb       NOT NULL DEFAULT '[]',
    decided_at        timestamptz
);
CREATE UNIQUE INDEX cancellations_one_live ON cancellations (transaction_code) WHERE status <> 'refused';

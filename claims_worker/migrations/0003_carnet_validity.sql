-- R24: a discrepancy found after re-exportation is claimed within one year from the day after the
-- last day of validity; the goods are no longer watched then, so each carnet's expiry is kept here
-- (from every recorded transaction, and a successor's from the ledger's location changes).
CREATE TABLE carnet_validity (
    carnet_number  text PRIMARY KEY,
    carnet_expiry  date NOT NULL,
    updated_at     timestamptz NOT NULL
);

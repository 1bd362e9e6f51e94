-- Duplicates (R5) and replacements (R6) wait for the core's decision: 'pending', then 'applied' or
-- 'refused'. A decision finds its request through the successor's carnet number.
ALTER TABLE requests DROP CONSTRAINT requests_outcome_check;
ALTER TABLE requests ADD CONSTRAINT requests_outcome_check
    CHECK (outcome IN ('issued', 'rejected', 'pending', 'applied', 'refused'));
CREATE UNIQUE INDEX requests_by_carnet_number ON requests (carnet_number) WHERE carnet_number IS NOT NULL;

-- What kind of carnet a number went to, what it succeeds, and whether the ledger took it.
ALTER TABLE carnets
    ADD COLUMN kind text NOT NULL DEFAULT 'issued' CHECK (kind IN ('issued', 'duplicate', 'replacement')),
    ADD COLUMN original_number text,
    ADD COLUMN status text NOT NULL DEFAULT 'issued' CHECK (status IN ('issued', 'pending', 'refused'));

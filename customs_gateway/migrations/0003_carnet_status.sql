-- Carnets voided by a duplicate (R5) or closed (R7): their open tokens are refused offline.
CREATE TABLE carnet_status (
    carnet_number  text PRIMARY KEY,
    status         text NOT NULL CHECK (status IN ('active', 'voided', 'closed')),
    rule           text NOT NULL,
    successor      text,
    reason         text NOT NULL,
    changed_at     timestamptz NOT NULL
);

-- Key rotation: a key stops signing at `not_after` and leaves the trust list at `retire_at`,
-- once every token it signed has expired.
ALTER TABLE signing_keys ADD COLUMN retire_at timestamptz;

-- Every trust list the core signed, newest last; gateways keep the highest sequence.
CREATE TABLE trust_lists (
    sequence    integer PRIMARY KEY,
    issued_at   timestamptz NOT NULL,
    kids        text[] NOT NULL
);

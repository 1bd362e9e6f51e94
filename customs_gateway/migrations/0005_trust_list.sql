-- The trust list the gateway holds: only keys from the newest list the anchor signed are trusted.
ALTER TABLE signing_keys ADD COLUMN retire_at timestamptz;

CREATE TABLE trust_list_state (
    singleton   boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    sequence    integer NOT NULL,
    issued_at   timestamptz NOT NULL,
    anchor_kid  text NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now()
);

-- The holder's wallet registers the public half of its X25519 key pair (the private half never leaves the
-- device): NGAs seal carnet documents for it, and a holder's wallet re-seals the data key for a representative's.
CREATE TABLE wallet_keys (
    party_id      text PRIMARY KEY,
    public_key    text NOT NULL,
    registered_at timestamptz NOT NULL
);

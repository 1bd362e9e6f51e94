-- Failed officer logins throttled in the database, shared by every gateway instance, instead of an
-- account lockout any stranger could trigger. One row per key: (officer, '') counts an account's failures
-- from every address, ('', address) an address's failures on every account, (officer, address) the pair.
-- A key past its free failures is blocked until blocked_until, the wait doubling with each failure.
ALTER TABLE officers DROP COLUMN failed_logins, DROP COLUMN locked_until;

CREATE TABLE login_failures (
    officer_id       text        NOT NULL,
    address          text        NOT NULL,
    failures         integer     NOT NULL,
    last_failure_at  timestamptz NOT NULL,
    blocked_until    timestamptz,
    PRIMARY KEY (officer_id, address)
);
CREATE INDEX login_failures_by_age ON login_failures (last_failure_at);

-- Addresses an officer logged in from: exempt from the account-wide throttle (a distributed guesser slows
-- the account down for strangers' addresses only).
CREATE TABLE officer_addresses (
    officer_id       text        NOT NULL REFERENCES officers ON DELETE CASCADE,
    address          text        NOT NULL,
    last_success_at  timestamptz NOT NULL,
    PRIMARY KEY (officer_id, address)
);
CREATE INDEX officer_addresses_by_age ON officer_addresses (last_success_at);

-- Typed transaction-code lookups per officer (a sliding window), shared by every gateway instance.
CREATE TABLE code_lookups (
    officer_id  text        NOT NULL,
    at          timestamptz NOT NULL
);
CREATE INDEX code_lookups_by_officer ON code_lookups (officer_id, at);
CREATE INDEX code_lookups_by_age ON code_lookups (at);

-- Expired sessions are purged in bounded batches.
CREATE INDEX sessions_by_expiry ON sessions (expires_at);

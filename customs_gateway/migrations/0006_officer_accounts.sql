-- R18: individual officer accounts with a password and a TOTP second factor (RFC 6238), sessions,
-- and an audit log of every officer action. Accounts created before this migration have no
-- credentials and cannot log in until an administrator recreates them.
ALTER TABLE officers
    ADD COLUMN password_hash  text,
    ADD COLUMN totp_secret    text,
    ADD COLUMN last_totp_step bigint,
    ADD COLUMN failed_logins  integer NOT NULL DEFAULT 0,
    ADD COLUMN locked_until   timestamptz;

-- Opaque bearer tokens, stored as their SHA-256 only: a database leak gives no usable session.
CREATE TABLE sessions (
    token_hash  bytea PRIMARY KEY,
    officer_id  text        NOT NULL REFERENCES officers,
    created_at  timestamptz NOT NULL,
    expires_at  timestamptz NOT NULL
);
CREATE INDEX sessions_by_officer ON sessions (officer_id);

CREATE TABLE audit_log (
    id             bigserial PRIMARY KEY,
    at             timestamptz NOT NULL,
    officer_id     text,
    action         text NOT NULL,
    office_id      text,
    carnet_number  text,
    detail         jsonb NOT NULL DEFAULT '{}',
    outcome        text NOT NULL
);
CREATE INDEX audit_by_officer ON audit_log (officer_id, id);
CREATE INDEX audit_by_carnet ON audit_log (carnet_number, id);

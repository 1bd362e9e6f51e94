-- Issue 3, item 7: a per-carnet hash chain of life-cycle events (core/history.py, core/history_store.py).
-- hash = SHA-256(prev_hash || canonical(entry)), where the entry wraps `record` with the carnet number,
-- position, event and recorded_at; `record` holds the JSON-native form that was hashed (jsonb may
-- reorder its keys, which canonical() undoes). Appended under the carnet's row lock only.
CREATE TABLE history (
    carnet_number  text        NOT NULL REFERENCES carnets,
    position       integer     NOT NULL CHECK (position >= 1),
    event          text        NOT NULL CHECK (event <> ''),
    record         jsonb       NOT NULL CHECK (jsonb_typeof(record) = 'object'),
    prev_hash      bytea       NOT NULL CHECK (octet_length(prev_hash) = 32),
    hash           bytea       NOT NULL CHECK (octet_length(hash) = 32),
    recorded_at    timestamptz NOT NULL,
    PRIMARY KEY (carnet_number, position)
);

-- Append-only for the application. The chain, not this trigger, is what proves integrity: an
-- owner can disable the trigger, and verification still finds the changed row.
CREATE FUNCTION history_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'history is append-only (% refused)', TG_OP USING ERRCODE = 'insufficient_privilege';
END
$$;

CREATE TRIGGER history_append_only BEFORE UPDATE OR DELETE ON history
    FOR EACH ROW EXECUTE FUNCTION history_append_only();
CREATE TRIGGER history_no_truncate BEFORE TRUNCATE ON history
    FOR EACH STATEMENT EXECUTE FUNCTION history_append_only();

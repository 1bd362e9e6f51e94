-- Issue 5 item 5: the carnet document sealed for the holder's wallet (and each representative's),
-- kept as the NGA sent it: ciphertext and sealed keys only, never the plain document. The wallet
-- needs the issuance request id and NGA to open it (they are bound into the AES-GCM additional data).
ALTER TABLE carnets
    ADD COLUMN document   jsonb,
    ADD COLUMN request_id text;

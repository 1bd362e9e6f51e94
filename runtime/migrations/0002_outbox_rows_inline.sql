-- Outbox rows stay whole in their heap page up to the largest tuple a page holds (toast_tuple_target,
-- 8160 bytes) instead of the default ~2 KB: an issued carnet's ledger event (~2.3 KB, the sealed
-- document inside) was compressed (in vain: the ciphertext does not compress) and moved out of line
-- into two TOAST chunks, then read back and deleted within a second by the relay. Under bulk
-- issuance that was most of the issuer's PostgreSQL time (bench/README.md, round 3). Larger rows
-- (a document of up to 900,000 characters) are still stored out of line as before.
ALTER TABLE outbox SET (toast_tuple_target = 8160);

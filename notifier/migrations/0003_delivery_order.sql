-- Per-carnet order: a carnet's deliveries to one endpoint go one at a time, in the order the notifier took them
-- from the carnet's partition (the order the ledger recorded them). `seq` is that order; only the earliest
-- pending delivery of each (endpoint, carnet) lane may be attempted, so a failing one holds back the later ones
-- until it is delivered or dead.
ALTER TABLE deliveries ADD COLUMN seq bigint GENERATED ALWAYS AS IDENTITY;
CREATE INDEX deliveries_lane ON deliveries (endpoint_id, carnet_number, seq) WHERE status = 'pending';

-- Items that left home and are not back: what the claims process will chase (R19, R20).
CREATE TABLE watched_items (
    carnet_number        text    NOT NULL,
    item_number          integer NOT NULL,
    location             text    NOT NULL,
    country              text,
    final_date           date,
    carnet_expiry        date    NOT NULL,
    notice_limit         date    NOT NULL,
    office_timezone      text    NOT NULL,
    last_transaction_id  uuid    NOT NULL,
    updated_at           timestamptz NOT NULL,
    PRIMARY KEY (carnet_number, item_number)
);
CREATE INDEX watched_items_by_final_date ON watched_items (final_date);

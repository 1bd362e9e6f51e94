-- R6: items a replacement carnet took over; the original's tokens for them stop verifying offline.
CREATE TABLE transferred_items (
    carnet_number  text        NOT NULL,
    item_number    integer     NOT NULL,
    successor      text        NOT NULL,
    changed_at     timestamptz NOT NULL,
    PRIMARY KEY (carnet_number, item_number)
);

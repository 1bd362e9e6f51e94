-- R5/R6/R7: carnets are voided by a duplicate, hand goods to a replacement, and close.
ALTER TABLE carnets
    ADD COLUMN status text NOT NULL DEFAULT 'valid' CHECK (status IN ('valid', 'voided', 'closed')),
    ADD COLUMN successor text,
    ADD COLUMN predecessor text,
    ADD COLUMN closed_at timestamptz,
    ADD COLUMN closing_reason text;

-- R8: which exportation / entry each item came with, so closing declarations can name it;
-- R17 and R6: accounted-for and transferred items, with the receipt or successor in `note`.
ALTER TABLE items DROP CONSTRAINT items_location_check;
ALTER TABLE items
    ADD CONSTRAINT items_location_check
        CHECK (location IN ('home', 'exported', 'abroad', 'in_transit', 'accounted', 'transferred')),
    ADD COLUMN exported_by integer,
    ADD COLUMN entered_by integer,
    ADD COLUMN note text;

-- R8 and R9: the declaration this one closes, and the intended use of an importation.
ALTER TABLE declarations
    ADD COLUMN closes integer,
    ADD COLUMN intended_use text;

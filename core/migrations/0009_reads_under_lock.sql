-- What a carnet's row lock guards (its items, its history head, the voucher numbers in use), read by a
-- statement that takes that lock itself. The statement's own subqueries cannot read it: in READ COMMITTED
-- they see the statement's snapshot, taken before the statement waited for the lock, so they miss what the
-- previous holder committed (stale items, a stale history head). A VOLATILE function takes a snapshot of
-- its own for its query, when it runs: called on a row the statement has already locked (a MATERIALIZED
-- CTE ending in FOR UPDATE, see core/repository.py), it reads what a statement sent after the lock would.
-- VOLATILE also keeps the planner from inlining them into the caller (and its snapshot).

CREATE FUNCTION items_now(carnet text) RETURNS SETOF items
    LANGUAGE sql VOLATILE AS $$
    SELECT * FROM items WHERE carnet_number = carnet ORDER BY item_number
$$;

CREATE FUNCTION history_head_now(carnet text) RETURNS TABLE (head_position integer, head_hash bytea)
    LANGUAGE sql VOLATILE AS $$
    SELECT position, hash FROM history WHERE carnet_number = carnet ORDER BY position DESC LIMIT 1
$$;

-- R8: numbering continues across a duplicate or replacement (the chain of predecessors); a refused
-- declaration leaves its voucher unused, so the next one takes its number again.
CREATE FUNCTION sequences_now(carnet text, voucher_kind text) RETURNS SETOF integer
    LANGUAGE sql VOLATILE AS $$
    WITH RECURSIVE chain(n) AS (
        SELECT carnet
        UNION
        SELECT c.predecessor FROM carnets c JOIN chain ON c.carnet_number = chain.n WHERE c.predecessor IS NOT NULL
    )
    SELECT sequence FROM declarations
    WHERE carnet_number IN (SELECT n FROM chain) AND kind = voucher_kind AND status <> 'refused'
$$;

"""The outbox's SQL, all of it: queuing rows (`queue_cte`, `NOTIFY_QUEUED`) and the relay's statements."""

from __future__ import annotations

#: The next batch, taken: locked (SKIP LOCKED: another relay's rows are passed over) and deleted in the same
#: statement, inside the flush's transaction, so a failed publish or a crash rolls the delete back and the rows
#: stay (at-least-once); a flush is BEGIN, this, COMMIT. A row is `held` (left in place) when an earlier row
#: of its (topic, key) exists that is not in this batch, i.e. another relay holds it (or it committed after
#: this batch's rows). Every row below this batch's last id is this relay's or locked by another, so the
#: look-up scans one batch's id range, not the backlog. One row comes back even when nothing was taken (its
#: id NULL): `held` counts the rows held back. Unordered: the relay sorts the ids (sorting the rows with
#: their payloads in PostgreSQL took longer than the whole look-up).
#: $2: the ids of the rows this relay published direct since its last take (runtime/outbox_direct.py), deleted
#: here; $3: the seconds a direct row is left to its writer before a take publishes it instead.
TAKE_BATCH = (
    "WITH done AS (DELETE FROM outbox WHERE id = ANY($2::bigint[])),"
    " mine AS MATERIALIZED ("
    " SELECT id, topic, key FROM outbox WHERE id <> ALL($2::bigint[])"
    " AND (NOT direct OR created_at < now() - make_interval(secs => $3))"
    " ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED),"
    " others AS ("
    " SELECT o.topic, o.key, min(o.id) AS first FROM outbox o"
    " WHERE o.id < (SELECT max(id) FROM mine) AND o.key IS NOT NULL AND o.id NOT IN (SELECT id FROM mine)"
    " AND o.id <> ALL($2::bigint[])"
    " GROUP BY o.topic, o.key),"
    " marked AS MATERIALIZED ("
    " SELECT m.id, coalesce(h.first < m.id, false) AS held FROM mine m"
    " LEFT JOIN others h ON h.topic = m.topic AND h.key = m.key),"
    " gone AS (DELETE FROM outbox o USING marked k WHERE o.id = k.id AND NOT k.held"
    " RETURNING o.id, o.message_id, o.topic, o.key, o.headers, o.payload, o.created_at) "
    "SELECT g.id, g.message_id, g.topic, g.key, g.headers, g.payload, g.created_at,"
    " extract(epoch FROM clock_timestamp() - g.created_at) AS age, h.n AS held "
    "FROM (SELECT count(*) FILTER (WHERE held) AS n FROM marked) h LEFT JOIN gone g ON true"
)
#: Rows Kafka refused for good, already taken from the outbox by TAKE_BATCH, kept in outbox_parked with the reason.
PARK = (
    "INSERT INTO outbox_parked (id, message_id, topic, key, headers, payload, created_at, reason) "
    "SELECT i, m, t, k, h::jsonb, p, c, r FROM unnest($1::bigint[], $2::uuid[], $3::text[], $4::bytea[],"
    " $5::text[], $6::bytea[], $7::timestamptz[], $8::text[]) AS u(i, m, t, k, h, p, c, r)"
)
MEASURE = (
    "SELECT count(*) AS n, extract(epoch FROM now() - min(created_at)) AS age,"
    " (SELECT count(*) FROM outbox_parked) AS parked FROM outbox"
)

#: Ends a statement that has `queue_cte` among its CTEs: the relay's wake-up, sent at commit if rows were queued
#: (runtime/outbox_direct.py reads the payload): a leading '+' when some row is not direct, then the direct rows'
#: `id:message_id`, in id order.
NOTIFY_QUEUED = (
    "SELECT pg_notify('outbox_' || current_schema(), CASE WHEN bool_and(direct) THEN '' ELSE '+' END"
    " || coalesce(string_agg(CASE WHEN direct THEN id || ':' || message_id END, ',' ORDER BY id), ''))"
    " FROM queued HAVING count(*) > 0"
)


def queue_cte(first: int) -> str:
    """The outbox insert as a CTE named `queued`, its six arrays in parameters $first..$first+5 (`queue_args`):
    for a repository statement that writes its own rows and queues messages in the same round trip (a single
    statement is atomic, so it needs no BEGIN and COMMIT of its own). A row asked to be direct is direct only
    when no earlier row of its topic and key is still in the outbox (per-key order: runtime/outbox_direct.py)."""
    a, b, c, d, e, f = (f"${first + i}" for i in range(6))
    return (
        "queued AS (INSERT INTO outbox (message_id, topic, key, headers, payload, direct) "
        "SELECT m, t, k, h::jsonb, p, d AND (k IS NULL OR NOT EXISTS"
        " (SELECT 1 FROM outbox o WHERE o.topic = u.t AND o.key = u.k)) "
        f"FROM unnest({a}::uuid[], {b}::text[], {c}::bytea[], {d}::text[], {e}::bytea[], {f}::bool[])"
        " WITH ORDINALITY AS u(m, t, k, h, p, d, n) ORDER BY n RETURNING id, message_id, direct)"
    )

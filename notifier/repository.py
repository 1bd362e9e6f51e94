"""Raw SQL over asyncpg for the notifier's own schema."""

from __future__ import annotations

from datetime import datetime, timedelta
from uuid import UUID

import asyncpg

from runtime.outbox import NOTIFY_QUEUED, Queued, queue_args, queue_cte

WAKE_CHANNEL = "notifier_deliveries"


async def add_endpoint(
    conn: asyncpg.Connection,
    endpoint_id: UUID,
    recipient_id: str,
    url: str,
    secret: str | None,
    generated: str,
    overlap_until: datetime,
) -> asyncpg.Record:
    """Registering a URL again re-activates it; a different secret given again rotates: the old one keeps
    signing beside the new one until `overlap_until` (Standard Webhooks rotation)."""
    return await conn.fetchrow(
        "INSERT INTO endpoints (endpoint_id, recipient_id, channel, url, secret) VALUES ($1, $2, 'webhook', $3, COALESCE($4, $5))"
        " ON CONFLICT (recipient_id, channel, url) DO UPDATE SET active = true, disabled_reason = NULL,"
        "  secret = COALESCE($4, endpoints.secret),"
        "  previous_secret = CASE WHEN $4 IS NOT NULL AND $4 <> endpoints.secret THEN endpoints.secret"
        "   ELSE endpoints.previous_secret END,"
        "  previous_secret_until = CASE WHEN $4 IS NOT NULL AND $4 <> endpoints.secret THEN $6"
        "   ELSE endpoints.previous_secret_until END"
        " RETURNING endpoint_id, secret, previous_secret_until",
        endpoint_id,
        recipient_id,
        url,
        secret,
        generated,
        overlap_until,
    )


async def active_endpoint_count(conn: asyncpg.Connection, recipient_id: str, channel: str, url: str) -> int:
    """Inside the caller's transaction: one recipient's registrations in turn (a transaction-scoped advisory lock,
    so two at once cannot both pass the cap), then its active endpoints other than (channel, url)."""
    await conn.execute("SELECT pg_advisory_xact_lock(hashtextextended('notifier.endpoints:' || $1, 0))", recipient_id)
    return await conn.fetchval(
        "SELECT count(*) FROM endpoints WHERE recipient_id = $1 AND active AND NOT (channel = $2 AND url = $3)",
        recipient_id,
        channel,
        url,
    )


async def rotate_secret(
    conn: asyncpg.Connection, endpoint_id: UUID, recipient_id: str, secret: str, overlap_until: datetime
) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "UPDATE endpoints SET previous_secret = secret, previous_secret_until = $4, secret = $3"
        " WHERE endpoint_id = $1 AND recipient_id = $2 AND channel = 'webhook' AND active"
        " RETURNING endpoint_id, secret, previous_secret_until",
        endpoint_id,
        recipient_id,
        secret,
        overlap_until,
    )


async def add_subscription(
    conn: asyncpg.Connection, endpoint_id: UUID, recipient_id: str, url: str, p256dh: str, auth: str
) -> asyncpg.Record:
    """A browser subscribing again with the same push endpoint replaces its keys and re-activates it."""
    return await conn.fetchrow(
        "INSERT INTO endpoints (endpoint_id, recipient_id, channel, url, p256dh, auth) VALUES ($1, $2, 'webpush', $3, $4, $5)"
        " ON CONFLICT (recipient_id, channel, url) DO UPDATE SET active = true, disabled_reason = NULL,"
        "  p256dh = $4, auth = $5 RETURNING endpoint_id",
        endpoint_id,
        recipient_id,
        url,
        p256dh,
        auth,
    )


async def remove_endpoint(conn: asyncpg.Connection, endpoint_id: UUID, recipient_id: str) -> bool:
    return (
        await conn.execute(
            "UPDATE endpoints SET active = false, disabled_reason = 'removed by the recipient'"
            " WHERE endpoint_id = $1 AND recipient_id = $2 AND active",
            endpoint_id,
            recipient_id,
        )
    ) != "UPDATE 0"


async def endpoints_of(conn: asyncpg.Connection, recipient_id: str) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT endpoint_id, channel, url, active, disabled_reason, previous_secret_until, created_at FROM endpoints"
        " WHERE recipient_id = $1 ORDER BY created_at, endpoint_id",
        recipient_id,
    )


#: What a push needs of its endpoint, beside the delivery's own columns (claim_due and queue_deliveries).
_PUSH = "e.url, e.secret, e.previous_secret, e.previous_secret_until, e.p256dh, e.auth, e.active AS endpoint_active"


async def queue_deliveries(
    conn: asyncpg.Connection,
    *,
    recipient_ids: list[str],
    confirmation_id: UUID,
    carnet_number: str,
    event_type: str,
    body: str,
    now: datetime,
    requested_at: datetime,
    lease_until: datetime | None,
) -> list[asyncpg.Record]:
    """One delivery per active endpoint of the recipients, in one statement; one row per endpoint found, with
    `delivery_id` NULL where the confirmation already had its delivery there (none: no endpoint at all).

    With `lease_until`, a delivery that heads its lane (no pending delivery of its endpoint and carnet, the
    head claim_due would take) is stored as claim_due leaves a row it took: attempts 1, next attempt at the
    lease's end; it comes back with `handed` and what the push needs, for the caller to push. Rows stored
    due now wake the workers (NOTIFY, one per transaction however many)."""
    return await conn.fetch(
        "WITH e AS (SELECT * FROM endpoints WHERE active AND recipient_id = ANY($1::text[])),"
        " lanes AS (SELECT e.endpoint_id, e.channel, e.recipient_id, $7::timestamptz IS NOT NULL AND NOT EXISTS"
        "  (SELECT 1 FROM deliveries p WHERE p.endpoint_id = e.endpoint_id AND p.carnet_number = $3"
        "   AND p.status = 'pending') AS handed FROM e),"
        " added AS (INSERT INTO deliveries (delivery_id, confirmation_id, endpoint_id, channel, recipient_id,"
        "  carnet_number, event_type, body, next_attempt_at, requested_at, attempts)"
        "  SELECT gen_random_uuid(), $2, l.endpoint_id, l.channel, l.recipient_id, $3, $4, $5::jsonb,"
        "   CASE WHEN l.handed THEN $7 ELSE $6 END, $8, l.handed::int FROM lanes l"
        "  ON CONFLICT DO NOTHING RETURNING *),"
        " notified AS (SELECT pg_notify($9, '') FROM added WHERE attempts = 0 LIMIT 1)"
        " SELECT d.*, d.attempts = 1 AS handed, " + _PUSH + " FROM e LEFT JOIN added d USING (endpoint_id)"
        " CROSS JOIN (SELECT count(*) FROM notified) AS n",
        recipient_ids,
        confirmation_id,
        carnet_number,
        event_type,
        body,
        now,
        lease_until,
        requested_at,
        WAKE_CHANNEL,
    )


async def claim_due(conn: asyncpg.Connection, now: datetime, lease: timedelta, limit: int) -> list[asyncpg.Record]:
    """Take due deliveries and push their next attempt past the lease, so a crashed worker's rows come back.

    Only the head of each lane, the earliest pending delivery of an (endpoint, carnet), is ever taken: a
    carnet's confirmations reach an endpoint one at a time and in order, and one that fails (rescheduled, still
    pending) or is in flight (leased, still pending) holds back the later ones until it is delivered or dead.
    Rows another instance has locked are skipped, never replaced by their successor: the successor still has a
    pending predecessor in every snapshot, locked or not, so several instances keep the order as one does."""
    return await conn.fetch(
        "WITH due AS (SELECT d.delivery_id FROM deliveries d WHERE d.status = 'pending' AND d.next_attempt_at <= $1"
        "  AND NOT EXISTS (SELECT 1 FROM deliveries e WHERE e.endpoint_id = d.endpoint_id"
        "   AND e.carnet_number = d.carnet_number AND e.status = 'pending' AND e.seq < d.seq)"
        "  ORDER BY d.next_attempt_at LIMIT $3 FOR UPDATE OF d SKIP LOCKED)"
        " UPDATE deliveries d SET attempts = d.attempts + 1, next_attempt_at = $1 + $2::interval"
        " FROM due, endpoints e WHERE d.delivery_id = due.delivery_id AND e.endpoint_id = d.endpoint_id"
        " RETURNING d.*, " + _PUSH,
        now,
        lease,
        limit,
    )


async def log_attempt(
    conn: asyncpg.Connection,
    delivery_id: UUID,
    attempt: int,
    at: datetime,
    status_code: int | None,
    error: str | None,
    duration_ms: float,
) -> None:
    await conn.execute(
        "INSERT INTO delivery_attempts (delivery_id, attempt, attempted_at, status_code, error, duration_ms)"
        " VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
        delivery_id,
        attempt,
        at,
        status_code,
        error,
        duration_ms,
    )


# The lane's waiting deliveries: pending, later in the lane, and not yet attempted since they were queued (or
# replayed), so they have no schedule of their own. Their next_attempt_at follows the head's, which keeps them out
# of claim_due's scan of due rows while the head fails (an optimisation: claim_due's NOT EXISTS alone keeps the
# order, so a row these statements miss in a race is only scanned, never sent early, and never stuck).
_WAITING = (
    " s.endpoint_id = h.endpoint_id AND s.carnet_number = h.carnet_number AND s.status = 'pending'"
    " AND s.seq > h.seq AND s.attempts = s.attempts_before_replay"
)


async def log_delivered(
    conn: asyncpg.Connection,
    delivery_id: UUID,
    attempt: int,
    at: datetime,
    status_code: int,
    duration_ms: float,
    delivered_at: datetime,
    queued: list[Queued],
) -> bool:
    """The successful attempt's log row, the delivery's new status, its lane's release and the messages it emits
    (`queued`, the outbox's) in one statement, atomic without a transaction block (every confirmation). Answers
    whether the lane has a later delivery waiting (then the worker looks again at once)."""
    return bool(
        await conn.fetchval(
            "WITH logged AS (INSERT INTO delivery_attempts (delivery_id, attempt, attempted_at, status_code, error, duration_ms)"
            " VALUES ($1, $2, $3, $4, NULL, $5) ON CONFLICT DO NOTHING),"
            " h AS (UPDATE deliveries SET status = 'delivered', delivered_at = $6, last_error = NULL WHERE delivery_id = $1"
            "  RETURNING endpoint_id, carnet_number, seq),"
            " released AS (UPDATE deliveries s SET next_attempt_at = $6 FROM h WHERE"
            + _WAITING
            + " AND s.next_attempt_at > $6),"
            f" {queue_cte(7)}, notified AS ({NOTIFY_QUEUED}) "
            "SELECT EXISTS (SELECT 1 FROM deliveries s JOIN h ON s.endpoint_id = h.endpoint_id"
            "  AND s.carnet_number = h.carnet_number WHERE s.status = 'pending' AND s.seq > h.seq)"
            " FROM (SELECT count(*) FROM notified) AS n",
            delivery_id,
            attempt,
            at,
            status_code,
            duration_ms,
            delivered_at,
            *queue_args(queued),
        )
    )


async def reschedule(conn: asyncpg.Connection, delivery_id: UUID, due: datetime, error: str) -> None:
    """The next attempt of a lane's head; the deliveries waiting behind it wait as long."""
    await conn.execute(
        "WITH h AS (UPDATE deliveries SET next_attempt_at = $2, last_error = $3 WHERE delivery_id = $1 AND status = 'pending'"
        "  RETURNING endpoint_id, carnet_number, seq)"
        " UPDATE deliveries s SET next_attempt_at = $2 FROM h WHERE" + _WAITING + " AND s.next_attempt_at < $2",
        delivery_id,
        due,
        error,
    )


async def kill(conn: asyncpg.Connection, delivery_id: UUID, reason: str, attempts: int, at: datetime) -> None:
    """Give a delivery up: it leaves the queue and enters the dead-letter store with the reason; the deliveries
    waiting behind it are due now."""
    await conn.execute(
        "WITH h AS (UPDATE deliveries SET status = 'dead', last_error = $2 WHERE delivery_id = $1"
        "  RETURNING endpoint_id, carnet_number, seq)"
        " UPDATE deliveries s SET next_attempt_at = $3 FROM h WHERE" + _WAITING + " AND s.next_attempt_at > $3",
        delivery_id,
        reason,
        at,
    )
    await conn.execute(
        "INSERT INTO dead_letters (delivery_id, reason, attempts, dead_at) VALUES ($1, $2, $3, $4)",
        delivery_id,
        reason,
        attempts,
        at,
    )


async def disable_endpoint(conn: asyncpg.Connection, endpoint_id: UUID, reason: str) -> None:
    await conn.execute(
        "UPDATE endpoints SET active = false, disabled_reason = $2 WHERE endpoint_id = $1", endpoint_id, reason
    )


_LOG = (
    "SELECT d.delivery_id, d.confirmation_id, d.endpoint_id, d.channel, d.recipient_id, d.carnet_number, d.event_type,"
    " d.status, d.attempts, d.requested_at, d.delivered_at, d.next_attempt_at, d.last_error,"
    " COALESCE((SELECT jsonb_agg(jsonb_build_object('attempt', a.attempt, 'attempted_at', a.attempted_at,"
    "   'status_code', a.status_code, 'error', a.error, 'duration_ms', a.duration_ms) ORDER BY a.attempt)"
    "  FROM delivery_attempts a WHERE a.delivery_id = d.delivery_id), '[]'::jsonb) AS log FROM deliveries d"
)


async def deliveries(
    conn: asyncpg.Connection,
    carnet_number: str | None,
    recipient_id: str | None,
    status: str | None = None,
    limit: int = 1000,
) -> list[asyncpg.Record]:
    """The delivery log: each delivery with every attempt, by carnet and/or recipient."""
    return await conn.fetch(
        _LOG + " WHERE ($1::text IS NULL OR d.carnet_number = $1) AND ($2::text IS NULL OR d.recipient_id = $2)"
        " AND ($3::text IS NULL OR d.status = $3) ORDER BY d.requested_at, d.delivery_id LIMIT $4",
        carnet_number,
        recipient_id,
        status,
        limit,
    )


async def dead_letters(conn: asyncpg.Connection, include_replayed: bool = False) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT l.id, l.delivery_id, l.reason, l.attempts, l.dead_at, l.replayed_at, d.carnet_number, d.recipient_id,"
        " d.channel, d.event_type, e.active AS endpoint_active FROM dead_letters l JOIN deliveries d USING (delivery_id)"
        " JOIN endpoints e ON e.endpoint_id = d.endpoint_id"
        " WHERE $1 OR l.replayed_at IS NULL ORDER BY l.dead_at, l.id",
        include_replayed,
    )


async def replay(conn: asyncpg.Connection, delivery_ids: list[UUID] | None, now: datetime) -> list[asyncpg.Record]:
    """Put dead deliveries back in the queue, due now, with a fresh budget of attempts; only those whose
    endpoint is active (a recipient re-registering the same URL re-activates it). All open ones if `delivery_ids`
    is None. Answers one row per dead letter considered, with whether it was replayed."""
    rows = await conn.fetch(
        "SELECT l.id, l.delivery_id, e.active AS endpoint_active, d.status FROM dead_letters l"
        " JOIN deliveries d USING (delivery_id) JOIN endpoints e ON e.endpoint_id = d.endpoint_id"
        " WHERE l.replayed_at IS NULL AND ($1::uuid[] IS NULL OR l.delivery_id = ANY($1::uuid[]))"
        " ORDER BY l.dead_at, l.id FOR UPDATE OF l, d",
        delivery_ids,
    )
    ready = [r["delivery_id"] for r in rows if r["endpoint_active"] and r["status"] == "dead"]
    if ready:
        await conn.execute(
            "UPDATE deliveries SET status = 'pending', next_attempt_at = $2, attempts_before_replay = attempts"
            " WHERE delivery_id = ANY($1::uuid[])",
            ready,
            now,
        )
        await conn.execute(
            "UPDATE dead_letters SET replayed_at = $2 WHERE replayed_at IS NULL AND delivery_id = ANY($1::uuid[])",
            ready,
            now,
        )
        await conn.execute("SELECT pg_notify($1, '')", WAKE_CHANNEL)
    return rows

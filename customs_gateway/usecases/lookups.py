"""The typed fallback when a QR will not scan: the transaction code's check character first, then the officer's
rate limit, then the core, which alone keeps every declaration (docs/gateway-subscriptions.md)."""

from __future__ import annotations

import asyncpg

from contracts.txcode import TransactionCodeError, parse_transaction_code
from customs_gateway import account_repository as accounts_repo, domain, repository as repo
from customs_gateway.core_lookup import Unavailable
from customs_gateway.domain import CommitRefused, Declared, Office, RateLimited, Verification
from customs_gateway.usecases import declarations
from customs_gateway.usecases.context import LOOKUP_WINDOW, LOOKUPS_PER_MINUTE, Gateway


async def take_lookup(gw: Gateway, conn: asyncpg.Connection, officer_id: str) -> float | None:
    """One typed code of the officer's window (None), or the seconds to wait: lookups and cancellations."""
    return await accounts_repo.take_lookup(conn, officer_id, gw.clock(), LOOKUPS_PER_MINUTE, LOOKUP_WINDOW)


def parse_code(gw: Gateway, code: str) -> str:
    try:
        return parse_transaction_code(code)
    except TransactionCodeError as exc:
        gw.metrics.code_lookups("bad_code").inc()
        raise CommitRefused("bad_code", str(exc)) from exc


async def declared_by_code(
    gw: Gateway, conn: asyncpg.Connection, officer_id: str, office: Office, code: str, action: str
) -> Declared:
    """Check character first (no lookup, no rate-limit use), then the officer's rate limit, then the core."""
    canonical = parse_code(gw, code)

    async def refused(outcome: str) -> None:
        gw.metrics.code_lookups(outcome).inc()
        await repo.audit(
            conn,
            gw.clock(),
            action,
            outcome,
            officer_id=officer_id,
            office_id=office.office_id,
            detail={"transaction_code": canonical},
        )

    wait = await take_lookup(gw, conn, officer_id)
    if wait is not None:
        await refused("rate_limited")
        raise RateLimited(wait)
    try:
        found = await gw.core.by_code(canonical, officer_id)
    except Unavailable:
        await refused("core_unavailable")
        raise
    if found is None:
        await refused("unknown")
        raise CommitRefused("unknown_code", "no declaration with this transaction code", 404)
    gw.metrics.code_lookups("found").inc()
    return Declared(
        found.carnet_number,
        canonical,
        found.kind,
        found.country,
        found.items,
        found.sequence,
        None,  # the carnet's expiry: the caller's read of the carnet on file gives it (Declared.with_expiry_of)
        None,
        found.token_id,
        found.token_expires_at,
        False,
    )


async def lookup(gw: Gateway, conn: asyncpg.Connection, officer_id: str, office: Office, code: str) -> Verification:
    """The declaration the core accepted under this code, with the same checks as a scan."""
    d = await declared_by_code(gw, conn, officer_id, office, code, "code_lookup")
    detail = {"transaction_code": d.transaction_code, "kind": d.kind.value, "country": d.country}
    try:
        domain.check_scan(d, office)
    except CommitRefused as exc:
        await repo.audit(
            conn,
            gw.clock(),
            "code_lookup",
            exc.reason,
            officer_id=officer_id,
            office_id=office.office_id,
            carnet_number=d.carnet_number,
            detail=detail,
        )
        raise
    v = await declarations.verification(gw, conn, d, office)
    await repo.audit(
        conn,
        gw.clock(),
        "code_lookup",
        "found",
        officer_id=officer_id,
        office_id=office.office_id,
        carnet_number=d.carnet_number,
        detail={**detail, "mismatches": [c.check for c in v.mismatches]},
    )
    return v

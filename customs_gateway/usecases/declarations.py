"""A scanned declaration: verified offline, checked against the carnet on file, and audited (R18)."""

from __future__ import annotations

import asyncpg

from customs_gateway import domain, repository as repo
from customs_gateway.domain import CarnetOnFile, CommitRefused, Declared, Office, Verification
from customs_gateway.usecases import keys
from customs_gateway.usecases.context import Gateway


def checks(
    gw: Gateway, d: Declared, office: Office, on_file: CarnetOnFile | None, *, replayed: bool, kid: str | None = None
) -> Verification:
    return domain.verification(
        d,
        office,
        gw.clock(),
        replayed=replayed,
        blocked=gw.blocked.get(d.carnet_number),
        transferred=gw.transferred.get(d.carnet_number),
        carnet=on_file,
        kid=kid,
    )


async def verification(
    gw: Gateway, conn: asyncpg.Connection, d: Declared, office: Office, kid: str | None = None
) -> Verification:
    """Every check, with whether it was already decided and the carnet on file read in one round trip (a typed
    code's declaration takes its carnet's expiry from it)."""
    decided, on_file = await repo.decided_and_carnet(conn, d.token_id, d.transaction_code, d.carnet_number)
    gw.carnets.put(on_file)
    return checks(gw, d.with_expiry_of(on_file), office, on_file, replayed=decided, kid=kid)


async def scan(gw: Gateway, conn: asyncpg.Connection, officer_id: str, office: Office, token: str) -> Verification:
    """Verify offline; only the audit log records that this officer looked (R18).

    R18: an officer sees only declarations for their own country's customs; another country's
    carnet data is not shown (and the attempt is audited)."""
    try:
        claims, kid = keys.verify(gw, token)
    except CommitRefused as exc:
        await repo.audit(conn, gw.clock(), "scan", exc.reason, officer_id=officer_id, office_id=office.office_id)
        raise
    detail = {"kind": claims.kind.value, "country": claims.country, "token_id": str(claims.token_id)}
    try:
        domain.check_scan(claims, office)
    except CommitRefused as exc:
        await repo.audit(
            conn,
            gw.clock(),
            "scan",
            exc.reason,
            officer_id=officer_id,
            office_id=office.office_id,
            carnet_number=claims.carnet_number,
            detail=detail,
        )
        raise
    d = Declared.from_claims(claims)
    on_file = gw.carnets.get(d.carnet_number)
    if on_file is None:  # two round trips: the carnet decides the mismatches the audit row lists
        v = await verification(gw, conn, d, office, kid)
        await repo.audit(
            conn,
            gw.clock(),
            "scan",
            "valid",
            officer_id=officer_id,
            office_id=office.office_id,
            carnet_number=claims.carnet_number,
            detail={**detail, "mismatches": [c.check for c in v.mismatches]},
        )
        return v
    # Carnet known: the replay check and the audit row in one statement.
    v = checks(gw, d, office, on_file, replayed=False, kid=kid)
    before, after = domain.mismatches_around_replay(v)
    if await repo.scan_audited(
        conn,
        claims.token_id,
        d.transaction_code,
        gw.clock(),
        officer_id,
        office.office_id,
        d.carnet_number,
        detail,
        before,
        after,
    ):
        v = checks(gw, d, office, on_file, replayed=True, kid=kid)
    return v

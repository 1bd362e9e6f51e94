"""Administration (R18): offices, officer accounts (one by one or by CSV import, with their actions) and the audit
log. Every change is audited in the transaction that makes it."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import asyncpg

from customs_gateway import (
    account_repository as accounts_repo,
    accounts,
    officer_repository as officer_repo,
    repository as repo,
)
from customs_gateway.usecases.context import Gateway


class AdminRefused(Exception):
    def __init__(self, status: int, reason: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status, self.reason, self.extra = status, reason, extra


@dataclass(frozen=True)
class Enrolled:
    officer_id: str
    office_id: str
    totp_secret: str


async def offices(conn: asyncpg.Connection) -> list[dict[str, Any]]:
    return [dict(r) for r in await officer_repo.offices(conn)]


async def create_office(gw: Gateway, conn: asyncpg.Connection, office: dict[str, Any]) -> None:
    async with conn.transaction():
        if not await officer_repo.create_office(
            conn, office["office_id"], office["country"], office["region"], office["name"], office["timezone"]
        ):
            raise AdminRefused(409, "office_exists", f"office {office['office_id']} exists")
        await repo.audit(conn, gw.clock(), "office_created", "success", office_id=office["office_id"], detail=office)


async def create_officer(gw: Gateway, pool: Any, officer_id: str, office_id: str, password: str) -> Enrolled:
    """`pool`: the password is hashed (slow on purpose) before a connection is taken from it."""
    secret = accounts.new_totp_secret()
    hashed = await asyncio.to_thread(accounts.hash_password, password)
    async with pool.acquire() as conn, conn.transaction():
        if office_id not in await officer_repo.office_ids(conn):
            raise AdminRefused(404, "unknown_office", f"unknown office {office_id}")
        try:
            async with conn.transaction():
                await officer_repo.insert_officers(conn, [(officer_id, office_id, hashed, secret)])
        except asyncpg.UniqueViolationError as exc:
            raise AdminRefused(409, "officer_exists", f"officer {officer_id} exists") from exc
        await repo.audit(
            conn,
            gw.clock(),
            "officer_created",
            "success",
            officer_id=officer_id,
            office_id=office_id,
            detail={"by": "admin"},
        )
    return Enrolled(officer_id, office_id, secret)


async def import_officers(gw: Gateway, conn: asyncpg.Connection, text: str) -> list[Enrolled]:
    """CSV `officer_id,office_id,password`: every row checked first; one bad row and nothing is imported."""
    ids = [m.split(",", 1)[0].strip() for m in text.splitlines()[1:]]
    try:
        rows, errors = accounts.parse_import(
            text, await officer_repo.office_ids(conn), await officer_repo.existing_officers(conn, ids)
        )
    except accounts.ImportRefused as exc:
        raise AdminRefused(422, "bad_file", str(exc)) from exc
    if errors:
        async with conn.transaction():
            await repo.audit(conn, gw.clock(), "officers_imported", "refused", detail={"rows_with_errors": len(errors)})
        raise AdminRefused(422, "invalid_rows", "nothing was imported", rows=[e.as_dict() for e in errors])
    secrets_ = [accounts.new_totp_secret() for _ in rows]
    hashes = await asyncio.gather(*(asyncio.to_thread(accounts.hash_password, r.password) for r in rows))
    try:
        async with conn.transaction():
            await officer_repo.insert_officers(
                conn, [(r.officer_id, r.office_id, h, s) for r, h, s in zip(rows, hashes, secrets_, strict=True)]
            )
            await repo.audit(
                conn, gw.clock(), "officers_imported", "success", detail={"officers": [r.officer_id for r in rows]}
            )
    except asyncpg.UniqueViolationError as exc:  # created meanwhile by someone else: still all or nothing
        raise AdminRefused(409, "officer_exists", str(exc)) from exc
    return [Enrolled(r.officer_id, r.office_id, s) for r, s in zip(rows, secrets_, strict=True)]


async def audit_log(
    conn: asyncpg.Connection, officer_id: str | None, carnet_number: str | None, limit: int
) -> list[dict[str, Any]]:
    return [
        {**dict(r), "detail": json.loads(r["detail"])}
        for r in await repo.audit_entries(conn, officer_id, carnet_number, limit)
    ]


Change = Callable[[asyncpg.Connection, str, str | None], Awaitable[dict[str, Any]]]


async def _revoke(conn: asyncpg.Connection, officer_id: str, _: str | None) -> dict[str, Any]:
    return {"sessions_revoked": await accounts_repo.delete_sessions(conn, officer_id)}


async def _deactivate(conn: asyncpg.Connection, officer_id: str, _: str | None) -> dict[str, Any]:
    await accounts_repo.set_active(conn, officer_id, False)
    return await _revoke(conn, officer_id, None)


async def _reactivate(conn: asyncpg.Connection, officer_id: str, _: str | None) -> dict[str, Any]:
    await accounts_repo.set_active(conn, officer_id, True)
    return {}


async def _unlock(conn: asyncpg.Connection, officer_id: str, _: str | None) -> dict[str, Any]:
    return {"failures_cleared": await accounts_repo.clear_failures(conn, officer_id)}


async def _reset_authenticator(conn: asyncpg.Connection, officer_id: str, secret: str | None) -> dict[str, Any]:
    assert secret is not None
    await accounts_repo.reset_authenticator(conn, officer_id, secret)
    return await _revoke(conn, officer_id, None)


#: Each action on an account (its audit action name) and what it changes.
ACCOUNT_ACTIONS: dict[str, Change] = {
    "officer_deactivated": _deactivate,
    "officer_reactivated": _reactivate,
    "officer_unlocked": _unlock,
    "authenticator_reset": _reset_authenticator,
    "sessions_revoked": _revoke,
}


async def act_on_account(
    gw: Gateway, conn: asyncpg.Connection, officer_id: str, action: str, secret: str | None = None
) -> dict[str, Any]:
    """The action done and audited, with the officer's office and what changed; an unknown officer is audited
    and refused (404)."""
    async with conn.transaction():
        office_id = await accounts_repo.lock_officer(conn, officer_id)
        if office_id is None:
            await repo.audit(conn, gw.clock(), action, "unknown_officer", officer_id=officer_id)
        else:
            done = await ACCOUNT_ACTIONS[action](conn, officer_id, secret)
            await repo.audit(
                conn,
                gw.clock(),
                action,
                "success",
                officer_id=officer_id,
                office_id=office_id,
                detail={"by": "admin", **done},
            )
    if office_id is None:
        raise AdminRefused(404, "unknown_officer", f"no officer {officer_id}")
    return {"officer_id": officer_id, "office_id": office_id, "action": action, **done}

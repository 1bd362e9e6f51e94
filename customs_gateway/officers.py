"""Officer logins and sessions (R18): password + TOTP, throttled failures, opaque bearer sessions, audited."""

from __future__ import annotations

import asyncio
import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import asyncpg

from customs_gateway import (
    account_repository as accounts_repo,
    accounts,
    officer_repository as officer_repo,
    repository as repo,
    throttle,
)
from customs_gateway.domain import Office
from customs_gateway.metrics import GatewayMetrics
from runtime.clock import Clock

SESSION_TTL = timedelta(hours=8)
#: How long this instance trusts a session it read without reading it again. Expiry is checked on every
#: request and a logout here drops the entry at once; a logout at another instance of the gateway, or an
#: officer deactivated, takes effect here within this time.
SESSION_CACHE = timedelta(seconds=5)
SESSION_CACHE_SIZE = 10_000


def token_hash(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


@dataclass(frozen=True)
class Login:
    outcome: str  # success, throttled, unknown_officer, bad_password, bad_totp, totp_reused
    token: str | None = None
    expires_at: object = None
    retry_after: int | None = None  # throttled: seconds to wait


@dataclass(frozen=True)
class SessionOfficer:
    officer_id: str
    office: Office
    token_hash: bytes


class Officers:
    def __init__(self, metrics: GatewayMetrics, clock: Clock) -> None:
        self.metrics = metrics
        self.clock = clock
        #: token hash -> (officer, session expiry, read at): every scan and commit would otherwise read it.
        self._sessions: dict[bytes, tuple[SessionOfficer, datetime, datetime]] = {}
        self._hit, self._miss = metrics.cache("session", "hit"), metrics.cache("session", "miss")

    async def login(self, conn: asyncpg.Connection, officer_id: str, password: str, code: str, address: str) -> Login:
        """Throttled per account, address and pair (customs_gateway/throttle.py) before the password is checked."""
        now = self.clock()
        keys = throttle.keys(officer_id, address)
        async with conn.transaction():
            await accounts_repo.serialize_login(conn, officer_id, keys[0].address)
            waits = [k for k in keys if k.scope != "account"]
            if not await accounts_repo.known_address(conn, officer_id, keys[0].address):
                waits = list(keys)  # the account-wide count holds back only addresses the officer never used
            blocked = await accounts_repo.blocked_until(conn, waits, now)
            if blocked is not None:
                self.metrics.logins("throttled").inc()
                self.metrics.login_throttled(blocked[0].scope).inc()
                return Login("throttled", retry_after=throttle.retry_after(blocked[1], now))
            row = await officer_repo.officer_for_login(conn, officer_id)
            office_id = row["office_id"] if row else None
            if row is None or not row["active"] or not row["password_hash"] or not row["totp_secret"]:
                await asyncio.to_thread(accounts.verify_password, password, None)  # same cost as a real check
                outcome, step = "unknown_officer", None
            else:
                ok = await asyncio.to_thread(accounts.verify_password, password, row["password_hash"])
                step = accounts.totp_step(row["totp_secret"], code, now) if ok else None
                if not ok:
                    outcome = "bad_password"
                elif step is None:
                    outcome = "bad_totp"
                elif row["last_totp_step"] is not None and step <= row["last_totp_step"]:
                    outcome = "totp_reused"  # a code (or an older one) already spent: RFC 6238 section 5.2
                else:
                    outcome = "success"
            if outcome == "success":
                token = secrets.token_urlsafe(32)
                await officer_repo.login_succeeded(conn, officer_id, step)  # type: ignore[arg-type]
                await accounts_repo.login_succeeded(conn, officer_id, keys[0].address, now)
                await officer_repo.insert_session(conn, token_hash(token), officer_id, now, now + SESSION_TTL)
                result = Login("success", token=token, expires_at=now + SESSION_TTL)
            else:
                result = Login(outcome)
                for key, until in await accounts_repo.count_failure(conn, keys, now):
                    # Audited when a key starts to wait, not for every throttled attempt (metrics count those).
                    await repo.audit(
                        conn,
                        now,
                        "login_throttled",
                        key.scope,
                        officer_id=officer_id,
                        office_id=office_id,
                        detail={"address": key.address or None, "until": until},
                    )
            await repo.audit(
                conn,
                now,
                "login",
                result.outcome,
                officer_id=officer_id,
                office_id=office_id,
                detail={"address": keys[0].address},
            )
        self.metrics.logins(result.outcome).inc()
        return result

    def forget(self, officer_id: str) -> None:
        """Drop this instance's cached sessions of an officer (deactivated, sessions revoked)."""
        for hashed in [h for h, entry in self._sessions.items() if entry[0].officer_id == officer_id]:
            self._sessions.pop(hashed, None)

    def cached_session(self, token: str) -> SessionOfficer | None:
        """The session read less than SESSION_CACHE ago and not expired, without a database round trip."""
        hashed, now = token_hash(token), self.clock()
        entry = self._sessions.get(hashed)
        if entry is not None and entry[1] > now and timedelta(0) <= now - entry[2] < SESSION_CACHE:
            self._hit.inc()
            return entry[0]
        self._miss.inc()
        return None

    async def session(self, conn: asyncpg.Connection, token: str) -> SessionOfficer | None:
        hashed, now = token_hash(token), self.clock()
        found = await officer_repo.session_officer(conn, hashed, now)
        if found is None:
            self._sessions.pop(hashed, None)
            return None
        who = SessionOfficer(found[0], found[1], hashed)
        if len(self._sessions) >= SESSION_CACHE_SIZE:
            del self._sessions[next(iter(self._sessions))]
        self._sessions[hashed] = (who, found[2], now)
        return who

    async def logout(self, conn: asyncpg.Connection, who: SessionOfficer) -> None:
        self._sessions.pop(who.token_hash, None)
        async with conn.transaction():
            await officer_repo.delete_session(conn, who.token_hash)
            await repo.audit(
                conn, self.clock(), "logout", "success", officer_id=who.officer_id, office_id=who.office.office_id
            )
        self._sessions.pop(who.token_hash, None)  # read again by a request that ran meanwhile

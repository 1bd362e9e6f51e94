"""Use cases of the recipient API that add an endpoint: the URL checked against the egress policy (form,
scheme, every address its host resolves to) and the per-recipient cap, then the row."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from uuid import uuid4

import asyncpg
from prometheus_client import Counter

from notifier import egress, repository as repo

log = logging.getLogger(__name__)


class EndpointRefused(Exception):
    """A registration the notifier will not accept; `category` as in the metrics, `status` the HTTP answer."""

    def __init__(self, status: int, category: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.category = category


#: What a recipient is told. DNS failures and refused addresses read the same, so registration cannot be used
#: to learn which internal names exist.
_MESSAGES = {
    "blocked_scheme": "endpoints must use https",
    "blocked_url": f"the URL must have a host, no credentials and at most {egress.MAX_URL_LENGTH} characters",
    "blocked_address": "the host must resolve, and only to public addresses",
    "dns": "the host must resolve, and only to public addresses",
}


class Registrations:
    def __init__(
        self,
        pool_of: Callable[[], asyncpg.Pool],
        guard: egress.Guard,
        max_endpoints: int,
        refused: Callable[[str], Counter],
    ) -> None:
        self.pool_of = pool_of
        self.guard = guard
        self.max_endpoints = max_endpoints
        self.refused = refused

    async def webhook(
        self, recipient: str, url: str, secret: str | None, generated: str, overlap_until: datetime
    ) -> asyncpg.Record:
        await self._check(recipient, url)
        async with self.pool_of().acquire() as conn, conn.transaction():
            await self._admit(conn, recipient, "webhook", url)
            return await repo.add_endpoint(conn, uuid4(), recipient, url, secret, generated, overlap_until)

    async def subscription(self, recipient: str, url: str, p256dh: str, auth: str) -> asyncpg.Record:
        await self._check(recipient, url)
        async with self.pool_of().acquire() as conn, conn.transaction():
            await self._admit(conn, recipient, "webpush", url)
            return await repo.add_subscription(conn, uuid4(), recipient, url, p256dh, auth)

    async def _check(self, recipient: str, url: str) -> None:
        try:
            await self.guard.check_endpoint(url)
        except TimeoutError:
            self._refuse(recipient, "dns", "resolution timed out")
        except egress.Blocked as exc:
            self._refuse(recipient, exc.category, str(exc))

    async def _admit(self, conn: asyncpg.Connection, recipient: str, channel: str, url: str) -> None:
        """The cap counts active endpoints; registering one already active again is not a new one."""
        if await repo.active_endpoint_count(conn, recipient, channel, url) >= self.max_endpoints:
            self.refused("too_many_endpoints").inc()
            raise EndpointRefused(
                409,
                "too_many_endpoints",
                f"at most {self.max_endpoints} active endpoints per recipient; remove one first",
            )

    def _refuse(self, recipient: str, category: str, detail: str) -> None:
        self.refused(category).inc()
        # The operator's log keeps the detail (which address); the recipient gets the category's sentence.
        log.warning("endpoint of %s refused (%s): %s", recipient, category, detail)
        raise EndpointRefused(422, category, _MESSAGES.get(category, "endpoint refused"))

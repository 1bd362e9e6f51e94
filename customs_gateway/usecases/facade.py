"""One object with the gateway's use cases bound to its context: what `service.state["handlers"]` holds for tests
and tools, what the consumers are wired to and what the routes call. Each method only delegates."""

from __future__ import annotations

from datetime import date
from uuid import UUID

import asyncpg

from contracts.messages import Payload
from contracts.token import DeclarationClaims
from customs_gateway.caches import CarnetCache, KeyCache
from customs_gateway.domain import Blocked, Office, Verification
from customs_gateway.metrics import GatewayMetrics
from customs_gateway.usecases import cancellations, commits, declarations, intake, keys, lookups
from customs_gateway.usecases.context import Gateway
from runtime.clock import Clock
from runtime.consumer import Inbound


class GatewayUseCases:
    def __init__(self, gw: Gateway) -> None:
        self.gw = gw

    @property
    def metrics(self) -> GatewayMetrics:
        return self.gw.metrics

    @property
    def clock(self) -> Clock:
        return self.gw.clock

    @property
    def keys(self) -> KeyCache:
        return self.gw.keys

    @property
    def carnets(self) -> CarnetCache:
        return self.gw.carnets

    @property
    def blocked(self) -> dict[str, Blocked]:
        return self.gw.blocked

    @property
    def transferred(self) -> dict[str, dict[int, str]]:
        return self.gw.transferred

    async def load_trust(self, conn: asyncpg.Connection) -> None:
        await keys.load_trust(self.gw, conn)

    def verify(self, token: str) -> DeclarationClaims:
        return keys.verify(self.gw, token)[0]

    async def trust_event(self, conn: asyncpg.Connection, inbound: Inbound[Payload]) -> None:
        await intake.trust_event(self.gw, conn, inbound)

    async def issuance_event(self, conn: asyncpg.Connection, inbound: Inbound[Payload]) -> None:
        await intake.issuance_event(self.gw, conn, inbound)

    async def issuance_events(self, conn: asyncpg.Connection, batch: list[Inbound[Payload]]) -> None:
        await intake.issuance_events(self.gw, conn, batch)

    async def ledger_event(self, conn: asyncpg.Connection, inbound: Inbound[Payload]) -> None:
        """From the core's ledger: items a replacement took over (R6), and cancellation outcomes."""
        await intake.items_moved(self.gw, conn, inbound)
        await cancellations.ledger_event(self.gw, conn, inbound)

    async def scan(self, conn: asyncpg.Connection, officer_id: str, office: Office, token: str) -> Verification:
        return await declarations.scan(self.gw, conn, officer_id, office, token)

    async def lookup(self, conn: asyncpg.Connection, officer_id: str, office: Office, code: str) -> Verification:
        return await lookups.lookup(self.gw, conn, officer_id, office, code)

    async def commit(
        self,
        conn: asyncpg.Connection,
        officer_id: str,
        office: Office,
        token: str | None,
        decision: str,
        final_date: date | None,
        refusal_reason: str | None,
        *,
        transaction_code: str | None = None,
    ) -> tuple[UUID, Verification]:
        return await commits.commit(
            self.gw,
            conn,
            officer_id,
            office,
            token,
            decision,
            final_date,
            refusal_reason,
            transaction_code=transaction_code,
        )

"""One object with the core's use cases bound to its ledger context: what `service.state["handlers"]`
holds for tests and tools (and what the consumers are wired to). Each method only delegates."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import asyncpg

from contracts.messages import Payload
from core import domain
from core.usecases import consumers, declarations, keys, lifecycle
from core.usecases.context import Ledger
from runtime.consumer import Inbound
from tokens.cose import SigningKey


class CoreUseCases:
    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger
        self.metrics = ledger.metrics

    @property
    def signing_key(self) -> SigningKey | None:
        return self.ledger.signing_key

    @signing_key.setter
    def signing_key(self, key: SigningKey | None) -> None:
        self.ledger.signing_key = key

    async def publish_signing_key(self, conn: asyncpg.Connection, key: SigningKey) -> None:
        await keys.publish_signing_key(self.ledger, conn, key)

    async def follow_signing_key(self, conn: asyncpg.Connection, load: Callable[[], SigningKey]) -> None:
        await keys.follow_signing_key(self.ledger, conn, load)

    async def declare(self, conn: asyncpg.Connection, *args: Any, **kw: Any) -> declarations.DeclarationCreated:
        return await declarations.declare(self.ledger, conn, *args, **kw)

    async def close(self, conn: asyncpg.Connection, carnet_number: str, party: str) -> domain.Closing:
        return await lifecycle.close(self.ledger, conn, carnet_number, party)

    async def issuance_event(self, conn: asyncpg.Connection, inbound: Inbound[Payload]) -> None:
        await consumers.issuance_event(self.ledger, conn, inbound)

    async def issuance_events(self, conn: asyncpg.Connection, batch: list[Inbound[Payload]]) -> None:
        await consumers.issuance_events(self.ledger, conn, batch)

    async def customs_event(self, conn: asyncpg.Connection, inbound: Inbound[Payload]) -> None:
        await consumers.customs_event(self.ledger, conn, inbound)

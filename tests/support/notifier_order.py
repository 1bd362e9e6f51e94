"""Per-carnet delivery order: the carnets, the receiver that fails a carnet's first attempt, and the core's
confirmations in ledger order, shared by the order and hand-over service tests."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from contracts.topics import NOTIFICATION_REQUESTS
from tests.support.messages import confirmation_requested, wire
from tests.support.peers import HookReceiver

A, B, C = "FR2600000010", "FR2600000028", "FR2600000036"
LEASE = timedelta(seconds=25)


class Receiver(HookReceiver):
    """Verifies every message; answers 503 to the first attempt of each carnet in `fail_once`."""

    def __init__(self, fail_once: set[str]) -> None:
        super().__init__(statuses=(204,))
        self.fail_once = set(fail_once)
        self.failed: list[dict[str, Any]] = []

    async def handle(self, path: str, headers: dict[str, str], body: bytes) -> int:
        data = json.loads(body)["data"]
        if data["carnet_number"] in self.fail_once:
            self.fail_once.discard(data["carnet_number"])
            self.failed.append(data)
            return 503
        return await super().handle(path, headers, body)

    def positions(self, carnet: str) -> list[int]:
        return [m["data"]["history_position"] for m in self.verified if m["data"]["carnet_number"] == carnet]


async def confirm(
    broker: Any, clock: Any, carnet: str, positions: range, recipients: tuple[str, ...] = ("hld_1",)
) -> None:
    """The core's confirmations of `carnet`, in ledger order, on the carnet's partition (keyed by its number)."""
    for p in positions:
        c = confirmation_requested(
            carnet, list(recipients), clock.now, history_position=p, decision="refused" if p % 3 == 0 else "committed"
        )
        body, headers, _ = wire(c, producer="core", subject=carnet)
        await broker.publish(body, NOTIFICATION_REQUESTS.name, key=carnet.encode(), headers=headers)


async def drain(handlers: Any, pool: Any, out: Any) -> list[int]:
    """Passes until one sends nothing; what each pass sent."""
    sent = []
    while (n := await handlers.deliver_due(pool, out)) and len(sent) < 50:
        sent.append(n)
    return sent

"""A load generator of border crossings for the crash tests: many carnets, a steady stream of commits.

It plays the outside parties over their real interfaces only (the issuer's NGA HTTP API, the core's holder
API, the notifier's endpoint registration, the gateway's officer API), so the services' internals can change
under it. Every declaration is decided by exactly one token; a commit whose HTTP call failed (connection
refused, reset, timeout, 5xx while a service or PostgreSQL is down) is retried with the SAME token until the
gateway answers: 202 acknowledges it, and 409 "replayed" after a failed attempt means an earlier attempt was
taken and its answer lost, so it counts as acknowledged once.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import date

import asyncpg
import httpx
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from deploy.local.demo import issuance_request, officer_session, poll
from deploy.local.identity import mint_wallet_token, private_key_path
from deploy.local.stack import LocalStack
from deploy.local.webhook_receiver import WebhookReceiver
from nga_client import sealing
from nga_client.carnets import PlainCarnet, seal_request

OFFICE = "FR-CDG-FRET"
ITEMS = (1, 2, 3)  # the demo carnet's three items: one exportation each, so three crossings per carnet


@dataclass
class Crossing:
    """One declaration and what became of its commit."""

    carnet_number: str
    declaration_id: str
    token: str
    outcome: str = "unsent"  # unsent | acknowledged | refused | unanswered
    commit_id: str | None = None
    attempts: int = 0
    failed_attempts: int = 0
    replayed: bool = False  # acknowledged by a 409 "replayed" after a failed attempt
    answer: str = ""


@dataclass
class Parties:
    """The holder and a representative (each with a webhook receiver) and the officer's session."""

    holder_id: str
    representative_id: str
    holder: dict[str, str]
    officer: dict[str, str]
    receivers: dict[str, WebhookReceiver]

    async def stop(self) -> None:
        for receiver in self.receivers.values():
            await receiver.stop()


async def open_parties(http: httpx.AsyncClient, stack: LocalStack) -> Parties:
    suffix = uuid.uuid4().hex[:8]
    holder_id, representative_id = f"hld_{suffix}", f"rep_{suffix}"
    receivers = {holder_id: WebhookReceiver(), representative_id: WebhookReceiver()}
    for recipient, receiver in receivers.items():
        await receiver.start()
        # Each recipient's wallet signs in to the notifier, with the notifier's audience.
        token = mint_wallet_token(private_key_path(stack.data_dir), recipient, "ata-notifier")
        r = await http.post(
            f"{stack.endpoints['notifier']}/v1/endpoints/webhooks",
            json={"url": receiver.url},
            headers={"Authorization": f"Bearer {token}"},
        )
        r.raise_for_status()
        receiver.secret = r.json()["secret"]
    officer = await officer_session(
        http, stack.endpoints["customs_gateway"], stack.admin_token, f"fr-officer-{suffix}", OFFICE
    )
    holder = {"Authorization": f"Bearer {mint_wallet_token(private_key_path(stack.data_dir), holder_id)}"}
    return Parties(holder_id, representative_id, holder, officer, receivers)


async def issue_carnets(
    http: httpx.AsyncClient, stack: LocalStack, parties: Parties, count: int, today: date
) -> list[str]:
    """The NGA issues `count` carnets shared with the representative, in one batch over its HTTP API."""
    keys = {parties.holder_id: X25519PrivateKey.generate(), parties.representative_id: X25519PrivateKey.generate()}
    requests = []
    for _ in range(count):
        plain = issuance_request(today, parties.holder_id, countries=("CH", "GB")).model_copy(
            update={"representative_ids": [parties.representative_id]}
        )
        requests.append(
            seal_request(
                PlainCarnet(
                    carnet=plain,
                    holder_public_key=sealing.public_key_text(keys[parties.holder_id]),
                    representative_keys={
                        parties.representative_id: sealing.public_key_text(keys[parties.representative_id])
                    },
                )
            ).model_dump(mode="json")
        )
    r = await http.post(
        f"{stack.endpoints['issuer']}/v1/issuance-requests/batch",
        json=requests,
        timeout=120,
        headers={"Authorization": f"Bearer {stack.nga_api_keys['FR']}"},
    )
    r.raise_for_status()
    refused = [a for a in r.json() if a["status"] != "issued"]
    if refused:
        raise RuntimeError(f"{len(refused)} carnets were not issued, first: {refused[0]}")
    return [a["answer"]["carnet_number"] for a in r.json()]


async def declare_all(
    http: httpx.AsyncClient,
    stack: LocalStack,
    parties: Parties,
    numbers: list[str],
    conn: asyncpg.Connection,
    concurrency: int = 4,
) -> list[Crossing]:
    """Wait for the core and the gateway to have the carnets, then declare one exportation per item."""
    await poll(
        lambda: _all_present(conn, "SELECT count(*) FROM core.carnets WHERE carnet_number = ANY($1)", numbers),
        "the core to record the carnets",
        timeout=60,
        interval=0.5,
    )
    crossings: list[Crossing] = []
    todo = [(n, item) for n in numbers for item in ITEMS]

    async def worker() -> None:
        while todo:
            number, item = todo.pop()
            r = await http.post(
                f"{stack.endpoints['core']}/v1/carnets/{number}/declarations",
                headers=parties.holder,
                json={"kind": "exportation", "country": "FR", "items": [item]},
            )
            if r.status_code != 201:
                raise RuntimeError(f"declaration of item {item} of {number} refused: {r.status_code} {r.text}")
            crossings.append(Crossing(number, str(r.json()["declaration_id"]), r.json()["token"]))

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    # The gateway verifies offline: it needs the core's signing key and the carnets on file before a scan.
    await poll(
        lambda: _all_present(
            conn, "SELECT count(*) FROM customs_gateway.carnets_on_file WHERE carnet_number = ANY($1)", numbers
        ),
        "the gateway to have the carnets on file",
        timeout=60,
        interval=0.5,
    )
    return crossings


async def _all_present(conn: asyncpg.Connection, query: str, keys: list[str]) -> bool:
    return await conn.fetchval(query, keys) == len(keys)


@dataclass
class CommitLoad:
    """Posts the crossings' commits to the gateway at `rate` per second with up to `concurrency` in flight.

    It starts at most `allowed` commits (all of them when None) until `allow` gives it more: a test hands each
    fault its share, so a slow machine, whose restarts take longer, cannot use the commits up before the last one.
    """

    http: httpx.AsyncClient
    gateway: str
    officer: dict[str, str]
    crossings: list[Crossing]
    rate: float = 4.0
    concurrency: int = 6
    allowed: int | None = None
    give_up_after_s: float = 120.0
    retry_pause_s: float = 0.25
    _queue: list[Crossing] = field(default_factory=list)
    _open: asyncio.Event = field(default_factory=asyncio.Event)
    _paused: bool = False
    _started: int = 0
    _next_slot: float = 0.0
    _in_flight: int = 0

    def __post_init__(self) -> None:
        self._queue = list(reversed(self.crossings))
        if self.allowed is None:
            self.allowed = len(self.crossings)
        self._gate()

    def pause(self) -> None:
        """No new commit starts; those in flight go on until the gateway answers them."""
        self._paused = True
        self._gate()

    def resume(self) -> None:
        self._paused = False
        self._next_slot = time.monotonic()
        self._gate()

    def allow(self, more: int) -> None:
        assert self.allowed is not None
        self.allowed += more
        self._gate()

    def _gate(self) -> None:
        if not self._paused and self.pending:
            self._open.set()
        else:
            self._open.clear()

    @property
    def in_flight(self) -> int:
        return self._in_flight

    @property
    def pending(self) -> int:
        """Commits it may still start before it is allowed more."""
        assert self.allowed is not None
        return max(0, min(self.allowed - self._started, len(self._queue)))

    async def run(self) -> None:
        """Until cancelled: every crossing it is allowed, each posted until the gateway answers it."""
        self._next_slot = time.monotonic()
        await asyncio.gather(*(self._worker() for _ in range(self.concurrency)))

    async def _worker(self) -> None:
        while True:
            await self._open.wait()
            slot = max(self._next_slot, time.monotonic())
            self._next_slot = slot + 1.0 / self.rate
            await asyncio.sleep(slot - time.monotonic())
            if not self._open.is_set():  # paused, or out of allowance, while waiting for the slot
                continue
            crossing = self._queue.pop()
            self._started += 1
            self._gate()
            self._in_flight += 1
            try:
                await self._decide(crossing)
            finally:
                self._in_flight -= 1

    async def _decide(self, c: Crossing) -> None:
        deadline = time.monotonic() + self.give_up_after_s
        while time.monotonic() < deadline:
            c.attempts += 1
            try:
                r = await self.http.post(
                    f"{self.gateway}/v1/commits", headers=self.officer, json={"token": c.token, "decision": "committed"}
                )
            except httpx.TransportError as exc:  # refused while the gateway is down, reset when it is killed
                c.failed_attempts += 1
                c.answer = type(exc).__name__
                await asyncio.sleep(self.retry_pause_s)
                continue
            if r.status_code >= 500:  # the gateway is up and its database is not
                c.failed_attempts += 1
                c.answer = f"HTTP {r.status_code}"
                await asyncio.sleep(self.retry_pause_s)
                continue
            reason = _reason(r)
            if r.status_code == 202:
                c.outcome, c.commit_id, c.answer = "acknowledged", str(r.json()["commit_id"]), "202"
            elif r.status_code == 409 and reason == "replayed" and c.failed_attempts:
                c.outcome, c.replayed, c.answer = "acknowledged", True, "409 replayed"
            else:
                c.outcome, c.answer = "refused", f"HTTP {r.status_code} {reason}: {r.text[:300]}"
            return
        c.outcome = "unanswered"

    def tally(self) -> dict[str, int]:
        outcomes = Counter(c.outcome for c in self.crossings)
        return {
            "commits_sent": sum(1 for c in self.crossings if c.attempts),
            "http_attempts": sum(c.attempts for c in self.crossings),
            "failed_attempts": sum(c.failed_attempts for c in self.crossings),
            "acknowledged": outcomes["acknowledged"],
            "acknowledged_by_replay": sum(1 for c in self.crossings if c.replayed),
            "refused": outcomes["refused"],
            "unanswered": outcomes["unanswered"],
        }


def _reason(r: httpx.Response) -> str:
    try:
        detail = r.json().get("detail")
    except ValueError:
        return ""
    return detail.get("reason", "") if isinstance(detail, dict) else ""

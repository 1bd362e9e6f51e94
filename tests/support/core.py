"""Shared steps for the core's service tests: issue a carnet, sign tokens, declare, commit, read the ledger."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import httpx
import pytest

from contracts.kinds import DeclarationKind, DeclarationKind as K
from contracts.token import DeclarationClaims
from contracts.topics import CUSTOMS_COMMITS, ISSUANCE_EVENTS
from core import history_store
from core.usecases.declarations import DeclarationRefusedError
from deploy.local.identity import mint_wallet_token, private_key_path
from issuer.domain import issued
from tests.service.conftest import outbox
from tests.support.messages import customs_commit, issuance_request, wire
from tokens.cose import SigningKey, generate_signing_key, verify_token

NUMBER = "FR2600000010"
EXPIRY = date(2027, 11, 21)


async def issue(broker: Any, number: str = NUMBER, **overrides: Any) -> Any:
    carnet = issued(issuance_request("REQ-1", **overrides), number)
    body, headers, _ = wire(carnet, producer="issuer", subject=number)
    await broker.publish(body, ISSUANCE_EVENTS.name, key=number.encode(), headers=headers)
    return carnet


async def publish(broker: Any, payload: Any, topic: str, key: str) -> tuple[bytes, dict[str, str]]:
    body, headers, _ = wire(payload, subject=key)
    await broker.publish(body, topic, key=key.encode(), headers=headers)
    return body, headers


def claims_of(token: str, key: SigningKey, now: datetime) -> DeclarationClaims:
    return DeclarationClaims.from_cwt(verify_token(token, lambda kid: key.public_key if kid == key.kid else None, now))


async def with_key(service: Any) -> SigningKey:
    key = generate_signing_key()
    async with service.pool.acquire() as conn:
        await service.state["handlers"].publish_signing_key(conn, key)
    return key


async def declare(
    service: Any, kind: K, country: str, items: list[int], by: str = "hld_1", number: str = NUMBER, **kw: Any
) -> Any:
    # R9: an importation states the intended use; tests of that rule pass intended_use=None.
    kw.setdefault("intended_use", "film shoot" if kind is K.IMPORTATION else None)
    async with service.pool.acquire() as conn:
        return await service.state["handlers"].declare(conn, number, kind, country, items, by, **kw)


async def refused(
    service: Any, kind: K, country: str, items: list[int], by: str = "hld_1", number: str = NUMBER
) -> DeclarationRefusedError:
    with pytest.raises(DeclarationRefusedError) as info:
        await declare(service, kind, country, items, by, number=number)
    return info.value


async def fetch(service: Any, sql: str, *args: Any) -> list[Any]:
    async with service.pool.acquire() as conn:
        return await conn.fetch(sql, *args)


async def locations(service: Any, number: str = NUMBER) -> dict[int, tuple[str, str | None, date | None]]:
    rows = await fetch(
        service, "SELECT item_number, location, country, final_date FROM items WHERE carnet_number = $1", number
    )
    return {r["item_number"]: (r["location"], r["country"], r["final_date"]) for r in rows}


async def activate(service: Any, broker: Any, key: SigningKey, clock: Any, items: list[int]) -> None:
    """R10: a committed exportation at home."""
    created = await declare(service, K.EXPORTATION, "FR", items)
    await publish(
        broker, customs_commit(claims_of(created.token, key, clock.now), clock.now), CUSTOMS_COMMITS.name, NUMBER
    )


#: Where each country's customs commit from in these tests.
OFFICES = {
    "FR": ("FR-CDG-FRET", "Europe/Paris"),
    "CH": ("CH-GVA-AIR", "Europe/Zurich"),
    "US": ("US-JFK-CBP", "America/New_York"),
    "MX": ("MX-MEX-AIR", "America/Mexico_City"),
}


async def commit(broker: Any, key: SigningKey, clock: Any, created: Any, **overrides: Any) -> Any:
    """Customs at the declaration's country commit its token (as the gateway would post it)."""
    office, zone = OFFICES[created.country]
    posted = customs_commit(
        claims_of(created.token, key, clock.now), clock.now, office_id=office, office_timezone=zone, **overrides
    )
    await publish(broker, posted, CUSTOMS_COMMITS.name, created.carnet_number)
    return posted


async def cross(
    service: Any,
    broker: Any,
    key: SigningKey,
    clock: Any,
    kind: DeclarationKind,
    country: str,
    items: list[int],
    number: str = NUMBER,
) -> Any:
    """A declared and committed crossing."""
    created = await declare(service, kind, country, items, number=number)
    await commit(broker, key, clock, created)
    return created


async def chain(service: Any, number: str) -> tuple[Any, list[str]]:
    """(ChainCheck, event names oldest first) of the carnet's history."""
    async with service.pool.acquire() as conn:
        check = await history_store.check(conn, number)
        events = [e.event for e in await history_store.entries(conn, number)]
    return check, events


def client(service: Any, party: str = "hld_1") -> httpx.AsyncClient:
    """The holder API as `party`'s wallet calls it."""
    token = mint_wallet_token(private_key_path(service.settings.data_dir), party, now=service.clock())
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=service.http),
        base_url="http://core",
        headers={"Authorization": f"Bearer {token}"},
    )


# --- R6: a replacement and the goods it takes over ---------------------------------------------------

REPLACEMENT = "FR2600000036"
NEW_EXPIRY = date(2028, 11, 20)


def replacement_carnet(countries: list[str] | None = None) -> Any:
    """The replacement's own CarnetIssued: same goods, a new number, valid a year longer."""
    overrides: dict[str, Any] = {"issue_date": date(2027, 11, 21), "expiry_date": NEW_EXPIRY}
    if countries is not None:
        overrides["countries"] = countries
    return issued(issuance_request("REQ-REPL-1", **overrides), REPLACEMENT)


async def goods_in(service: Any, broker: Any, key: SigningKey, clock: Any, country: str, items: list[int]) -> None:
    """Exported at home and imported into `country`, both committed."""
    await cross(service, broker, key, clock, K.EXPORTATION, "FR", items)
    await cross(service, broker, key, clock, K.IMPORTATION, country, items)


async def decisions(service: Any) -> list[tuple[str, str, list[str]]]:
    """(successor, outcome, reason codes) of each CarnetSuccessionDecided the core queued for the issuer."""
    return [
        (m["payload"]["successor_number"], m["payload"]["outcome"], [r["code"] for r in m["payload"]["reasons"]])
        for m in await outbox(service)
        if m["type"] == "CarnetSuccessionDecided"
    ]


async def insert_carnet_row(conn: Any, number: str) -> None:
    """A bare carnet row (no items, no history), for tests of the core's store below the use cases."""
    await conn.execute(
        "INSERT INTO carnets (carnet_number, home_country, countries, issue_date, expiry_date, holder_id,"
        " general_list_digest) VALUES ($1, 'FR', '{CH,GB}', '2026-11-22', '2027-11-21', 'hld_1', $2)",
        number,
        "0" * 64,
    )

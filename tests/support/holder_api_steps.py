"""What the holder API tests share: issuing a carnet, the wallet signing key, posting a declaration,
hand-made tokens and the failure counter."""

from __future__ import annotations

from typing import Any

import httpx

from contracts.messages import Holder
from contracts.topics import ISSUANCE_EVENTS
from issuer.domain import issued
from tests.support.messages import issuance_request, wire
from tokens.cose import SigningKey, generate_signing_key

NUMBER = "FR2600000010"


async def issue(broker: Any, number: str = NUMBER, holder_id: str = "hld_1", **overrides: Any) -> Any:
    holder = Holder(
        holder_id=holder_id, name="Lumière Productions SARL", address="8 rue des Arts, Lyon", person="legal"
    )
    carnet = issued(issuance_request(f"REQ-{number}", holder=holder, **overrides), number)
    body, headers, _ = wire(carnet, producer="issuer", subject=number)
    await broker.publish(body, ISSUANCE_EVENTS.name, key=number.encode(), headers=headers)
    return carnet


async def with_key(service: Any) -> SigningKey:
    key = generate_signing_key()
    async with service.pool.acquire() as conn:
        await service.state["handlers"].publish_signing_key(conn, key)
    return key


async def post_declaration(http: httpx.AsyncClient, number: str = NUMBER, **body: Any) -> httpx.Response:
    return await http.post(
        f"/v1/carnets/{number}/declarations", json={"kind": "exportation", "country": "FR", "items": [1], **body}
    )

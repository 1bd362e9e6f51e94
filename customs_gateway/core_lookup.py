"""The one question the gateway asks the core over HTTP: the declaration behind a typed transaction code.

Scans verify offline; typing the code is the rare fallback when a QR will not scan. Asking the core then costs
one request per typed code, where keeping a copy of every declaration cost the gateway two consumed records per
crossing (docs/gateway-subscriptions.md). When the core cannot be reached the officer gets 503 and can still scan.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

import httpx
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from contracts.kinds import DeclarationKind
from customs_gateway.domain import CommitRefused

log = logging.getLogger(__name__)
#: The core answers from one indexed row; an officer waits at the desk.
TIMEOUT_S = 3.0
#: The answer is a few hundred bytes; anything much larger is not the core's answer.
MAX_ANSWER_BYTES = 8192


class _Answer(BaseModel):
    model_config = ConfigDict(extra="ignore")
    transaction_code: str = Field(max_length=40)
    carnet_number: str = Field(max_length=12)
    kind: DeclarationKind
    country: str = Field(min_length=2, max_length=2)
    items: list[int] = Field(max_length=1000)
    sequence: int
    token_id: UUID
    token_expires_at: datetime


@dataclass(frozen=True)
class DeclarationAtCore:
    carnet_number: str
    kind: DeclarationKind
    country: str
    items: tuple[int, ...]
    sequence: int
    token_id: UUID
    token_expires_at: datetime


class Unavailable(CommitRefused):
    def __init__(self, message: str) -> None:
        super().__init__("core_unavailable", f"typed codes cannot be looked up now ({message}); scan the QR", 503)


class CoreDeclarations:
    """`by_code` answers the declaration, None for a code the core does not know, or raises Unavailable."""

    def __init__(
        self, base_url: str | None, token: str | None, transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        self.base_url, self.token, self.transport = base_url, token, transport

    async def by_code(self, code: str, officer_id: str) -> DeclarationAtCore | None:
        if not self.base_url or not self.token:
            raise Unavailable("this gateway has no core URL or customs token configured")
        headers = {"Authorization": f"Bearer {self.token}", "X-Officer-Id": officer_id}
        try:
            # A client per lookup: the path is rare, and nothing stays open between typed codes.
            async with (
                httpx.AsyncClient(base_url=self.base_url, transport=self.transport, timeout=TIMEOUT_S) as http,
                http.stream("GET", f"/v1/customs/declarations/{code}", headers=headers) as r,
            ):
                status, body = r.status_code, await _read_at_most(r, MAX_ANSWER_BYTES)
        except httpx.HTTPError as exc:
            log.error("core lookup of code %s for officer %s failed: %s", code, officer_id, exc)
            raise Unavailable("the core did not answer") from exc
        if status == 404:
            return None
        if status != 200 or body is None:
            log.error(
                "core lookup of code %s for officer %s answered %s (%s)",
                code,
                officer_id,
                status,
                "over the size limit" if body is None else "refused",
            )
            raise Unavailable(f"the core answered {status}")
        try:
            a = _Answer.model_validate_json(body)
        except ValidationError as exc:
            log.error("core lookup of code %s: unreadable answer: %s", code, exc)
            raise Unavailable("the core's answer was unreadable") from exc
        if a.transaction_code != code:
            raise Unavailable("the core answered for another code")
        return DeclarationAtCore(
            a.carnet_number, a.kind, a.country, tuple(a.items), a.sequence, a.token_id, a.token_expires_at
        )


async def _read_at_most(response: httpx.Response, limit: int) -> bytes | None:
    """The body, or None once it passes `limit` bytes: read as it arrives, so no answer can take more memory."""
    body = bytearray()
    async for chunk in response.aiter_bytes():
        body += chunk
        if len(body) > limit:
            return None
    return bytes(body)

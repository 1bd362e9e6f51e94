"""A real webhook endpoint on localhost that verifies Standard Webhooks signatures (the demo's holder)."""

from __future__ import annotations

import asyncio
import json
import socket
from time import perf_counter
from typing import Any

import uvicorn
from standardwebhooks.webhooks import Webhook, WebhookVerificationError


class WebhookReceiver:
    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host = host
        self.port = port or _free_port(host)
        self.secret: str | None = None
        self.messages: list[dict[str, Any]] = []
        #: The `webhook-id` of each verified message, in order: a redelivery repeats one (receivers dedupe on it).
        self.webhook_ids: list[str] = []
        self.rejected = 0
        #: carnet number -> perf_counter() when its first verified message arrived (bench/confirmations.py).
        self.arrivals: dict[str, float] = {}
        self._server: uvicorn.Server | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/hooks/ata"

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = await read_body(receive)
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        arrived = perf_counter()
        ok = self.secret is not None and verified(self.secret, headers, body)
        if ok:
            message = json.loads(body)
            self.messages.append(message)
            self.webhook_ids.append(headers["webhook-id"])
            self.arrivals.setdefault(str(message.get("data", {}).get("carnet_number")), arrived)
        else:
            self.rejected += 1
        await send({"type": "http.response.start", "status": 204 if ok else 401, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    async def received(self, carnet_number: str) -> dict[str, Any] | None:
        for m in self.messages:
            if m.get("data", {}).get("carnet_number") == carnet_number:
                return m
        return None

    async def start(self) -> None:
        config = uvicorn.Config(self, host=self.host, port=self.port, log_level="warning", lifespan="off")
        self._server = uvicorn.Server(config)
        self._task = asyncio.create_task(self._server.serve())
        while not self._server.started:
            if self._task.done():
                self._task.result()
            await asyncio.sleep(0.02)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._task is not None:
            await self._task


def verified(secret: str, headers: dict[str, str], body: bytes) -> bool:
    """A Standard Webhooks check by the `standardwebhooks` package: one signature matches and the timestamp is
    within its five minutes of now. A malformed header is a failed check, not an error."""
    try:
        Webhook(secret).verify(body, headers, json_parse=False)
    except (WebhookVerificationError, ValueError):  # ValueError: bad base64, a signature without its "v1,"
        return False
    return True


async def read_body(receive: Any) -> bytes:
    """The whole request body of an ASGI request."""
    body = b""
    while True:
        event = await receive()
        body += event.get("body", b"")
        if not event.get("more_body"):
            return body


def _free_port(host: str) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]

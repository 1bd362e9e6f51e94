"""DEVELOPMENT ONLY: a sign-in page for the holder's wallet on the embedded stack.

In production the wallet signs in with the wallet identity provider, which issues the ES256 bearer tokens the
core and the notifier verify (tokens/wallet_auth.py). The embedded stack has no such provider: it plays one
with the key pair it makes under `<data_dir>/identity/` (deploy/local/identity.py). This module gives the wallet
page a sign-in it can drive: `GET /authorize?redirect_uri=...&state=...` shows a form where ANYONE may sign in as
ANY wallet id, and the answer redirects to the wallet with `#access_token=<JWT>&state=...` (the token in the
fragment never reaches a server log). It is refused anywhere but the embedded stack:

* it lives in deploy/local only, and only `LocalStack(dev_identity=True)` (`make up`) starts it;
* it signs only with the stack's own `<data_dir>/identity/wallet-issuer.pem`, and the stack refuses to start it
  when the services are told to trust another identity provider's key;
* it binds a loopback address only, and redirects only to the wallet URLs the stack names (exact match).
"""

from __future__ import annotations

import asyncio
import html
import logging
import re
import socket
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import uvicorn
from fastapi import FastAPI, Form, HTTPException, Query
from fastapi.responses import HTMLResponse, RedirectResponse

from deploy.local.identity import mint_wallet_token, private_key_path

log = logging.getLogger(__name__)
DEFAULT_PORT = 8109
#: The token is good for the ledger and for the notifier (Web Push subscriptions), as one sign-in should be.
AUDIENCES = ["ata-core", "ata-notifier"]
TOKEN_TTL = timedelta(hours=1)
PARTY_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:@-]{0,63}$")
STATE = re.compile(r"^[A-Za-z0-9_-]{8,128}$")
LOOPBACK = ("127.0.0.1", "::1", "localhost")
BANNER = "DEVELOPMENT ONLY: embedded-stack sign-in. Anyone can sign in as any wallet id here."


class DevIdentityRefused(RuntimeError):
    """The development identity provider must not run here."""


def origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def app(data_dir: Path, redirects: Sequence[str], clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> FastAPI:
    key = private_key_path(data_dir)
    if not key.is_file():
        raise DevIdentityRefused(
            f"no embedded-stack identity key at {key}: the development sign-in runs on the embedded stack only"
        )
    allowed = tuple(redirects)
    if not allowed or any(not re.match(r"^https?://[^\s\"'<>#]+/$", r) for r in allowed):
        raise DevIdentityRefused("the development sign-in needs the wallet URLs it may redirect to (ending in /)")
    csp = "; ".join(
        [
            "default-src 'none'",
            "form-action 'self' " + " ".join(sorted({origin(r) for r in allowed})),
            "base-uri 'none'",
            "frame-ancestors 'none'",
        ]
    )
    headers = {
        "Content-Security-Policy": csp,
        "Referrer-Policy": "no-referrer",
        "Cache-Control": "no-store",
        "X-Content-Type-Options": "nosniff",
    }
    api = FastAPI(
        title="ATA development identity provider (embedded stack only)", docs_url=None, redoc_url=None, openapi_url=None
    )

    def checked(redirect_uri: str, state: str) -> None:
        if redirect_uri not in allowed:
            raise HTTPException(400, detail="redirect_uri is not a wallet of this stack")
        if not STATE.match(state):
            raise HTTPException(400, detail="state must be 8-128 base64url characters")

    @api.get("/authorize", response_class=HTMLResponse)
    async def form(redirect_uri: str = Query(max_length=500), state: str = Query(max_length=128)) -> HTMLResponse:
        checked(redirect_uri, state)
        e = html.escape
        page = f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>Development sign-in</title></head>
<body><p role="alert"><strong>{e(BANNER)}</strong></p><h1>Wallet sign-in (development)</h1>
<form method="post" action="/authorize"><label for="wallet_id">Wallet id</label>
<input id="wallet_id" name="wallet_id" required maxlength="64" autocapitalize="none" spellcheck="false"
 pattern="[A-Za-z0-9][A-Za-z0-9_.:@\\-]{{0,63}}">
<input type="hidden" name="redirect_uri" value="{e(redirect_uri)}"><input type="hidden" name="state" value="{e(state)}">
<button type="submit">Sign in (development)</button></form></body></html>"""
        return HTMLResponse(page, headers=headers)

    @api.post("/authorize")
    async def sign_in(
        wallet_id: str = Form(max_length=64),
        redirect_uri: str = Form(max_length=500),
        state: str = Form(max_length=128),
    ) -> RedirectResponse:
        checked(redirect_uri, state)
        if not PARTY_ID.match(wallet_id):
            raise HTTPException(
                400, detail="a wallet id is 1-64 letters, digits and _.:@- (starting with a letter or digit)"
            )
        token = mint_wallet_token(key, wallet_id, audience=AUDIENCES, ttl=TOKEN_TTL, now=clock())  # type: ignore[arg-type]
        log.info("development sign-in as %s for %s", wallet_id, redirect_uri)
        fragment = urlencode(
            {
                "access_token": token,
                "token_type": "Bearer",
                "expires_in": int(TOKEN_TTL.total_seconds()),
                "state": state,
            }
        )
        return RedirectResponse(f"{redirect_uri}#{fragment}", status_code=303, headers=headers)

    return api


class DevIdentityServer:
    """The development sign-in on a loopback port, in the stack's event loop."""

    def __init__(
        self, data_dir: Path, redirects: Sequence[str], host: str = "127.0.0.1", port: int = DEFAULT_PORT
    ) -> None:
        if host not in LOOPBACK:
            raise DevIdentityRefused(f"the development sign-in binds a loopback address only, not {host}")
        self.app = app(data_dir, redirects)
        self.host, self.port = host, port
        self._server: uvicorn.Server | None = None
        self._task: asyncio.Task[Any] | None = None

    @property
    def authorize_url(self) -> str:
        return f"http://{self.host}:{self.port}/authorize"

    async def start(self) -> None:
        sock = socket.socket(socket.AF_INET6 if ":" in self.host else socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self.port))
        self._server = uvicorn.Server(uvicorn.Config(self.app, lifespan="off", log_level="warning", access_log=False))
        self._task = asyncio.create_task(self._server.serve(sockets=[sock]))
        while not self._server.started:
            if self._task.done():
                self._task.result()
            await asyncio.sleep(0.01)

    async def stop(self) -> None:
        if self._server is not None and self._task is not None:
            self._server.should_exit = True
            await self._task
        self._server = self._task = None

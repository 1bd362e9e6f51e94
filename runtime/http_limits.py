"""Limits on what an HTTP request may make a service read, for every route of every service.

* `RequestLimits`, a pure ASGI middleware: refuses too many or too large headers (431), and counts the
  bytes of the request body as they are received, answering 413 the moment a body passes its route's
  limit: whatever the Content-Length says (a declared length over the limit is refused before a byte
  is read), and for chunked bodies that declare none. Nothing past the limit is ever buffered.
* `LimitedRoute`, the route class of every router: sets its route's body limit (`body_limit(n)` in
  `openapi_extra`, also shown in the OpenAPI document as `x-max-body-bytes`), runs the route's
  header-only credential checks (`before_body`) before the body is read and parsed, so a stranger
  cannot make a service parse a large body, and refuses JSON nested deeper than `MAX_JSON_DEPTH`
  before the parser recurses into it.

Every refusal has the project's error shape: `{"detail": {"reason", "message", "reasons": [...]}}`,
the `reason`/`message` pair of the gateway and notifier and the `reasons` list of the issuer and core.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from itertools import accumulate
from typing import Any, TypeVar

from fastapi import HTTPException, Request, Security
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from fastapi.security.base import SecurityBase
from prometheus_client import CollectorRegistry, Counter
from starlette.types import ASGIApp, Message, Receive, Scope, Send

T = TypeVar("T")

#: Body limit of a route that declares none: every JSON request of the contracts but the NGA's issuance
#: (bounded strings, short lists) is a few KiB at most.
DEFAULT_BODY_LIMIT = 64 * 1024
#: Header fields a request may carry, and their total size (names and values). Browsers and the
#: services' own clients send about a dozen fields and under 2 KiB; a wallet token is under 4 KiB.
MAX_HEADERS = 64
MAX_HEADER_BYTES = 16 * 1024
#: Nesting of a JSON body: the deepest contract (an issuance with its sealed document) is 4 levels.
MAX_JSON_DEPTH = 32
LIMIT_EXTENSION = "x-max-body-bytes"
_SCOPE_KEY = "ata.request_limits"  # the request's _Limits, shared by reference (a scope may be copied on the way)
REFUSALS = ("body_too_large", "headers_too_large", "json_too_deep", "bad_content_length")


def body_limit(limit: int) -> dict[str, Any]:
    """`openapi_extra` of a route whose bodies may be larger (or must be smaller) than DEFAULT_BODY_LIMIT."""
    return {LIMIT_EXTENSION: limit}


def detail(reason: str, message: str, *, rule: str = "http", field: str | None = None) -> dict[str, Any]:
    """The project's error body: reason and message, and the same as a `reasons` list."""
    return {
        "reason": reason,
        "message": message,
        "reasons": [{"rule": rule, "code": reason, "field": field, "item_number": None, "message": message}],
    }


def problem(
    status: int, reason: str, message: str, *, field: str | None = None, headers: dict[str, str] | None = None
) -> HTTPException:
    return HTTPException(status, detail=detail(reason, message, field=field), headers=headers)


class BodyTooLarge(HTTPException):
    def __init__(self, limit: int) -> None:
        super().__init__(
            413,
            detail=detail("body_too_large", f"the request body is limited to {limit} bytes here", field="body"),
            headers={"Connection": "close"},
        )


def refusal_counter(registry: CollectorRegistry) -> Counter:
    counter = Counter(
        "ata_http_refusals_total",
        "HTTP requests refused for their size or shape before their route's work, by reason.",
        ["reason"],
        registry=registry,
    )
    for reason in REFUSALS:
        counter.labels(reason)  # every series from the start
    return counter


class _Limits:
    """One request's body limit (its route may change it before reading) and a refusal a route made."""

    __slots__ = ("body", "refused")

    def __init__(self, body: int) -> None:
        self.body = body
        self.refused: str | None = None


class RequestLimits:
    """Pure ASGI middleware: header count and size, and each route's body limit counted while reading."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        refusals: Counter | None = None,
        default_body_limit: int = DEFAULT_BODY_LIMIT,
        max_headers: int = MAX_HEADERS,
        max_header_bytes: int = MAX_HEADER_BYTES,
    ) -> None:
        """`refusals`: the service's `refusal_counter` (the middleware is built at the first request, too late
        to register a metric)."""
        self.app = app
        self.default_body_limit = default_body_limit
        self.max_headers = max_headers
        self.max_header_bytes = max_header_bytes
        self.refusals = refusals.labels if refusals is not None else None

    def refused(self, reason: str) -> None:
        if self.refusals is not None:
            self.refusals(reason).inc()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers: list[tuple[bytes, bytes]] = scope["headers"]
        declared: int | None = None
        size = 0
        chunked = False
        for name, value in headers:
            size += len(name) + len(value)
            if name == b"content-length":
                declared = int(value) if value.isdigit() and len(value) < 19 else -1
            elif name == b"transfer-encoding":
                chunked = True
        if len(headers) > self.max_headers or size > self.max_header_bytes:
            self.refused("headers_too_large")
            await _answer(
                send,
                431,
                detail(
                    "headers_too_large",
                    f"at most {self.max_headers} header fields and {self.max_header_bytes} bytes of headers",
                ),
            )
            return
        if declared == -1:
            self.refused("bad_content_length")
            await _answer(send, 400, detail("bad_content_length", "Content-Length is not a decimal number"))
            return
        limits = scope[_SCOPE_KEY] = _Limits(self.default_body_limit)
        received = 0
        exceeded: int | None = None  # the limit passed, once it is
        started = False
        unread = chunked or bool(declared)  # body bytes the client may still send

        async def limited_receive() -> Message:
            nonlocal received, exceeded, unread
            limit = limits.body
            if exceeded is None and declared is not None and declared > limit:
                exceeded = limit  # refused before a byte of it is read
            if exceeded is None:
                message = await receive()
                if message["type"] != "http.request":
                    return message
                received += len(message.get("body", b""))
                unread = unread and message.get("more_body", False)
                if received <= limit:
                    return message
                exceeded = limit
            raise BodyTooLarge(exceeded)

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if exceeded is not None:
                return  # whatever the app made of the refusal: the answer is ours
            if message["type"] == "http.response.start":
                started = True
                if unread:  # answered without reading the body (a refusal): do not read the rest of it either
                    message = {**message, "headers": [*message.get("headers", []), (b"connection", b"close")]}
            await send(message)

        try:
            await self.app(scope, limited_receive, guarded_send)
        except BodyTooLarge:
            if started:
                raise
        finally:
            if limits.refused:
                self.refused(limits.refused)
        if exceeded is not None and not started:
            self.refused("body_too_large")
            await _answer(send, 413, BodyTooLarge(exceeded).detail, close=True)


async def _answer(send: Send, status: int, body: dict[str, Any], *, close: bool = True) -> None:
    payload = json.dumps({"detail": body}, separators=(",", ":")).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())]
    if close:
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})


# --- credentials before the body -------------------------------------------------------------------


def before_body(
    check: Callable[[Request], Awaitable[T]], *, scheme: SecurityBase | None = None
) -> Callable[..., Awaitable[T]]:
    """A FastAPI dependency whose answer comes from the request's headers alone (credentials): a
    `LimitedRoute` runs `check` before the body is read, and the dependency then gives its remembered
    answer; `check` runs once per request. `scheme` documents the credentials in the OpenAPI document."""
    key = f"ata.before_body.{id(check)}"

    async def once(request: Request) -> T:
        if key not in request.scope:
            request.scope[key] = await check(request)
        return request.scope[key]  # type: ignore[no-any-return]

    if scheme is None:

        async def dependency(request: Request) -> T:
            return await once(request)
    else:

        async def dependency(request: Request, _credentials: Any = Security(scheme)) -> T:
            return await once(request)

    dependency.__before_body__ = once  # type: ignore[attr-defined]
    dependency.__name__ = getattr(check, "__name__", "credentials")
    return dependency


def _gates(dependant: Dependant) -> list[Callable[[Request], Awaitable[Any]]]:
    """The header-only checks among a route's dependencies, at any depth, each once (bound methods compare equal)."""
    found: list[Callable[[Request], Awaitable[Any]]] = []
    for sub in dependant.dependencies:
        gate = getattr(sub.call, "__before_body__", None)
        if gate is not None and gate not in found:
            found.append(gate)
        found += [g for g in _gates(sub) if g not in found]
    return found


_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_NOT_BRACKET = re.compile(rb"[^\[\]{}]+")
_STEP = {ord("["): 1, ord("{"): 1, ord("]"): -1, ord("}"): -1}


def nested_deeper(body: bytes, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether a JSON text nests arrays and objects deeper than `limit` (brackets inside strings do not
    count); for any bytes, valid JSON or not, without recursion."""
    if body.count(b"[") + body.count(b"{") <= limit:
        return False  # cannot nest deeper than it has brackets: the common case, two C-speed scans
    brackets = _NOT_BRACKET.sub(b"", _STRING.sub(b"", body))
    return max(accumulate(map(_STEP.__getitem__, brackets), initial=0)) > limit


class LimitedRoute(APIRoute):
    """The route class of every service's routers (`APIRouter(route_class=LimitedRoute)`): see the module."""

    def get_route_handler(self) -> Callable[[Request], Awaitable[Any]]:
        handler = super().get_route_handler()
        limit = (self.openapi_extra or {}).get(LIMIT_EXTENSION)
        gates = _gates(self.dependant)
        json_body = self.body_field is not None

        async def limited(request: Request) -> Any:
            limits: _Limits | None = request.scope.get(_SCOPE_KEY)  # None: an app without RequestLimits
            if limit is not None and limits is not None:
                limits.body = limit
            for gate in gates:
                await gate(request)
            if json_body and not request.headers.get("content-type", "").startswith("multipart/"):
                if nested_deeper(await request.body()):
                    if limits is not None:
                        limits.refused = "json_too_deep"
                    raise problem(
                        422, "json_too_deep", f"JSON nested deeper than {MAX_JSON_DEPTH} levels", field="body"
                    )
            return await handler(request)

        return limited

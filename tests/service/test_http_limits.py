"""HTTP limits of every service (runtime/http_limits.py, runtime/http_server.py): bodies counted while they
arrive, credentials before bodies, JSON depth, header size and count, control characters; every refusal a
4xx in the project's error shape. Streaming cases go over a real socket to uvicorn with the services'
own protocol class; the rest through the ASGI interface, where a receive stream can lie."""

from __future__ import annotations

import asyncio
import importlib
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi.routing import APIRoute

from deploy.local.identity import ensure_wallet_issuer, mint_wallet_token, private_key_path
from issuer.app import build as build_issuer
from runtime.http_limits import DEFAULT_BODY_LIMIT, MAX_HEADERS, MAX_JSON_DEPTH, LimitedRoute, nested_deeper
from runtime.http_server import MAX_HEAD_BYTES, BoundedHttpToolsProtocol
from tests.service.conftest import ADMIN, with_database
from tests.support.gateway import auth, gateway  # noqa: F401  (gateway: a fixture)
from tests.support.issuer import FR_KEY, http_settings  # noqa: F401  (a fixture)

SERVICES = ("issuer", "core", "customs_gateway", "claims_worker", "notifier")
MiB = 1024 * 1024


def shaped(body: dict[str, Any], reason: str) -> bool:
    """The project's error shape: reason and message, and the same as a `reasons` list."""
    d = body["detail"]
    return d["reason"] == reason and d["message"] and d["reasons"][0]["code"] == reason


async def call(
    app: Any, method: str, path: str, headers: dict[str, str], chunks: Any = (), query: bytes = b""
) -> tuple[int, dict[str, str], bytes, int]:
    """One request through the raw ASGI interface; `chunks` may be endless. Answers status, headers, body
    and how many times the application asked for a piece of the body."""
    pulls = 0
    it = iter(chunks)
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        nonlocal pulls
        pulls += 1
        chunk = next(it, None)
        return {"type": "http.request", "body": chunk or b"", "more_body": chunk is not None}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query,
        "root_path": "",
        "server": ("t", 80),
        "client": ("127.0.0.1", 5000),
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
    }
    await app(scope, receive, send)
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return start["status"], {k.decode(): v.decode() for k, v in start["headers"]}, body, pulls


def endless(size: int = 64 * 1024) -> Any:
    while True:
        yield b"[" * size


def opened(name: str, settings: Any) -> Any:
    return with_database(importlib.import_module(f"{name}.app").build(settings))


@asynccontextmanager
async def serving(app: Any) -> AsyncIterator[int]:
    """uvicorn on a free loopback port with the services' protocol class, on the test's loop."""
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=0, lifespan="off", log_level="error", http=BoundedHttpToolsProtocol)
    )
    task = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110 (uvicorn offers no event for it)
        await asyncio.sleep(0.01)
    try:
        yield server.servers[0].sockets[0].getsockname()[1]
    finally:
        server.should_exit = True
        await task


async def stream(port: int, head: bytes, chunk: bytes, most: int) -> tuple[bytes, int]:
    """Sends `head`, then `chunk` again and again (up to `most` bytes) while reading the answer; answers the
    answer and the bytes the server let us send before it answered and closed."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    received: list[bytes] = []

    async def read_all() -> None:
        # Piece by piece: when the server resets the connection (we kept sending), what was read stays read.
        try:
            while piece := await reader.read(65536):
                received.append(piece)
        except ConnectionError:
            pass

    answer = asyncio.create_task(read_all())
    writer.write(head)
    sent = 0
    try:
        while sent < most and not answer.done():
            writer.write(chunk)
            await writer.drain()
            sent += len(chunk)
    except (ConnectionError, OSError):
        pass
    await answer
    writer.close()
    return b"".join(received), sent


def http_answer(raw: bytes) -> tuple[int, dict[str, Any]]:
    head, _, body = raw.partition(b"\r\n\r\n")
    return int(head.split(b" ")[1]), json.loads(body)


# --- bodies ---------------------------------------------------------------------------------------


async def test_100_mb_without_credentials_is_refused_from_the_headers_before_a_byte_of_body(http_settings):
    async with opened("issuer", http_settings) as service, serving(service.http) as port:
        head = (
            b"POST /v1/issuance-requests HTTP/1.1\r\nHost: issuer\r\nContent-Type: application/json\r\n"
            b"Content-Length: 104857600\r\n\r\n"
        )
        raw, sent = await stream(port, head, b" " * 65536, 100 * MiB)
    status, body = http_answer(raw)
    assert status == 401 and body["detail"]["reasons"][0]["code"] == "unauthenticated"
    assert sent < 32 * MiB  # the server answered and closed: the rest of the 100 MB was never taken


async def test_a_chunked_body_is_refused_once_it_passes_the_limit_while_it_arrives(http_settings):
    limit = http_settings.kafka_max_message_bytes  # one issuance request's limit: the record size
    async with opened("issuer", http_settings) as service, serving(service.http) as port:
        head = (
            b"POST /v1/issuance-requests HTTP/1.1\r\nHost: issuer\r\nContent-Type: application/json\r\n"
            b"Authorization: Bearer " + FR_KEY.encode() + b"\r\nTransfer-Encoding: chunked\r\n\r\n"
        )
        piece = 64 * 1024
        chunk = b"%x\r\n" % piece + b" " * piece + b"\r\n"
        raw, sent = await stream(port, head, chunk, 200 * MiB)
    status, body = http_answer(raw)
    assert status == 413 and shaped(body, "body_too_large")
    assert limit < sent < limit + 32 * MiB


async def test_a_content_length_that_lies_does_not_stretch_the_limit(http_settings):
    async with opened("issuer", http_settings) as service:
        headers = {"authorization": f"Bearer {FR_KEY}", "content-type": "application/json", "content-length": "10"}
        status, _, body, pulls = await call(service.http, "POST", "/v1/issuance-requests", headers, endless())
        declared = {**headers, "content-length": str(2 * http_settings.kafka_max_message_bytes)}
        status2, _, body2, pulls2 = await call(service.http, "POST", "/v1/issuance-requests", declared, endless())
    assert status == 413 and shaped(json.loads(body), "body_too_large")
    assert pulls <= http_settings.kafka_max_message_bytes // (64 * 1024) + 1  # never a piece past the limit
    assert status2 == 413 and pulls2 == 0 and shaped(json.loads(body2), "body_too_large")  # refused before reading


async def test_json_routes_default_to_64_kib_and_uploads_are_larger(settings):
    async with opened("customs_gateway", settings) as service:
        status, _, body, _ = await call(
            service.http,
            "POST",
            "/v1/sessions",
            {"content-type": "application/json"},
            [b" " * (DEFAULT_BODY_LIMIT + 1)],
        )
        paths = service.http.openapi()["paths"]  # the limits are documented where clients read them
    assert status == 413 and shaped(json.loads(body), "body_too_large")
    assert paths["/v1/scans/image"]["post"]["x-max-body-bytes"] == 16 * MiB
    assert paths["/v1/admin/officers/import"]["post"]["x-max-body-bytes"] == 2 * MiB
    assert "x-max-body-bytes" not in paths["/v1/sessions"]["post"]  # the default


@pytest.mark.parametrize(
    "name,path",
    [
        ("issuer", "/v1/issuance-requests"),
        ("issuer", "/v1/issuance-requests/batch"),
        ("customs_gateway", "/v1/scans/image"),
        ("customs_gateway", "/v1/admin/officers/import"),
        ("customs_gateway", "/v1/commits"),
        ("customs_gateway", "/v1/commits/batch"),
        ("core", "/v1/carnets/FR2600000010/declarations"),
        ("notifier", "/v1/endpoints/webhooks"),
    ],
)
async def test_no_credentials_no_body_read(name, path, http_settings):
    settings = http_settings.model_copy(
        update={"wallet_issuer_public_key_path": ensure_wallet_issuer(http_settings.data_dir)}
    )
    async with opened(name, settings) as service:
        status, headers, body, pulls = await call(
            service.http, "POST", path, {"content-type": "application/json", "content-length": str(MiB)}, endless()
        )
    assert status == 401 and pulls == 0, body
    assert headers.get("connection") == "close"  # the unread body is not read afterwards either


# --- shape of JSON and headers ---------------------------------------------------------------------


def test_nesting_is_measured_without_recursion_and_strings_do_not_count():
    assert nested_deeper(b"[" * 100_000)
    assert not nested_deeper(b'{"a": [[1, 2], {"b": "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["}]}')
    assert not nested_deeper(b"[" * MAX_JSON_DEPTH + b"]" * MAX_JSON_DEPTH)
    assert nested_deeper(b"[" * (MAX_JSON_DEPTH + 1) + b"]" * (MAX_JSON_DEPTH + 1))
    assert not nested_deeper(b'[{"a":1}]' * 10_000)  # many brackets, shallow
    assert not nested_deeper(b'["\\"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["]')  # an escaped quote stays in the string


async def test_deep_json_is_refused_before_it_is_parsed(settings):
    async with (
        opened("customs_gateway", settings) as service,
        httpx.AsyncClient(transport=httpx.ASGITransport(app=service.http), base_url="http://gw") as http,
    ):
        deep = await http.post(
            "/v1/sessions",
            content=b'{"officer_id": ' + b"[" * 20_000 + b"]" * 20_000 + b"}",
            headers={"content-type": "application/json"},
        )
        metric = service.registry.get_sample_value("ata_http_refusals_total", {"reason": "json_too_deep"})
    assert deep.status_code == 422 and shaped(deep.json(), "json_too_deep")
    assert metric == 1


async def test_too_many_or_too_large_headers_are_431(settings):
    async with opened("customs_gateway", settings) as service, serving(service.http) as port:
        many = {f"x-{i}": "1" for i in range(MAX_HEADERS + 1)}
        asgi, _, body, _ = await call(service.http, "GET", "/health/live", many)
        raw, _ = await stream(
            port,
            b"GET /health/live HTTP/1.1\r\nHost: gw\r\nX-Big: " + b"a" * (MAX_HEAD_BYTES + 1) + b"\r\n\r\n",
            b"",
            0,
        )
        endless_field, sent = await stream(
            port, b"GET /health/live HTTP/1.1\r\nHost: gw\r\nX-Big: ", b"a" * 65536, 200 * MiB
        )
    assert asgi == 431 and shaped(json.loads(body), "headers_too_large")
    assert http_answer(raw)[0] == 431 and shaped(http_answer(raw)[1], "headers_too_large")
    assert http_answer(endless_field)[0] == 431 and sent < 32 * MiB


# --- control characters ----------------------------------------------------------------------------


async def test_nul_and_control_characters_in_paths_and_filters_are_4xx(http_settings):
    async with (
        opened("issuer", http_settings) as service,
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=service.http),
            base_url="http://issuer",
            headers={"Authorization": f"Bearer {FR_KEY}"},
        ) as http,
    ):
        answers = [await http.get(f"/v1/requests/{c}") for c in ("%00", "A%00B", "%1B%5B2J", "x%7F")]
    async with (
        opened("customs_gateway", http_settings) as service,
        httpx.AsyncClient(transport=httpx.ASGITransport(app=service.http), base_url="http://gw", headers=ADMIN) as http,
    ):
        answers += [
            await http.get("/v1/admin/audit", params={k: v})
            for k in ("officer_id", "carnet_number")
            for v in ("\x00", "fr\x00x", "\x1b[2J")
        ]
    assert [r.status_code for r in answers] == [422] * len(answers), [r.text for r in answers if r.status_code != 422]


async def test_a_wallet_token_whose_subject_has_control_characters_is_401(settings):
    settings = settings.model_copy(update={"wallet_issuer_public_key_path": ensure_wallet_issuer(settings.data_dir)})
    async with opened("core", settings) as service:
        answers = []
        for sub in ("hld\x00", "\x00", "hld_1\n", "hld\x1b[2J"):
            token = mint_wallet_token(private_key_path(settings.data_dir), sub, now=service.clock())
            async with httpx.AsyncClient(
                transport=httpx.ASGITransport(app=service.http),
                base_url="http://core",
                headers={"Authorization": f"Bearer {token}"},
            ) as http:
                answers.append(await http.get("/v1/carnets"))
    assert [r.status_code for r in answers] == [401] * 4
    assert {r.json()["detail"]["reason"] for r in answers} == {"malformed"}


# --- every route --------------------------------------------------------------------------------------


def routes(app: Any) -> list[APIRoute]:
    found: list[APIRoute] = []
    for route in app.routes:
        if isinstance(route, APIRoute):
            found.append(route)
        elif getattr(route, "include_context", None) is not None:  # FastAPI's included router
            found += routes(route.include_context.included_router)
        elif getattr(route, "routes", None):
            found += routes(route)
    return found


@pytest.mark.parametrize("name", SERVICES)
def test_every_route_of_every_service_is_limited(name, settings):
    settings = settings.model_copy(update={"wallet_issuer_public_key_path": ensure_wallet_issuer(settings.data_dir)})
    service = importlib.import_module(f"{name}.app").build(settings)
    found = routes(service.http)
    assert found and [r.path for r in found if not isinstance(r, LimitedRoute) and r.include_in_schema] == []


def test_the_services_run_uvicorn_with_the_bounded_protocol(monkeypatch, settings):
    seen: dict[str, Any] = {}
    monkeypatch.setattr(uvicorn.Server, "run", lambda self: seen.setdefault("http", self.config.http))
    service = build_issuer(settings)
    monkeypatch.setattr(service, "_settle_heap", False)
    service.run()
    assert seen["http"] is BoundedHttpToolsProtocol


async def test_a_photo_may_be_16_mib_and_not_a_byte_more(gateway):
    async with gateway() as g:
        boundary = "----ata"

        def multipart(size: int) -> bytes:
            return (
                (
                    f'--{boundary}\r\nContent-Disposition: form-data; name="image"; filename="qr.png"\r\n'
                    f"Content-Type: image/png\r\n\r\n"
                ).encode()
                + b"\x89" * size
                + f"\r\n--{boundary}--\r\n".encode()
            )

        headers = {**auth(), "content-type": f"multipart/form-data; boundary={boundary}"}
        fits = await g.http.post("/v1/scans/image", content=multipart(15 * MiB), headers=headers)
        status, _, body, pulls = await call(
            g.service.http,
            "POST",
            "/v1/scans/image",
            headers,
            [multipart(16 * MiB)[i : i + MiB] for i in range(0, 17 * MiB, MiB)],
        )
    assert fits.status_code == 400 and fits.json()["detail"]["reason"] == "no_qr"  # read, and not a picture
    assert status == 413 and shaped(json.loads(body), "body_too_large") and pulls <= 17

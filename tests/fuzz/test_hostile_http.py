"""Adversarial suite, HTTP half: every route of every service, signed in as its strongest party, gets the hostile
catalogue (tests/fuzz/hostile.py) in its body, path, query and headers. Every answer must be a 2xx or a 4xx
in the project's error shape (a JSON object with `detail`): never a 5xx.

The routes come from each service's OpenAPI document, so a route added later is covered without a change here.
The services run in-process (ASGI) on a real PostgreSQL; nothing here delivers anything outbound: the notifier's
delivery loop is not started, and the URLs the hostile bodies carry are mutations of a loopback example.
Figures (inputs per route, 5xx answers) go to var/fuzz/http-<service>.json for docs/reliability.md.
"""

from __future__ import annotations

import json
from collections import Counter
from contextlib import AsyncExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.fuzz import hostile
from tests.fuzz.schema_examples import example_body, path_values
from tests.support.worlds import open_world

NOW = datetime(2026, 11, 22, 9, 30, tzinfo=UTC)
SERVICES = ("issuer", "core", "customs_gateway", "claims_worker", "notifier")
#: Path and query values: the hostile strings cut to what a URL can carry (clients refuse 64 KiB URLs).
URL_STRINGS = [s[:4000] for s in hostile.HOSTILE_STRINGS]
HOSTILE_HEADERS: list[tuple[str, list[tuple[str, str | bytes]]]] = [
    ("authorization_huge", [("Authorization", "Bearer " + "A" * 60_000)]),
    ("authorization_duplicated", [("Authorization", "Bearer a"), ("Authorization", "Bearer b")]),
    ("authorization_not_bearer", [("Authorization", "Basic Zm9vOmJhcg==")]),
    ("authorization_jwt_none", [("Authorization", "Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.")]),
    ("content_type_lies", [("Content-Type", "application/xml")]),
    ("many_headers", [(f"X-Junk-{i}", "j" * 100) for i in range(300)]),
    ("office_hostile", [("X-Office-Id", ("FR-" + "\u202e" * 100).encode())]),
    ("office_control", [("X-Office-Id", b"FR-\x01\x7f")]),
    ("authorization_utf8", [("Authorization", "Bearer é\u202e".encode())]),
]


def _problem(response: httpx.Response) -> bool:
    try:
        return isinstance(response.json().get("detail"), (str, dict, list))
    except (ValueError, AttributeError):
        return False


async def _send(
    http: httpx.AsyncClient,
    method: str,
    url: str,
    headers: dict[str, str] | list[tuple[str, Any]],
    content: bytes | None = None,
    files: dict[str, Any] | None = None,
) -> httpx.Response:
    return await http.request(method, url, headers=headers, content=content, files=files)


def _headers_for(world: Any, path: str) -> dict[str, str]:
    admin = "/v1/admin/" in path
    return dict(world.headers.get("admin" if admin else "default", world.headers.get("default", {})))


@pytest.mark.parametrize("name", SERVICES)
async def test_no_hostile_input_makes_a_service_answer_5xx(name: str, pg_server: str, tmp_path: Path) -> None:
    async with AsyncExitStack() as stack:
        world = await open_world(stack, name, pg_server, tmp_path, NOW)
        doc = world.service.http.openapi()
        tried: Counter[str] = Counter()
        failures: list[str] = []
        async with world.client() as http:
            for path, operations in doc["paths"].items():
                for method, operation in operations.items():
                    route = f"{method.upper()} {path}"
                    async for label, response in _attacks(http, world, doc, path, method, operation):
                        tried[route] += 1
                        if _forbidden_text(label) and _accepted(response):
                            failures.append(f"{route} [{label}]: {response.status_code}, accepted")
                        elif response.status_code >= 500 and not (path == "/health" and response.status_code == 503):
                            failures.append(f"{route} [{label}]: {response.status_code} {response.text[:200]}")
                        elif 400 <= response.status_code < 500 and not _problem(response):
                            failures.append(
                                f"{route} [{label}]: {response.status_code} not in the error shape: "
                                f"{response.text[:200]}"
                            )
        _write_figures(name, tried, failures)
    assert min(tried.values()) >= len(HOSTILE_HEADERS)  # every route got at least the header attacks
    assert failures == []


async def _attacks(
    http: httpx.AsyncClient, world: Any, doc: dict[str, Any], path: str, method: str, operation: dict[str, Any]
):
    headers = _headers_for(world, path)
    params = path_values(operation, world)
    url = path.format(**params)
    content_types = list(operation.get("requestBody", {}).get("content", {}))
    route = f"{method.upper()} {path}"
    body = world.bodies.get(route) or (example_body(doc, operation) if "application/json" in content_types else None)
    json_headers = {**headers, "Content-Type": "application/json"}
    valid_content = hostile.encode(body) if body is not None else None

    for name in params:
        for i, value in enumerate(URL_STRINGS):
            hostile_params = {**params, name: _quote(value) or "%20"}
            yield (
                f"path {name}#{i}",
                await _send(http, method, path.format(**hostile_params), json_headers, content=valid_content),
            )
    for parameter in operation.get("parameters", []):
        if parameter["in"] == "query":
            for i, value in enumerate(URL_STRINGS + [str(v) for v in hostile.HOSTILE_NUMBERS]):
                query = f"{url}?{_quote(parameter['name'])}={_quote(value)}"
                yield f"query {parameter['name']}#{i}", await _send(http, method, query, headers)
    for label, extra in HOSTILE_HEADERS:
        merged = [(k, v) for k, v in json_headers.items() if k.lower() not in {e.lower() for e, _ in extra}] + extra
        yield f"header {label}", await _send(http, method, url, merged, content=valid_content)
    if method in ("get", "delete") and not content_types:
        yield "unexpected_body", await _send(http, method, url, json_headers, content=hostile.deep_json(1000))
        return
    if "application/json" in content_types:
        for whole in hostile.whole_bodies(body):
            yield f"body {whole.name}", await _send(http, method, url, json_headers, content=whole.data)
        if isinstance(body, dict):
            for label, mutated in hostile.field_mutations(body):
                yield f"field {label}", await _send(http, method, url, json_headers, content=hostile.encode(mutated))
    elif "multipart/form-data" in content_types:
        for label, data in _image_attacks():
            yield (
                f"image {label}",
                await _send(http, method, url, headers, files={"image": ("qr.png", data, "image/png")}),
            )
    elif content_types:
        for whole in hostile.whole_bodies({"a": "b"}):
            yield (
                f"raw {whole.name}",
                await _send(http, method, url, {**headers, "Content-Type": content_types[0]}, content=whole.data),
            )


def _accepted(response: httpx.Response) -> bool:
    """A 2xx that is not an answer of refusal (the issuer answers a rejected request with 200 and its reasons)."""
    if response.status_code >= 400:
        return False
    try:
        return response.json().get("status") not in ("rejected", "refused")
    except (ValueError, AttributeError):
        return True


def _forbidden_text(label: str) -> bool:
    """A field set to text no contract admits anywhere: NUL, escape, or a lone surrogate (R-independent hygiene)."""
    return label.startswith("field ") and any(bad in label for bad in ("\\x00", "\\x1b", "\\ud800"))


def _quote(value: str) -> str:
    """Percent-encoded as a raw client sends it, lone surrogates included (httpx itself refuses control characters)."""
    from urllib.parse import quote

    return quote(value.encode("utf-8", "surrogatepass"), safe="")


def _image_attacks() -> list[tuple[str, bytes]]:
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    # A PNG header claiming 60,000 x 60,000 pixels: a decompression bomb if a decoder believes it.
    bomb = (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", 60_000, 60_000, 8, 0, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(b"\x00" * 1_000_000))
        + chunk(b"IEND", b"")
    )
    return [
        ("empty", b""),
        ("not_an_image", b"hello"),
        ("bomb", bomb),
        ("truncated_png", bomb[:40]),
        ("huge", b"\x89PNG\r\n\x1a\n" + b"\x00" * (30 * 1024 * 1024)),
    ]


def _write_figures(name: str, tried: Counter[str], failures: list[str]) -> None:
    out = Path("var/fuzz")
    out.mkdir(parents=True, exist_ok=True)
    (out / f"http-{name}.json").write_text(
        json.dumps(
            {
                "service": name,
                "inputs_per_route": dict(sorted(tried.items())),
                "inputs": sum(tried.values()),
                "answers_5xx": len([f for f in failures if "]: 5" in f]),
                "failures": failures[:50],
            },
            indent=1,
        )
    )

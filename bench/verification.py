"""Verification at the gateway over HTTP: from the token text, and from a photo of the QR.

Tokens are real declarations of the running stack (left pending, never committed). The photos
are the phone-photo-like degradations of bench/qr_photos.py (rotation, perspective, blur, noise,
JPEG...) applied to those tokens' QR symbols, seeded so every run sends the same images; the
holder app's own PNG (GET .../qr.png) is timed apart as the screenshot case.
Latency is measured one request at a time (what one officer waits); ops/s with a few officers'
requests in flight together.

The token requests go through aiohttp, on their own keep-alive connections: httpx spent ~2.5-3.7 ms
of the load generator's CPU per request on this 2-core machine (aiohttp ~0.5-1.0 ms, a bare
HTTP/1.1 client ~0.3 ms; bench/README.md, round 3), as much as the gateway's whole scan, and on two
shared cores that CPU is taken from the gateway too. The figure should be the gateway's. httpx's
one-at-a-time figures are kept next to it (`verify_token_httpx_*`) for comparison with earlier runs.
The photos go through aiohttp too, each a multipart/form-data upload encoded before the clock starts.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import httpx

from bench.crossings import pct
from bench.qr_photos import degrade, master_image, sample_params


async def _timed(n: int, concurrency: int, op: Callable[[int], Awaitable[bool]]) -> tuple[list[float], float, int]:
    """Run op(0..n-1) with `concurrency` in flight; latencies (ms), elapsed seconds, failures."""
    latencies: list[float] = []
    failures = 0
    queue = iter(range(n))

    async def worker() -> None:
        nonlocal failures
        for i in queue:
            t = time.perf_counter()
            ok = await op(i)
            latencies.append((time.perf_counter() - t) * 1000)
            failures += not ok

    begun = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return sorted(latencies), time.perf_counter() - begun, failures


def _cpu_ms() -> float:
    return time.process_time() * 1000


def _figures(
    prefix: str, serial: tuple[list[float], float, int], parallel: tuple[list[float], float, int]
) -> dict[str, Any]:
    lat, _, failed = serial
    plat, elapsed, pfailed = parallel
    return {
        f"{prefix}_p50_ms": pct(lat, 50),
        f"{prefix}_p99_ms": pct(lat, 99),
        f"{prefix}_max_ms": pct(lat, 100),
        f"{prefix}_ops_per_s": round(len(plat) / elapsed, 1),
        f"{prefix}_requests": len(lat) + len(plat),
        f"{prefix}_failed": failed + pfailed,
    }


async def measure(
    http: httpx.AsyncClient,
    core: str,
    gateway: str,
    holder: dict[str, str],
    officer: dict[str, str],
    declarations: list[dict[str, Any]],
    *,
    requests: int,
    photos: int,
    seed: int = 7,
    concurrency: int = 4,
) -> dict[str, Any]:
    tokens = [d["token"] for d in declarations]
    # The photos first: made after the HTTP calls, their seconds of CPU would leave the pooled
    # connections idle past the server's keep-alive and the next request would hit a closed one.
    rng = random.Random(seed)
    masters = [master_image(t) for t in tokens]
    shots = []
    for i in range(photos):
        p = sample_params(rng)
        shots.append(degrade(masters[i % len(masters)], p, rng))

    out = await _by_token(gateway, officer, tokens, requests, concurrency)

    async def by_token_httpx(i: int) -> bool:
        r = await http.post(f"{gateway}/v1/scans", headers=officer, json={"token": tokens[i % len(tokens)]})
        return r.status_code == 200

    for i in range(min(20, requests)):
        await by_token_httpx(i)
    lat, _, failed = await _timed(requests, 1, by_token_httpx)
    out |= {
        "verify_token_httpx_p50_ms": pct(lat, 50),
        "verify_token_httpx_p99_ms": pct(lat, 99),
        "verify_token_httpx_failed": failed,
    }

    pngs = [(await http.get(f"{core}{d['qr_png_url']}", headers=holder)).content for d in declarations]
    out |= await _by_image(gateway, officer, shots, tokens, "verify_image", photos, concurrency)
    out |= await _by_image(gateway, officer, pngs, tokens, "verify_png", len(pngs), concurrency)
    out["verify_concurrency"] = concurrency
    return out


async def _by_token(
    gateway: str, officer: dict[str, str], tokens: list[str], requests: int, concurrency: int
) -> dict[str, Any]:
    """`POST /v1/scans` as an officer's device sends it (JSON body, bearer session) over real TCP, keep-alive,
    the whole answer read; the body bytes are made before the clock starts."""
    bodies = [json.dumps({"token": t}).encode() for t in tokens]
    return await _posted(
        f"{gateway}/v1/scans",
        {**officer, "Content-Type": "application/json"},
        bodies,
        lambda i, answer: True,
        "verify_token",
        requests,
        concurrency,
        warm=min(20, requests),
    )


async def _by_image(
    gateway: str,
    officer: dict[str, str],
    images: list[bytes],
    tokens: list[str],
    prefix: str,
    requests: int,
    concurrency: int,
) -> dict[str, Any]:
    """`POST /v1/scans/image` as a phone app uploads a photo: one multipart/form-data part, encoded before the
    clock starts; a request counts only if the gateway read back the very token the photo shows."""
    boundary = "ata-bench-" + "0" * 16

    def part(data: bytes) -> bytes:
        kind = "image/png" if data[:4] == b"\x89PNG" else "image/jpeg"
        head = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="image"; filename="qr"\r\n'
            f"Content-Type: {kind}\r\n\r\n"
        )
        return head.encode() + data + f"\r\n--{boundary}--\r\n".encode()

    bodies = [part(data) for data in images]

    def read_back(i: int, answer: bytes) -> bool:
        return json.loads(answer).get("token") == tokens[i % len(tokens)]

    return await _posted(
        f"{gateway}/v1/scans/image",
        {**officer, "Content-Type": f"multipart/form-data; boundary={boundary}"},
        bodies,
        read_back,
        prefix,
        requests,
        concurrency,
        warm=0,
    )


async def _posted(
    url: str,
    headers: dict[str, str],
    bodies: list[bytes],
    ok: Callable[[int, bytes], bool],
    prefix: str,
    requests: int,
    concurrency: int,
    *,
    warm: int,
) -> dict[str, Any]:
    """POST body i % len(bodies) for i in 0..requests-1, one at a time then `concurrency` in flight, on keep-alive
    connections; a request succeeds on 200 and ok(i, answer). Figures under `prefix`, with the client's CPU."""
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(
        connector=connector, timeout=aiohttp.ClientTimeout(total=30), cookie_jar=aiohttp.DummyCookieJar()
    ) as session:  # the API sets no cookies

        async def op(i: int) -> bool:
            async with session.post(url, data=bodies[i % len(bodies)], headers=headers) as r:
                answer = await r.read()
                return r.status == 200 and ok(i, answer)

        # Warm the gateway's caches (tokens) and open every connection the parallel run uses.
        await _timed(max(warm, concurrency), concurrency, op)
        cpu = _cpu_ms()
        serial = await _timed(requests, 1, op)
        client_cpu = (_cpu_ms() - cpu) / max(requests, 1)
        out = _figures(prefix, serial, await _timed(requests, concurrency, op))
    out[f"{prefix}_client_cpu_ms"] = round(client_cpu, 3)  # the load generator's own CPU per request
    return out

"""Verification at the gateway over HTTP: from the token text, and from a photo of the QR.

Tokens are real declarations of the running stack (left pending, never committed). The photos
are the phone-photo-like degradations of bench/qr_images.py (rotation, perspective, blur, noise,
JPEG...) applied to those tokens' QR symbols, seeded so every run sends the same images; the
holder app's own PNG (GET .../qr.png) is timed apart as the screenshot case.
Latency is measured one request at a time (what one officer waits); ops/s with a few officers'
requests in flight together.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from bench.crossings import pct
from bench.qr_images import _master, degrade, sample_params


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


def _figures(prefix: str, serial: tuple[list[float], float, int], parallel: tuple[list[float], float, int]) -> dict[str, Any]:
    lat, _, failed = serial
    plat, elapsed, pfailed = parallel
    return {f"{prefix}_p50_ms": pct(lat, 50), f"{prefix}_p99_ms": pct(lat, 99), f"{prefix}_max_ms": pct(lat, 100),
            f"{prefix}_ops_per_s": round(len(plat) / elapsed, 1), f"{prefix}_requests": len(lat) + len(plat),
            f"{prefix}_failed": failed + pfailed}


async def measure(http: httpx.AsyncClient, core: str, gateway: str, holder: dict[str, str], officer: dict[str, str],
                  declarations: list[dict[str, Any]], *, requests: int, photos: int, seed: int = 7,
                  concurrency: int = 4) -> dict[str, Any]:
    tokens = [d["token"] for d in declarations]
    # The photos first: made after the HTTP calls, their seconds of CPU would leave the pooled
    # connections idle past the server's keep-alive and the next request would hit a closed one.
    rng = random.Random(seed)
    masters = [_master(t) for t in tokens]
    shots = []
    for i in range(photos):
        p = sample_params(rng)
        shots.append(degrade(masters[i % len(masters)], p, rng))

    async def by_token(i: int) -> bool:
        r = await http.post(f"{gateway}/v1/scans", headers=officer, json={"token": tokens[i % len(tokens)]})
        return r.status_code == 200

    for i in range(min(20, requests)):  # warm the gateway's caches and connections
        await by_token(i)
    out = _figures("verify_token", await _timed(requests, 1, by_token), await _timed(requests, concurrency, by_token))

    pngs = [(await http.get(f"{core}{d['qr_png_url']}", headers=holder)).content for d in declarations]

    def by_image(images: list[bytes]) -> Callable[[int], Awaitable[bool]]:
        async def op(i: int) -> bool:
            data = images[i % len(images)]
            kind = "image/png" if data[:4] == b"\x89PNG" else "image/jpeg"
            r = await http.post(f"{gateway}/v1/scans/image", headers=officer, files={"image": ("qr", data, kind)})
            return r.status_code == 200 and r.json().get("token") == tokens[i % len(tokens)]
        return op

    out |= _figures("verify_image", await _timed(photos, 1, by_image(shots)), await _timed(photos, concurrency, by_image(shots)))
    out |= _figures("verify_png", await _timed(len(pngs), 1, by_image(pngs)), await _timed(len(pngs), concurrency, by_image(pngs)))
    out["verify_concurrency"] = concurrency
    return out

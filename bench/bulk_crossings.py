"""Bulk crossings: a customs system commits a whole inspection at once (POST /v1/commits/batch).

The holders' declarations are made first (not timed: they are the holders' part, measured by the crossings
figure); then the commits are posted in batches of `BATCH`, a few batches in flight (one per officer session,
as a customs system's workers would), and the figure runs from the first batch posted to the last
confirmation received at the holder's webhook: `bulk_crossings_per_s`. Latency per crossing runs from its
batch's POST to its confirmation. The carnets go back to the crossings' ready queue for the next run.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from bench.crossings import CrossingError, Crossings, pct

BATCH = 50
#: Crossings per run: 40 batches in the full benchmark, 4 in the quick one.
COUNT = {"quick": 200, "latest": 2_000}
DECLARING = 16  # declarations in flight while preparing


async def measure(cx: Crossings, mode: str) -> dict[str, Any]:
    numbers = [cx.ready.get_nowait() for _ in range(min(COUNT.get(mode, COUNT["quick"]), cx.ready.qsize()))]
    lanes = asyncio.Semaphore(DECLARING)

    async def declared(number: str) -> str:
        async with lanes:
            return (await cx.declare(number))["token"]

    began = time.perf_counter()
    tokens = await asyncio.gather(*(declared(n) for n in numbers))
    declare_s = time.perf_counter() - began
    loop = asyncio.get_running_loop()
    waiters = {n: loop.create_future() for n in numbers}
    cx.receiver.waiters.update(waiters)
    posted: dict[str, float] = {}
    refused: list[str] = []

    async def post(officer: int, batches: list[list[int]]) -> None:
        for batch in batches:
            at = time.perf_counter()
            r = await cx.http.post(
                f"{cx.gateway}/v1/commits/batch",
                headers=cx.officers[officer],
                json={"items": [{"token": tokens[i], "decision": "committed"} for i in batch]},
            )
            if r.status_code != 200:
                raise CrossingError(f"batch refused: {r.status_code} {r.text[:300]}")
            for i, item in zip(batch, r.json()["items"], strict=True):
                if item["status"] == 202:
                    posted[numbers[i]] = at
                else:
                    refused.append(f"{numbers[i]}: {item['reason']}")
                    waiters[numbers[i]].cancel()

    batches = [list(range(i, min(i + BATCH, len(numbers)))) for i in range(0, len(numbers), BATCH)]
    lanes_n = len(cx.officers)
    started = time.perf_counter()
    try:
        await asyncio.gather(*(post(k, batches[k::lanes_n]) for k in range(lanes_n)))
        pending = [w for w in waiters.values() if not w.cancelled()]
        done = (await asyncio.wait(pending, timeout=cx.timeout_s))[0] if pending else set()
    finally:
        for n in numbers:
            cx.receiver.waiters.pop(n, None)
    confirmed = {n: w.result() for n, w in waiters.items() if w in done}
    elapsed = max(confirmed.values(), default=started) - started
    for n in confirmed:  # the next crossing of these carnets is the other kind (bench/crossings.py)
        cx.next_kind[n] = 1 - cx.next_kind[n]
        cx.ready.put_nowait(n)
    latencies = sorted((confirmed[n] - posted[n]) * 1000 for n in confirmed)
    return {
        "bulk_crossings_per_s": round(len(confirmed) / elapsed, 1) if elapsed > 0 else None,
        "bulk_crossings": {
            "count": len(numbers),
            "batch": BATCH,
            "batches_in_flight": lanes_n,
            "confirmed": len(confirmed),
            "refused": refused[:5],
            "refused_count": len(refused),
            "seconds": round(elapsed, 2),
            "declarations_s": round(declare_s, 2),
            "p50_ms": pct(latencies, 50),
            "p99_ms": pct(latencies, 99),
        },
    }

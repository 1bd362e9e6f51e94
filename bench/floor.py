"""The floor: the least CPU one crossing can cost on this machine, whatever code surrounds its parts.

Issue 9's crossing is, at the least: three HTTP exchanges (the holder declares at the core, the officer
commits at the gateway, the notifier delivers the confirmation to the holder's webhook), two Kafka hops
(the commit, gateway -> core; the confirmation request, core -> notifier), one ES256 signature (the
token) and one verification (at the gateway), and eight durable rows (declaration, commit log,
transaction, two outbox rows, two inbox rows, the delivery). This module times those parts alone, with
the libraries the services use and none of their code: uvicorn + FastAPI with a pydantic body against
an aiohttp keep-alive client, tokens.cose on a real declaration token, asyncpg batch inserts into the
stack's PostgreSQL. The Kafka hop comes from the relay ceiling (bench/relay.py: the relay's CPU and the
broker's, per message). bench/__main__.py adds them up (`floor`): no design of these services on this
machine goes under that sum, so cores / sum bounds the crossings per second from above.

`python -m bench.floor --database-url DSN [--quick]` prints one JSON line; it runs in its own process
on uvloop, as the services do.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import sys
import time
from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import uuid4

#: What one crossing needs at the least (module docstring).
PER_CROSSING = {"http_exchanges": 3, "kafka_hops": 2, "es256_signatures": 1, "es256_verifications": 1, "rows": 8}

_SERVER = """
import uvicorn
from fastapi import FastAPI
from pydantic import BaseModel

class Declaration(BaseModel):
    carnet_number: str
    kind: str
    country: str
    items: list[int]

app = FastAPI()

@app.post("/v1/declarations")
async def declare(body: Declaration) -> dict:
    return {"carnet_number": body.carnet_number, "items": body.items, "accepted": True}

uvicorn.run(app, host="127.0.0.1", port=PORT, loop="uvloop", http="httptools", log_level="warning",
            access_log=False)
"""


def summed(parts: dict[str, float], relay_cpu_ms_per_msg: float | None, cores: int) -> dict[str, Any]:
    """The floor per crossing from the measured parts and PER_CROSSING, and the rate it allows."""
    if relay_cpu_ms_per_msg is None:
        return {}
    ms = {
        "http": PER_CROSSING["http_exchanges"] * (parts["http_server_cpu_ms"] + parts["http_client_cpu_ms"]),
        "kafka": PER_CROSSING["kafka_hops"] * relay_cpu_ms_per_msg,
        "es256": PER_CROSSING["es256_signatures"] * parts["es256_sign_ms"]
        + PER_CROSSING["es256_verifications"] * parts["es256_verify_ms"],
        "rows": PER_CROSSING["rows"] * (parts["pg_row_client_cpu_ms"] + parts["pg_row_server_cpu_ms"]),
    }
    total = sum(ms.values())
    return {
        "crossing_floor_cpu_ms": round(total, 3),
        "crossing_floor_parts_ms": {k: round(v, 3) for k, v in ms.items()},
        "crossings_ceiling_per_s": round(cores * 1000 / total, 1),
    }


async def http_exchange(requests: int, in_flight: int = 8) -> dict[str, float]:
    """CPU per exchange of a pydantic-validated POST, server and client, on keep-alive connections."""
    import aiohttp
    import psutil

    from deploy.local.processes import free_port

    port = free_port()
    server = await asyncio.create_subprocess_exec(sys.executable, "-c", _SERVER.replace("PORT", str(port)))
    url = f"http://127.0.0.1:{port}/v1/declarations"
    body = json.dumps(
        {"carnet_number": "FR-2026-0001234", "kind": "exportation", "country": "DE", "items": [1, 2, 3]}
    ).encode()
    headers = {"content-type": "application/json"}
    try:
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=in_flight)) as session:

            async def post() -> None:
                async with session.post(url, data=body, headers=headers) as answer:
                    await answer.read()
                    if answer.status != 200:
                        raise RuntimeError(f"the floor's HTTP server answered {answer.status}")

            for _ in range(100):  # until it listens
                try:
                    await post()
                    break
                except aiohttp.ClientConnectionError:
                    await asyncio.sleep(0.1)
            for _ in range(200):
                await post()
            proc = psutil.Process(server.pid)
            left = iter(range(requests))

            async def worker() -> None:
                for _ in left:
                    await post()

            s0, c0 = sum(proc.cpu_times()[:2]), time.thread_time()
            await asyncio.gather(*(worker() for _ in range(in_flight)))
            s1, c1 = sum(proc.cpu_times()[:2]), time.thread_time()
    finally:
        server.terminate()
        await asyncio.wait_for(server.wait(), 10)
    return {
        "http_server_cpu_ms": round((s1 - s0) * 1000 / requests, 4),
        "http_client_cpu_ms": round((c1 - c0) * 1000 / requests, 4),
    }


def es256(rounds: int) -> dict[str, float]:
    """A real declaration token: signed as the core signs it, verified as the gateway verifies it."""
    from contracts.kinds import DeclarationKind
    from contracts.token import DeclarationClaims
    from contracts.txcode import new_transaction_code
    from tokens.cose import generate_signing_key, sign_token, verify_token

    key = generate_signing_key()
    issued = datetime(2026, 6, 1, 8, 30, tzinfo=UTC)
    claims = DeclarationClaims(
        carnet_number="FR-2026-0001234",
        transaction_code=new_transaction_code(os.urandom),
        kind=DeclarationKind.EXPORTATION,
        country="DE",
        items=(1, 2, 3),
        general_list_digest=hashlib.sha256(b"general list").hexdigest()[:32],
        sequence=1,
        carnet_expiry=date(2027, 5, 31),
        token_id=uuid4(),
        issued_at=issued,
        expires_at=issued + timedelta(hours=24),
    ).to_cwt()
    public = key.public_key
    t0 = time.thread_time()
    tokens = [sign_token(claims, key) for _ in range(rounds)]
    t1 = time.thread_time()
    for token in tokens:
        verify_token(token, lambda kid: public, issued)
    t2 = time.thread_time()
    return {
        "es256_sign_ms": round((t1 - t0) * 1000 / rounds, 4),
        "es256_verify_ms": round((t2 - t1) * 1000 / rounds, 4),
    }


async def rows(database_url: str, count: int) -> dict[str, float]:
    """A durable row at its cheapest: one of `count` inserted by one statement in one transaction."""
    import asyncpg
    import psutil

    conn = await asyncpg.connect(database_url)
    try:
        backend = psutil.Process(await conn.fetchval("SELECT pg_backend_pid()"))
        await conn.execute(
            "CREATE TEMP TABLE floor_rows (id uuid PRIMARY KEY, carnet_number text NOT NULL, "
            "body jsonb NOT NULL, at timestamptz NOT NULL DEFAULT now())"
        )
        body = json.dumps({"kind": "exportation", "country": "DE", "items": list(range(1, 40)), "pad": "x" * 300})
        batch = [(uuid4(), f"FR-2026-{i:07d}", body) for i in range(count)]
        insert = (
            "INSERT INTO floor_rows (id, carnet_number, body) SELECT * FROM unnest($1::uuid[], $2::text[], $3::jsonb[])"
        )
        columns = [list(c) for c in zip(*batch, strict=True)]
        await conn.execute(insert, *columns)  # warm: plan and catalogue caches
        await conn.execute("TRUNCATE floor_rows")
        s0, c0 = sum(backend.cpu_times()[:2]), time.thread_time()
        async with conn.transaction():
            await conn.execute(insert, *columns)
        s1, c1 = sum(backend.cpu_times()[:2]), time.thread_time()
    finally:
        await conn.close()
    return {
        "pg_row_client_cpu_ms": round((c1 - c0) * 1000 / count, 4),
        "pg_row_server_cpu_ms": round((s1 - s0) * 1000 / count, 4),
    }


async def measure(database_url: str, *, quick: bool) -> dict[str, float]:
    out = await http_exchange(1_000 if quick else 5_000)
    out |= es256(300 if quick else 2_000)
    out |= await rows(database_url, 2_000 if quick else 20_000)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    import uvloop

    uvloop.install()
    print(json.dumps(asyncio.run(measure(args.database_url, quick=args.quick))))


if __name__ == "__main__":
    main()

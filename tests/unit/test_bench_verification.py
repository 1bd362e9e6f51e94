"""Issue 9: the verify-from-token latency loop sends what an officer's device sends, over real TCP, and counts
every refusal as a failure (bench/verification.py)."""

import asyncio
import json

from bench.verification import _by_token


async def test_token_loop_posts_the_json_token_with_the_session_on_kept_alive_connections():
    seen: list[tuple[bytes, dict[str, str], dict[str, str]]] = []
    connections = 0

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                line, *fields = head.decode().split("\r\n")
                headers = {k.lower(): v.strip() for k, v in (f.split(":", 1) for f in fields if f)}
                body = json.loads(await reader.readexactly(int(headers["content-length"])))
                seen.append((line.encode(), headers, body))
                status = b"401 Unauthorized" if body["token"] == "ATA1:BAD" else b"200 OK"
                writer.write(b"HTTP/1.1 " + status + b"\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        out = await _by_token(f"http://127.0.0.1:{port}", {"Authorization": "Bearer s3ssion"},
                              ["ATA1:ONE", "ATA1:TWO", "ATA1:BAD"], 30, 4)
    assert out["verify_token_requests"] == 60
    assert out["verify_token_failed"] == 20  # every third token refused, in the serial and the parallel run
    assert out["verify_token_p50_ms"] > 0 and out["verify_token_ops_per_s"] > 0
    assert len(seen) == 20 + 60  # the warm-up, then the measured requests
    line, headers, body = seen[-1]
    assert line == b"POST /v1/scans HTTP/1.1"
    assert headers["authorization"] == "Bearer s3ssion" and headers["content-type"] == "application/json"
    assert body["token"].startswith("ATA1:")
    assert connections <= 4  # keep-alive: no connection set up per request

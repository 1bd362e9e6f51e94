"""Issue 9: the verify-from-token latency loop sends what an officer's device sends, over real TCP, and counts
every refusal as a failure (bench/verification.py)."""

import asyncio
import json

from bench.verification import _by_image, _by_token


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
                writer.write(
                    b"HTTP/1.1 " + status + b"\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"
                )
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        out = await _by_token(
            f"http://127.0.0.1:{port}", {"Authorization": "Bearer s3ssion"}, ["ATA1:ONE", "ATA1:TWO", "ATA1:BAD"], 30, 4
        )
    assert out["verify_token_requests"] == 60
    assert out["verify_token_failed"] == 20  # every third token refused, in the serial and the parallel run
    assert out["verify_token_p50_ms"] > 0 and out["verify_token_ops_per_s"] > 0
    assert len(seen) == 20 + 60  # the warm-up, then the measured requests
    line, headers, body = seen[-1]
    assert line == b"POST /v1/scans HTTP/1.1"
    assert headers["authorization"] == "Bearer s3ssion" and headers["content-type"] == "application/json"
    assert body["token"].startswith("ATA1:")
    assert connections <= 4  # keep-alive: no connection set up per request


async def test_photo_loop_uploads_one_multipart_part_and_counts_a_wrong_read_as_a_failure():
    """A photo counts only if the gateway read back the very token it shows (R9 tokens, issue 9 item 2)."""
    parts: list[bytes] = []

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                fields = head.decode().split("\r\n")[1:]
                headers = {k.lower(): v.strip() for k, v in (f.split(":", 1) for f in fields if f)}
                body = await reader.readexactly(int(headers["content-length"]))
                boundary = headers["content-type"].split("boundary=")[1].encode()
                part = body.split(b"--" + boundary)[1]
                parts.append(part)
                image = part.split(b"\r\n\r\n", 1)[1].removesuffix(b"\r\n")
                # the "decoder": the image bytes name the token, except one photo read wrongly
                token = "ATA1:WRONG" if image == b"JPEG-TWO" else image.split(b"-", 1)[1].decode().replace("-", ":")
                answer = json.dumps({"token": token}).encode()
                writer.write(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
                    + str(len(answer)).encode()
                    + b"\r\n\r\n"
                    + answer
                )
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    images = [b"JPEG-ATA1-ONE", b"JPEG-TWO", b"\x89PNG-ATA1-THREE"]
    async with server:
        out = await _by_image(
            f"http://127.0.0.1:{port}",
            {"Authorization": "Bearer s3ssion"},
            images,
            ["ATA1:ONE", "ATA1:TWO", "ATA1:THREE"],
            "verify_image",
            6,
            2,
        )
    # TWO reads back wrong: requests 1 and 4 of each run of six
    assert out["verify_image_requests"] == 12 and out["verify_image_failed"] == 4
    assert b'name="image"' in parts[0] and b"Content-Type: image/jpeg" in parts[0]
    assert any(b"Content-Type: image/png" in p for p in parts)

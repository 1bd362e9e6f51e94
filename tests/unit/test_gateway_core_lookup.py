"""The gateway's client of the core's typed-code route: what it accepts as an answer, and what makes it 503."""

import asyncio
import json
from datetime import UTC, datetime
from uuid import uuid4

import httpx
import pytest

from customs_gateway.core_lookup import CoreDeclarations, Unavailable

CODE = "7K3M9QX2D4RA8"
ANSWER = {
    "transaction_code": CODE,
    "carnet_number": "FR2600000010",
    "kind": "exportation",
    "country": "FR",
    "items": [1, 2],
    "sequence": 1,
    "token_id": str(uuid4()),
    "token_expires_at": datetime(2026, 11, 25, tzinfo=UTC).isoformat(),
}


def core(answer: httpx.Response | Exception, seen: list[httpx.Request] | None = None) -> CoreDeclarations:
    def respond(request: httpx.Request) -> httpx.Response:
        if seen is not None:
            seen.append(request)
        if isinstance(answer, Exception):
            raise answer
        return answer

    return CoreDeclarations("http://core", "the-token", httpx.MockTransport(respond))


async def test_the_declaration_is_asked_with_the_customs_token_and_the_officer():
    seen: list[httpx.Request] = []
    found = await core(httpx.Response(200, json=ANSWER), seen).by_code(CODE, "fr-officer-0001")
    assert found is not None and (found.carnet_number, found.items) == ("FR2600000010", (1, 2))
    assert seen[0].url.path == f"/v1/customs/declarations/{CODE}"
    assert (seen[0].headers["authorization"], seen[0].headers["x-officer-id"]) == (
        "Bearer the-token",
        "fr-officer-0001",
    )


async def test_an_unknown_code_is_none():
    assert await core(httpx.Response(404, json={})).by_code(CODE, "fr-officer-0001") is None


@pytest.mark.parametrize(
    "answer",
    [
        httpx.Response(401, json={}),  # the core refused the token
        httpx.Response(500, text="boom"),
        httpx.Response(200, json={**ANSWER, "transaction_code": "0" * 13}),  # an answer for another code
        httpx.Response(200, json={**ANSWER, "items": "1,2"}),  # not the contract
        httpx.Response(200, content=json.dumps({**ANSWER, "pad": "x" * 9000}).encode()),  # over the bound
        httpx.ConnectError("refused"),
    ],
)
async def test_anything_but_an_answer_for_this_code_is_503_core_unavailable(answer):
    with pytest.raises(Unavailable) as caught:
        await core(answer).by_code(CODE, "fr-officer-0001")
    assert (caught.value.reason, caught.value.status) == ("core_unavailable", 503)


async def test_a_gateway_without_core_url_or_token_answers_503_without_asking():
    with pytest.raises(Unavailable):
        await CoreDeclarations(None, "the-token").by_code(CODE, "fr-officer-0001")
    with pytest.raises(Unavailable):
        await CoreDeclarations("http://core", None).by_code(CODE, "fr-officer-0001")


async def test_an_answer_without_end_is_cut_at_the_bound_not_read_whole():
    """Bounded by construction: the gateway stops reading the core's answer past MAX_ANSWER_BYTES."""
    sent: list[int] = []

    async def endless():
        while True:
            sent.append(1)
            yield b"x" * 1024

    async with asyncio.timeout(10):  # reading the whole answer would never end
        with pytest.raises(Unavailable):
            await core(httpx.Response(200, stream=httpx_stream(endless()))).by_code(CODE, "fr-officer-0001")
    assert len(sent) <= 10  # 8 KiB and a chunk, not the whole (endless) body


def httpx_stream(chunks):
    class Stream(httpx.AsyncByteStream):
        async def __aiter__(self):
            async for chunk in chunks:
                yield chunk

    return Stream()

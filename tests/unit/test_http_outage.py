"""runtime.http_errors: the database away answers 503 with Retry-After in the one error shape; any other fault a
500 in the same shape, never a traceback or the exception's text."""

from __future__ import annotations

import asyncpg
import httpx
import pytest
from fastapi import FastAPI

from runtime import http_errors


def app() -> FastAPI:
    api = FastAPI()
    http_errors.install(api)

    @api.get("/broken-mid-operation")
    async def broken() -> None:
        raise asyncpg.InternalClientError("cannot switch to state 15; another operation (2) is in progress")

    @api.get("/refused")
    async def refused() -> None:
        raise ConnectionRefusedError(111, "Connection refused")

    @api.get("/starting")
    async def starting() -> None:
        raise asyncpg.CannotConnectNowError("the database system is starting up")

    @api.get("/bug")
    async def bug() -> None:
        raise ValueError("secret detail of a bug")

    return api


async def get(path: str) -> httpx.Response:
    transport = httpx.ASGITransport(app=app(), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
        return await client.get(path)


@pytest.mark.parametrize("path", ["/broken-mid-operation", "/refused", "/starting"])
async def test_the_database_away_is_a_503_with_retry_after(path):
    r = await get(path)
    assert r.status_code == 503
    assert r.headers["retry-after"] == str(http_errors.RETRY_AFTER_S)
    assert r.json() == {"detail": "temporarily unavailable, retry"}


async def test_a_bug_is_a_500_in_the_same_shape_without_its_text():
    r = await get("/bug")
    assert r.status_code == 500
    assert r.json() == {"detail": "internal error"}
    assert "secret" not in r.text

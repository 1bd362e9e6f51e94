"""Browser tests: the real gateway app served by uvicorn on a real port, driven in Debian's headless chromium.

Playwright (Python) drives the browser through `executable_path`: it never downloads a browser of its own
(`playwright install` is never run). Chromium comes from Debian (`make test` installs it as root through
deploy/local/sysdeps.sh --test). Without it the tests skip on a developer's machine and fail in CI (CI=true),
so a CI run can never pass by not testing the page.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest

try:
    from playwright.async_api import expect
except ImportError:  # reported by the chromium_path fixture: skipped locally, a failure in CI
    expect = None

from tests.service.conftest import clock, running, settings  # noqa: F401  (fixtures)
from tests.support.gateway import gateway  # noqa: F401  (fixture)

CHROMIUM_NAMES = ("chromium", "chromium-browser")
REFUSED_FETCH = "Failed to load resource: the server responded with a status of 4"
#: A mid-size phone: the page must work on the device an officer carries at the border.
PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2, "is_mobile": True, "has_touch": True}


def _unavailable(why: str) -> None:
    hint = (
        f"{why}. Install it with `sudo apt-get install -y chromium` (Debian/Ubuntu), or run `make test` as "
        "root: deploy/local/sysdeps.sh --test installs it."
    )
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"the officer's page cannot be tested in CI: {hint}", pytrace=False)
    pytest.skip(hint)


@pytest.fixture(scope="session")
def chromium_path() -> str:
    path = next((p for p in map(shutil.which, CHROMIUM_NAMES) if p), None)
    if path is None:
        _unavailable("Debian's chromium is not installed")
    try:
        import playwright  # noqa: F401
    except ImportError:
        _unavailable("the playwright package is missing (pip install -e '.[test]')")
    return path  # type: ignore[return-value]


@pytest.fixture(scope="session")
async def browser(chromium_path: str) -> AsyncIterator[Any]:
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        # --no-sandbox: CI runs as root, where chromium's sandbox refuses to start.
        launched = await p.chromium.launch(executable_path=chromium_path, headless=True, args=["--no-sandbox"])
        # CI shares two cores with the database and the browser: wait longer than Playwright's 5 s before failing.
        expect.set_options(timeout=20_000)
        yield launched
        await launched.close()


@pytest.fixture
async def phone(browser: Any) -> AsyncIterator[Any]:
    """A fresh phone-sized tab (its own sessionStorage); console errors, CSP violations included, are collected
    in `page.errors` and must stay empty. Chromium also logs every 4xx answer as an error: those are the API's
    refusals the tests provoke on purpose, and the tests check what the page shows of them."""
    context = await browser.new_context(**PHONE)
    context.set_default_timeout(20_000)
    page = await context.new_page()
    page.errors = []

    def console(message: Any) -> None:
        if message.type == "error" and not message.text.startswith(REFUSED_FETCH):
            page.errors.append(message.text)

    page.on("console", console)
    page.on("pageerror", lambda e: page.errors.append(str(e)))
    yield page
    await context.close()


@asynccontextmanager
async def serving(app: Any) -> AsyncIterator[str]:
    """The app on a real socket, in this event loop (it shares the test's database pool and clock); lifespan off:
    the test opened the database and the broker already."""
    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, lifespan="off", log_level="warning", access_log=False))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        while not server.started:
            if task.done():
                task.result()  # raises what stopped it
            await asyncio.sleep(0.01)
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        await task
        sock.close()

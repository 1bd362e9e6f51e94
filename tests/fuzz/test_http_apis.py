"""schemathesis against the OpenAPI document of every service: no generated request may cause a 500.

Each service runs in-process on a real PostgreSQL with its migrations applied; the broker is not
started, and nothing reached over HTTP needs it (messages leave through the outbox). Cases are
drawn from schemathesis' strategies first, then sent on the test's own event loop, because the
service's connection pool belongs to that loop.
"""

from __future__ import annotations

import importlib
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings as hsettings

from runtime.service import Service

SERVICES = ("issuer", "core", "customs_gateway", "claims_worker", "notifier")
EXAMPLES_PER_OPERATION = 30


def draw_cases(service: Service) -> list[Any]:
    # From the document itself: loading through the ASGI app would run its lifespan (Kafka and all).
    schema = schemathesis.openapi.from_dict(service.http.openapi())
    cases: list[Any] = []
    for result in schema.get_all_operations():
        operation = result.ok()

        @hsettings(
            max_examples=EXAMPLES_PER_OPERATION, deadline=None, database=None, suppress_health_check=list(HealthCheck)
        )
        @given(case=operation.as_strategy())
        def collect(case: Any) -> None:
            cases.append(case)

        collect()
    return cases


@pytest.mark.parametrize("name", SERVICES)
async def test_no_generated_request_makes_a_service_fail(name: str, settings: Any) -> None:
    service: Service = importlib.import_module(f"{name}.app").build(settings)
    await service.open_database()
    try:
        cases = draw_cases(service)
        failures = []
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=service.http, raise_app_exceptions=False), base_url="http://fuzz"
        ) as http:
            for case in cases:
                kwargs = case.as_transport_kwargs(base_url="http://fuzz")
                kwargs.pop("cookies", None)
                if "data" in kwargs and isinstance(kwargs["data"], (bytes, str)):
                    kwargs["content"] = kwargs.pop("data")  # raw bodies: httpx's own name for them
                response = await http.request(
                    **{
                        k: v
                        for k, v in kwargs.items()
                        if k in ("method", "url", "headers", "params", "json", "content", "data", "files")
                    }
                )
                # /health answers 503 by design here: the broker is not started in this test.
                if response.status_code >= 500 and not (case.path == "/health" and response.status_code == 503):
                    failures.append(
                        f"{case.method} {case.formatted_path}: {response.status_code} {response.text[:300]} "
                        f"<- {case.as_curl_command()}"
                    )
    finally:
        await service.pool.close()
    assert {c.path for c in cases} >= {"/health", "/metrics"}
    assert sorted(set(failures)) == []

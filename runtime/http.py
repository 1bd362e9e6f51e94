"""`/health`, `/health/live` and `/metrics`, served by every service next to its own API.

`/health` is readiness (database, broker, background tasks: take the instance out of load balancing while
one fails); `/health/live` is liveness (only what a restart fixes). deploy/k8s probes them that way.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from runtime.http_limits import LimitedRoute

if TYPE_CHECKING:
    from runtime.service import Service


def ops_router(service: Service) -> APIRouter:
    router = APIRouter(tags=["operations"], route_class=LimitedRoute)

    @router.get("/health", summary="Liveness and readiness of the service and its dependencies")
    async def health() -> JSONResponse:
        checks = await service.health_checks()
        ok = all(checks.values())
        return JSONResponse(
            {
                "service": service.name,
                "status": "ok" if ok else "degraded",
                "checks": checks,
                "loops": service.loop_states(),
            },
            status_code=200 if ok else 503,
        )

    @router.get("/health/live", summary="Liveness: the process answers and none of its background tasks has died")
    async def live() -> JSONResponse:
        # No database or broker check here: a restart does not bring them back, and restarting every
        # instance while PostgreSQL is away would only add a storm of migrations and rebalances to the outage.
        # A dead background task (outbox relay, scheduler, delivery worker) never comes back by itself: restart.
        alive = service.background_alive()
        # A loop that fails while PostgreSQL is away retries by itself; only a stuck or dead one fails here.
        return JSONResponse(
            {
                "service": service.name,
                "status": "ok" if alive else "dead",
                "checks": {"background_tasks": alive},
                "loops": service.loop_states(),
            },
            status_code=200 if alive else 503,
        )

    @router.get("/metrics", summary="Prometheus metrics", response_class=Response)
    async def metrics() -> Response:
        await service.observability.refresh()
        return Response(generate_latest(service.registry), media_type=CONTENT_TYPE_LATEST)

    return router

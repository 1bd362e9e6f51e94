"""`/health` and `/metrics`, served by every service next to its own API."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

if TYPE_CHECKING:
    from runtime.service import Service


def ops_router(service: Service) -> APIRouter:
    router = APIRouter(tags=["operations"])

    @router.get("/health", summary="Liveness and readiness of the service and its dependencies")
    async def health() -> JSONResponse:
        checks = await service.health_checks()
        ok = all(checks.values())
        return JSONResponse(
            {"service": service.name, "status": "ok" if ok else "degraded", "checks": checks},
            status_code=200 if ok else 503,
        )

    @router.get("/metrics", summary="Prometheus metrics", response_class=Response)
    async def metrics() -> Response:
        await service.observability.refresh()
        return Response(generate_latest(service.registry), media_type=CONTENT_TYPE_LATEST)

    return router

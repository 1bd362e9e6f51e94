"""One error shape for every refusal, whatever the input that caused it.

FastAPI's own 422 echoes each invalid input back; an input it cannot encode (a lone surrogate, NaN) then makes
the error itself fail with a 500, and a megabyte of input comes back as a megabyte of error. Here a validation
error names the field, the rule and the message, never the input, and is written as ASCII JSON. The database
away (restarting, connections lost) is a 503 with Retry-After, so clients retry instead of reading a fault into
it; anything else a route did not expect becomes a 500 in the same shape, logged with the route and the
exception's type.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import asyncpg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

log = logging.getLogger(__name__)

#: Longest message or location part an error repeats (a pydantic message quotes the bound, not the input).
ERROR_TEXT_MAX = 300
#: The database away, not the request at fault: connections refused or lost (OSError, InterfaceError, a connection
#: that broke mid-operation: InternalClientError), the server shutting down or starting up, out of connections.
OUTAGE: tuple[type[BaseException], ...] = (
    OSError,
    asyncpg.InterfaceError,
    asyncpg.InternalClientError,
    asyncpg.PostgresConnectionError,
    asyncpg.exceptions.OperatorInterventionError,
    asyncpg.exceptions.InsufficientResourcesError,
)
#: Seconds a client should wait before retrying during an outage (a PostgreSQL restart takes about one).
RETRY_AFTER_S = 1


def problem(status: int, detail: Any, headers: dict[str, str] | None = None) -> Response:
    body = json.dumps({"detail": detail}, ensure_ascii=True, allow_nan=False, default=str)
    return Response(body, status_code=status, media_type="application/json", headers=headers)


def _safe(value: Any) -> Any:
    if isinstance(value, str):
        return value[:ERROR_TEXT_MAX].encode("utf-8", "backslashreplace").decode("utf-8")
    if isinstance(value, (int, bool)) or value is None:
        return value
    return _safe(str(value))


def validation_detail(errors: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {
            "type": _safe(e.get("type")),
            "loc": [_safe(part) for part in e.get("loc", ())][:10],
            "msg": _safe(e.get("msg")),
        }
        for e in errors[:20]
    ]


def install(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> Response:
        return problem(422, validation_detail(list(exc.errors())))

    @app.exception_handler(StarletteHTTPException)
    async def refused(request: Request, exc: StarletteHTTPException) -> Response:
        return problem(exc.status_code, exc.detail, getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def failed(request: Request, exc: Exception) -> Response:
        if isinstance(exc, OUTAGE):
            log.warning(
                "%s %s: database unavailable (%s: %s); answered 503",
                request.method,
                request.url.path,
                type(exc).__name__,
                exc,
            )
            return problem(503, "temporarily unavailable, retry", {"Retry-After": str(RETRY_AFTER_S)})
        log.error("%s %s: unexpected %s", request.method, request.url.path, type(exc).__name__)
        return problem(500, "internal error")

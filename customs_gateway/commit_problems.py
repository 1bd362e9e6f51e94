"""A refused scan, commit or cancellation as the officer API answers it: its reason, the failed checks of a
mismatch, and when to try again after a rate limit."""

from __future__ import annotations

from typing import Any

from fastapi import HTTPException

from customs_gateway.domain import CommitRefused, MismatchRefused, RateLimited


def commit_problem(exc: CommitRefused) -> HTTPException:
    """A refused scan, commit or cancellation (R18 and the checks) as its HTTP problem."""
    detail: dict[str, Any] = {"reason": exc.reason, "message": str(exc)}
    headers = None
    if isinstance(exc, MismatchRefused):
        detail["mismatches"] = [c.as_dict() for c in exc.mismatches]
    if isinstance(exc, RateLimited):
        headers = {"Retry-After": str(exc.retry_after)}
    return HTTPException(exc.status, detail=detail, headers=headers)

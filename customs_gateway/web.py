"""The customs officer's web page (issue 4, item 10): server-rendered HTML and one small script.

The page is a client of the gateway's own officer API (`/v1/sessions`, `/v1/scans...`, `/v1/commits`): it holds no
business logic, so what the page shows is exactly what the API decided, and every rule stays tested in one place.

The session token lives in the tab's sessionStorage and goes out as a Bearer header, never in a cookie: no ambient
credential, so no cross-site request forgery to defend against, and the token dies with the tab (a shared
computer at a border post keeps nothing after the tab is closed). What an attacker could do with a script in the
page is what keeps the rest strict: a Content-Security-Policy that runs script from this origin only (no inline
script, no eval), and every value from the API written as text, never parsed as HTML.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from importlib import resources
from typing import Any

import jinja2
from fastapi import APIRouter, Header, HTTPException, Response
from fastapi.responses import HTMLResponse
from prometheus_client import CollectorRegistry, Counter

from customs_gateway.api import CodeIn, CommitIn, ScanIn
from runtime.http_limits import LimitedRoute

PREFIX = "/officer"
CSP = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' blob:",  # the preview of a captured photo is a blob: URL
        "connect-src 'self'",
        "form-action 'self'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
    ]
)
#: On every response of the page: nothing cached by shared caches, no referrer leaving the gateway, no framing.
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
STATIC_TYPES = {"officer.js": "text/javascript; charset=utf-8", "officer.css": "text/css; charset=utf-8"}
#: How the page names each check of the verification result (the API's names stay the keys).
CHECK_LABELS = {
    "signature": "Signature",
    "expiry": "Token expiry",
    "territory": "Territory (your country)",
    "replay": "Not already used",
    "carnet_status": "Carnet status",
    "carnet_on_file": "Carnet on file",
    "items_on_list": "Items on the general list",
    "digest": "General list digest",
    "countries": "Countries",
}
#: R13: the kinds whose commit may set a final date earlier than the carnet's expiry.
FINAL_DATE_KINDS = ["importation", "transit_entry"]


def _max_length(model: Any, field: str) -> int:
    """The page's input limits are the API's, read from its models so the two cannot drift."""
    return next(m.max_length for m in model.model_fields[field].metadata if hasattr(m, "max_length"))


class PageMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.views = Counter(
            "ata_officer_page_views_total", "Officer web page views, by page.", ["page"], registry=registry
        ).labels


@dataclass(frozen=True)
class Asset:
    body: bytes
    media_type: str
    etag: str


def _assets() -> dict[str, Asset]:
    folder = resources.files("customs_gateway").joinpath("static")
    out = {}
    for name, media_type in STATIC_TYPES.items():
        body = folder.joinpath(name).read_bytes()
        out[name] = Asset(body, media_type, '"' + hashlib.sha256(body).hexdigest()[:32] + '"')
    return out


def officer_pages(registry: CollectorRegistry) -> APIRouter:
    """The login page, the scan page and their two static files; read from the package at build time."""
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("customs_gateway", "templates"), autoescape=True, undefined=jinja2.StrictUndefined
    )
    assets = _assets()
    metrics = PageMetrics(registry)
    limits = {
        "token": _max_length(ScanIn, "token"),
        "code": _max_length(CodeIn, "code"),
        "reason": _max_length(CommitIn, "refusal_reason"),
    }
    router = APIRouter(prefix=PREFIX, include_in_schema=False, route_class=LimitedRoute)

    def page(name: str, template: str, **context: Any) -> HTMLResponse:
        metrics.views(name).inc()
        asset_version = {n: a.etag.strip('"')[:12] for n, a in assets.items()}
        html = env.get_template(template).render(page=name, prefix=PREFIX, assets=asset_version, **context)
        return HTMLResponse(html, headers=SECURITY_HEADERS)

    @router.get("/")
    async def login_page() -> HTMLResponse:
        return page("login", "login.html")

    @router.get("/scan")
    async def scan_page() -> HTMLResponse:
        return page("scan", "scan.html", limits=limits, check_labels=CHECK_LABELS, final_date_kinds=FINAL_DATE_KINDS)

    @router.get("/static/{name}")
    async def static(name: str, if_none_match: str | None = Header(None)) -> Response:
        asset = assets.get(name)
        if asset is None:
            raise HTTPException(404, detail={"reason": "not_found", "message": "no such file"})
        # The page names each file with its digest (?v=...), so revalidating is cheap and a new release is never stale.
        headers = {**SECURITY_HEADERS, "Cache-Control": "no-cache", "ETag": asset.etag}
        if if_none_match == asset.etag:
            return Response(status_code=304, headers=headers)
        return Response(asset.body, media_type=asset.media_type, headers=headers)

    return router

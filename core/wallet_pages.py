"""The holder's wallet (a PWA) served by the core: one app shell, its script, style, service worker and manifest.

Like the officer's page at the gateway (customs_gateway/web.py), the page holds no business logic: it is a client
of the holder API (`/v1/...`, same origin) and of the notifier's recipient API (Web Push), so what it shows is what
the ledger decided. Three things only happen on the device: the holder's X25519 key pair is made there (WebCrypto,
private half non-extractable, in IndexedDB), sealed carnet documents are opened there (HPKE, bundled by `npm ci`
in wallet/ into static/hpke.js), and the history's hash chain is verified there.

The bearer token lives in the tab's sessionStorage and goes out as an Authorization header, never a cookie (no
cross-site request forgery). A Content-Security-Policy runs script from this origin only, and the script writes
every value as text. Texts are in `wallet/texts/en.json`: the template and the script take them from there.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from importlib import resources
from urllib.parse import urlsplit

import jinja2
from fastapi import APIRouter, Header, HTTPException, Response
from fastapi.responses import HTMLResponse
from prometheus_client import CollectorRegistry, Counter

from core.domain.crossings import ENTRY_KINDS, FROM, HOME_KINDS

PREFIX = "/wallet"
PACKAGE = "core.wallet"
#: Served from static/; hpke.js is the npm build's output (absent until `npm ci` ran in wallet/).
STATIC_TYPES = {
    "wallet.js": "text/javascript; charset=utf-8",
    "wallet.css": "text/css; charset=utf-8",
    "hpke.js": "text/javascript; charset=utf-8",
    "store.js": "text/javascript; charset=utf-8",
    "chain.js": "text/javascript; charset=utf-8",
    "carnet.js": "text/javascript; charset=utf-8",
    "icon.svg": "image/svg+xml",
}


def csp(notifier_origin: str | None) -> str:
    connect = "'self'" + (f" {notifier_origin}" if notifier_origin else "")
    return "; ".join(
        [
            "default-src 'none'",
            "script-src 'self'",
            "style-src 'self'",
            "img-src 'self' blob:",  # the stored QR is shown from a blob: URL, offline too
            f"connect-src {connect}",
            "worker-src 'self'",
            "manifest-src 'self'",
            "form-action 'self'",
            "base-uri 'none'",
            "frame-ancestors 'none'",
        ]
    )


def origin_of(url: str | None) -> str | None:
    if not url:
        return None
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


@dataclass(frozen=True)
class Asset:
    body: bytes
    media_type: str
    etag: str


def _asset(body: bytes, media_type: str) -> Asset:
    return Asset(body, media_type, '"' + hashlib.sha256(body).hexdigest()[:32] + '"')


def _assets() -> dict[str, Asset]:
    folder = resources.files(PACKAGE).joinpath("static")
    return {
        name: _asset(folder.joinpath(name).read_bytes(), media_type)
        for name, media_type in STATIC_TYPES.items()
        if folder.joinpath(name).is_file()
    }


def moves() -> dict[str, dict[str, str]]:
    """R11 as the page offers it: for each kind, where its items must be and which countries it may name
    ("home": the home country; "covered": a country the carnet covers; "item": the country the items are in)."""
    return {
        kind.value: {
            "from": where,
            "country": "home" if kind in HOME_KINDS else "covered" if kind in ENTRY_KINDS else "item",
        }
        for kind, where in FROM.items()
    }


def texts() -> dict[str, str]:
    return json.loads(resources.files(PACKAGE).joinpath("texts", "en.json").read_text("utf-8"))


class WalletPageMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.views = Counter(
            "ata_wallet_page_views_total", "Holder wallet page loads, by page.", ["page"], registry=registry
        ).labels


def wallet_pages(registry: CollectorRegistry, *, sign_in_url: str | None, notifier_url: str | None) -> APIRouter:
    """The app shell at /wallet/, its static files, /wallet/sw.js (scope /wallet/) and the manifest."""
    env = jinja2.Environment(
        loader=jinja2.PackageLoader(PACKAGE, "templates"), autoescape=True, undefined=jinja2.StrictUndefined
    )
    words = texts()
    assets = _assets()
    version = hashlib.sha256(b"".join(a.etag.encode() for a in assets.values())).hexdigest()[:12]
    notifier_origin = origin_of(notifier_url)
    headers = {
        "Content-Security-Policy": csp(notifier_origin),
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
    }
    titles = {d: words[f"confirm.{d}"] for d in ("committed", "refused", "cancelled")}
    worker = env.get_template("sw.js").render(
        prefix=PREFIX,
        version=version,
        titles=titles,
        shell=[f"{PREFIX}/", f"{PREFIX}/manifest.webmanifest", *(f"{PREFIX}/static/{n}" for n in assets)],
    )
    sw = _asset(worker.encode(), "text/javascript; charset=utf-8")
    manifest = _asset(
        json.dumps(
            {
                "name": words["app.name"],
                "short_name": words["app.short_name"],
                "start_url": f"{PREFIX}/",
                "scope": f"{PREFIX}/",
                "display": "standalone",
                "background_color": "#ffffff",
                "theme_color": "#0b3d91",
                "lang": "en",
                "icons": [
                    {"src": f"{PREFIX}/static/icon.svg", "sizes": "any", "type": "image/svg+xml", "purpose": "any"}
                ],
            }
        ).encode(),
        "application/manifest+json",
    )
    metrics = WalletPageMetrics(registry)
    router = APIRouter(prefix=PREFIX, include_in_schema=False)

    def cached(asset: Asset, if_none_match: str | None) -> Response:
        out = {**headers, "Cache-Control": "no-cache", "ETag": asset.etag}
        if if_none_match == asset.etag:
            return Response(status_code=304, headers=out)
        return Response(asset.body, media_type=asset.media_type, headers=out)

    @router.get("/")
    async def shell() -> HTMLResponse:
        metrics.views("shell").inc()
        html = env.get_template("wallet.html").render(
            prefix=PREFIX,
            t=words,
            texts_json=json.dumps(words),
            moves_json=json.dumps(moves()),
            version=version,
            sign_in_url=sign_in_url or "",
            notifier_url=notifier_url or "",
            built="hpke.js" in assets,
        )
        return HTMLResponse(html, headers={**headers, "Cache-Control": "no-cache"})

    @router.get("/sw.js")
    async def service_worker(if_none_match: str | None = Header(None)) -> Response:
        return cached(sw, if_none_match)

    @router.get("/manifest.webmanifest")
    async def web_manifest(if_none_match: str | None = Header(None)) -> Response:
        return cached(manifest, if_none_match)

    @router.get("/static/{name}")
    async def static(name: str, if_none_match: str | None = Header(None)) -> Response:
        asset = assets.get(name)
        if asset is None:
            raise HTTPException(404, detail={"reason": "not_found", "message": "no such file"})
        return cached(asset, if_none_match)

    return router

"""Builds the notifier from settings; nothing runs at import time."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from fastapi.middleware.cors import CORSMiddleware

from contracts.topics import NOTIFICATION_REQUESTS
from notifier import egress, webpush
from notifier.api import admin_router, recipient_router
from notifier.handlers import NotifierHandlers, PushSettings
from notifier.metrics import NotifierMetrics
from notifier.registrations import Registrations
from runtime.clock import Clock, utc_now
from runtime.service import Service
from runtime.settings import Settings
from tokens.wallet_auth import CurrentParty, WalletVerifier, observe_checks

NAME = "notifier"


def build(settings: Settings, *, clock: Clock = utc_now, resolver: egress.Resolver | None = None) -> Service:
    """`resolver`: how host names become addresses (the system's by default; tests inject names)."""
    service = Service(NAME, settings, Path(__file__).parent / "migrations", clock=clock, title="ATA notifier")
    # Recipients authenticate as they do at the core (the wallet identity provider's ES256 tokens), with
    # the notifier's own audience so a token for the ledger is not one for the notifier.
    verifier = WalletVerifier.from_settings(settings.wallet_issuer_public_key_path, settings.notifier_audience, clock)
    observe_checks(verifier, service.registry)
    vapid = (
        webpush.Vapid.load(settings.vapid_private_key_path, settings.vapid_subject)
        if settings.vapid_private_key_path
        else None
    )
    guard = egress.Guard(egress.Policy(allow_loopback_http=settings.notifier_allow_loopback_http), resolver)
    metrics = NotifierMetrics(service.registry)
    handlers = NotifierHandlers(
        metrics,
        clock,
        timeout_s=settings.webhook_timeout_s,
        max_attempts=settings.delivery_max_attempts,
        guard=guard,
        push=PushSettings(vapid, settings.webpush_ttl_s),
    )
    service.consume({NOTIFICATION_REQUESTS: handlers.confirmation_requested})
    service.include(
        recipient_router(
            lambda: service.pool,
            CurrentParty(verifier, realm="ata-notifier"),
            clock,
            overlap=timedelta(hours=settings.webhook_secret_overlap_h),
            vapid=vapid,
            registrations=Registrations(
                lambda: service.pool, guard, settings.notifier_max_endpoints, metrics.endpoints_refused
            ),
        )
    )
    admin = settings.notifier_admin_token.get_secret_value() if settings.notifier_admin_token else None
    service.include(admin_router(lambda: service.pool, admin))
    origins = [o.strip() for o in settings.wallet_origins.split(",") if o.strip()]
    if origins:
        # The holder's wallet page (served by the core, another origin) subscribes to Web Push from the browser.
        # Bearer tokens, no cookies: credentials stay off, and only the recipient API's methods and headers pass.
        service.http.add_middleware(
            CORSMiddleware,
            allow_origins=origins,
            allow_credentials=False,
            allow_methods=["GET", "POST", "DELETE"],
            allow_headers=["Authorization", "Content-Type"],
            max_age=600,
        )
    service.state["handlers"] = handlers
    service.state["vapid"] = vapid

    service.add_loop(handlers.worker(lambda: service.pool, service.loop_metrics))

    return service

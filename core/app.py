"""Builds the core service from settings; nothing runs at import time."""

from __future__ import annotations

import functools
import logging
from datetime import timedelta
from pathlib import Path

from fastapi import Depends

from contracts.topics import COUNTRY_POLICY, CUSTOMS_COMMITS, ISSUANCE_EVENTS
from core import holder_repository
from core.api import holder_router
from core.customs_api import customs_router
from core.history_api import history_router
from core.lifecycle_api import lifecycle_router
from core.policy_store import POLICY_FILE, PolicyStore, read_policy_book
from core.usecases.context import CoreMetrics, Ledger
from core.usecases.facade import CoreUseCases
from core.wallet_keys import wallet_key_router
from core.wallet_pages import wallet_pages
from runtime.clock import Clock, utc_now
from runtime.consumer import WithBulk
from runtime.service import Service
from runtime.settings import Settings
from tokens import trustlist
from tokens.cose import load_or_create_signing_key
from tokens.wallet_auth import CurrentParty, WalletVerifier, observe_checks

NAME = "core"
log = logging.getLogger(__name__)


def build(settings: Settings, *, clock: Clock = utc_now) -> Service:
    service = Service(NAME, settings, Path(__file__).parent / "migrations", clock=clock, title="ATA carnet core ledger")
    # R15: the shipped document serves until start-up has read the newest applied version.
    policy = PolicyStore(service.registry, initial=read_policy_book(POLICY_FILE))
    ledger = Ledger(
        CoreMetrics(service.registry),
        clock,
        timedelta(hours=settings.token_ttl_hours),
        lambda: policy.book,
        functools.cache(lambda: trustlist.ensure_anchor(settings.anchor_key_path())),
    )
    handlers = CoreUseCases(ledger)  # the consumers' entry points; service.state["handlers"] for tests and tools
    # Bulk issuance reaches the ledger in batches: new carnets in two statements (WithBulk).
    service.consume(
        {
            ISSUANCE_EVENTS: WithBulk(handlers.issuance_event, handlers.issuance_events),
            CUSTOMS_COMMITS: handlers.customs_event,
            COUNTRY_POLICY: policy.policy_updated,
        }
    )
    # Raises WalletConfigError without the identity provider's key: no holder API without authentication.
    verifier = WalletVerifier.from_settings(settings.wallet_issuer_public_key_path, settings.wallet_audience, clock)
    observe_checks(verifier, service.registry)
    party = Depends(CurrentParty(verifier))
    service.include(holder_router(ledger, lambda: service.pool, verifier=verifier, registry=service.registry))
    service.include(
        history_router(lambda: service.pool, registry=service.registry, party=party, may_see=holder_repository.role_on)
    )
    service.include(lifecycle_router(ledger, lambda: service.pool, party))
    customs_token = settings.core_customs_token.get_secret_value() if settings.core_customs_token else None
    service.include(customs_router(lambda: service.pool, customs_token, service.registry))
    # The holder's wallet (PWA) and the directory of wallet public keys its documents are sealed for.
    service.include(wallet_key_router(lambda: service.pool, party, clock, registry=service.registry))
    service.include(
        wallet_pages(
            service.registry, sign_in_url=settings.wallet_sign_in_url, notifier_url=settings.wallet_notifier_url
        )
    )
    service.state.update(handlers=handlers, policy=policy)

    @service.on_start
    async def country_policy() -> None:
        async with service.pool.acquire() as conn:
            await policy.load(conn, POLICY_FILE)

    service.add_loop(policy.follower(lambda: service.pool, service.loop_metrics))

    key_path = settings.signing_key_path or settings.data_dir / "keys" / "core-signing.pem"

    @service.on_start
    async def signing_key() -> None:
        async with service.pool.acquire() as conn:
            await handlers.publish_signing_key(conn, load_or_create_signing_key(key_path))

    async def check_signing_key() -> None:
        async with service.pool.acquire() as conn:
            await handlers.follow_signing_key(conn, lambda: load_or_create_signing_key(key_path))

    service.loop("signing-key", check_signing_key, period_s=settings.signing_key_check_s, wait_first=True)

    return service

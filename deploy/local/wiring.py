"""What the local stack hands its services: the environment they share (keys, tokens, the NGA registry, the
broker) and the wiring between them (gateway to core, the core's wallet page to the notifier, the development
sign-in)."""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from pathlib import Path

from deploy.local.dev_identity import DevIdentityRefused
from deploy.local.identity import public_key_path, vapid_key_path
from deploy.local.services import ServiceProcess
from tokens import trustlist


def service_env(
    data_dir: Path, anchor_path: Path, broker: str, admin_token: str, registry_path: Path, env: Mapping[str, str] | None
) -> dict[str, str]:
    """The environment every service of the stack starts with; `env` (the caller's) wins over each default."""
    # Gateways ask the core for the declaration behind a typed transaction code with this per-stack token.
    customs_token = (env or {}).get("ATA_CORE_CUSTOMS_TOKEN") or secrets.token_urlsafe(32)
    return {
        "ATA_BROKER": broker,
        "ATA_GATEWAY_ADMIN_TOKEN": admin_token,
        "ATA_NGA_REGISTRY_PATH": str(registry_path),
        "ATA_CORE_CUSTOMS_TOKEN": customs_token,
        "ATA_WALLET_ISSUER_PUBLIC_KEY_PATH": str(public_key_path(data_dir)),
        "ATA_TRUST_ANCHOR_KEY_PATH": str(anchor_path),
        # The notifier signs Web Push requests with this VAPID key (made at start, like the identities).
        "ATA_VAPID_PRIVATE_KEY_PATH": str(vapid_key_path(data_dir)),
        # Development only: the demo's, journey's, benchmarks' and tests' webhook receiver is plain http
        # on 127.0.0.1, which the notifier refuses otherwise (notifier/egress.py).
        "ATA_NOTIFIER_ALLOW_LOOPBACK_HTTP": "true",
        "ATA_TRUST_ANCHOR_PUBLIC_KEY_PATH": str(trustlist.public_path(anchor_path)),
        **(env or {}),
    }


def wire_wallet(services: Mapping[str, ServiceProcess], data_dir: Path, dev_identity_port: int | None) -> list[str]:
    """The wallet page (core) subscribes to Web Push at the notifier, which lets its origin call from a browser;
    with the development sign-in, the page signs in there. A variable already set (the environment or `env`,
    e.g. the origins of a TLS proxy) wins."""
    core, notifier = services.get("core"), services.get("notifier")
    if core is None:
        return []

    def default(svc: ServiceProcess, name: str, value: str) -> None:
        if name not in os.environ and name not in svc.extra_env:
            svc.extra_env[name] = value

    gateway = services.get("customs_gateway")
    if gateway is not None:
        default(gateway, "ATA_GATEWAY_CORE_URL", core.base_url)
    if notifier is not None:
        default(core, "ATA_WALLET_NOTIFIER_URL", notifier.base_url)
        default(notifier, "ATA_WALLET_ORIGINS", core.base_url)
    if dev_identity_port is None:
        return []
    if core.extra_env.get("ATA_WALLET_ISSUER_PUBLIC_KEY_PATH") != str(public_key_path(data_dir)):
        raise DevIdentityRefused(
            "the services trust another identity provider's key: the development sign-in "
            "runs only where the embedded stack's own key is trusted"
        )
    default(core, "ATA_WALLET_SIGN_IN_URL", f"http://127.0.0.1:{dev_identity_port}/authorize")
    extra = os.environ.get("ATA_DEV_IDENTITY_REDIRECTS", "")
    return [f"{core.base_url}/wallet/", *(r.strip() for r in extra.split(",") if r.strip())]

"""`python -m deploy.secrets DIR`: the key files and tokens a test cluster needs, made once, never in git.

deploy/compose.yaml mounts the key files from deploy/secrets/ and reads the passwords and tokens from
deploy/secrets/.env (`docker compose --env-file deploy/secrets/.env -f deploy/compose.yaml up`); for
Kubernetes the same files go into the Secrets the manifests reference (docs/operations.md shows the
kubectl commands). An existing file is kept, so running it again never rotates a key by accident.

The wallet issuer's private key is made too, so a test cluster can mint holders' tokens as the demo
does; in production only its public half comes from the wallet identity provider.
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys
from pathlib import Path

from deploy.local.identity import PUBLIC_KEY_NAME as WALLET_PUBLIC, ensure_p256_key, ensure_wallet_issuer
from tokens.cose import load_or_create_signing_key
from tokens.trustlist import ensure_anchor

SIGNING_KEY = "core-signing.pem"
TRUST_ANCHOR = "trust-anchor.pem"
TRUST_ANCHOR_PUBLIC = "trust-anchor.pub.pem"
VAPID_KEY = "vapid.pem"
ENV_FILE = ".env"
#: Variables of the .env file: compose interpolates them; none has a default in compose.yaml.
ENV_NAMES = (
    "ATA_DB_PASSWORD",
    "ATA_GATEWAY_ADMIN_TOKEN",
    "ATA_NOTIFIER_ADMIN_TOKEN",
    "ATA_CORE_CUSTOMS_TOKEN",
    "GRAFANA_ADMIN_PASSWORD",
)


def make(directory: Path) -> list[Path]:
    """Create what is missing under `directory`; return every file the cluster mounts or reads."""
    directory.mkdir(parents=True, exist_ok=True)
    # The directory is the lock (0700); the files are 0644 so the containers' own user (uid 10001, not
    # the host user who made them) can read the bind-mounted copies: compose cannot chown file secrets.
    directory.chmod(0o700)
    load_or_create_signing_key(directory / SIGNING_KEY)
    ensure_anchor(directory / TRUST_ANCHOR)
    ensure_wallet_issuer(directory)  # identity/ layout of the local stack: <dir>/identity/wallet-issuer*.pem
    ensure_p256_key(directory / VAPID_KEY)
    env = directory / ENV_FILE
    held = {line.split("=", 1)[0] for line in env.read_text().splitlines()} if env.exists() else set()
    # A variable added since the file was made is appended; the ones it holds are kept.
    with env.open("a") as out:
        out.write("".join(f"{name}={secrets.token_urlsafe(32)}\n" for name in ENV_NAMES if name not in held))
    files = [
        directory / SIGNING_KEY,
        directory / TRUST_ANCHOR,
        directory / TRUST_ANCHOR_PUBLIC,
        directory / "identity" / WALLET_PUBLIC,
        directory / VAPID_KEY,
    ]
    for path in files:
        path.chmod(0o644)
    (directory / "identity").chmod(0o755)
    env.chmod(0o600)
    return [*files, env]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m deploy.secrets", description=__doc__.split("\n\n")[0])
    parser.add_argument("directory", type=Path, nargs="?", default=Path(__file__).parent / "secrets")
    args = parser.parse_args(argv)
    for path in make(args.directory):
        print(os.fspath(path))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The core's signing keys: publish the signed trust list at start-up and follow a rotation by another instance."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable

import asyncpg

from contracts.messages import TrustedKey
from contracts.topics import SIGNING_KEYS
from core import signing_key_repository as signing_keys
from core.usecases.context import PRODUCER, Ledger
from runtime.outbox import emit
from tokens import trustlist
from tokens.cose import SigningKey, public_jwk

log = logging.getLogger(__name__)


async def publish_signing_key(ledger: Ledger, conn: asyncpg.Connection, key: SigningKey) -> None:
    """Sign with `key` from now on and publish the signed trust list (at every start, so a
    gateway with an empty cache learns it too). A new key rotates the old ones out: they stop
    signing now and stay listed until every token they signed has expired."""
    ledger.signing_key = key
    kid = key.kid.hex()
    # Whole seconds, as tokens' issued_at: a token signed in the key's first second stays inside its window.
    now = ledger.clock().replace(microsecond=0)
    async with conn.transaction():
        # One list at a time, so sequences and rotations never interleave between instances.
        await signing_keys.lock_trust_list(conn)
        await signing_keys.upsert_signing_key(conn, kid, public_jwk(key.public_key), now)
        await signing_keys.retire_other_keys(conn, kid, now, now + ledger.token_ttl)
        listed = [
            TrustedKey(
                kid=r["kid"],
                jwk=json.loads(r["jwk"]),
                not_before=r["not_before"],
                not_after=r["not_after"],
                retire_at=r["retire_at"],
            )
            for r in await signing_keys.trusted_keys(conn, now)
        ]
        sequence = await signing_keys.record_trust_list(conn, now, [k.kid for k in listed])
        await emit(
            conn,
            SIGNING_KEYS.name,
            trustlist.sign(sequence, now, listed, ledger.anchor()),
            key="trust-list",
            producer=PRODUCER,
        )


async def follow_signing_key(ledger: Ledger, conn: asyncpg.Connection, load: Callable[[], SigningKey]) -> None:
    """Several core instances share one key file. When another instance rotated to a new key, this one
    must stop signing with the retired key, or the tokens it signs are refused at the border: it adopts
    the key file's new key once the file has it (a Secret updated in place), or publishes a key the ledger
    does not know yet. While the file still holds the retired key, it says so loudly (log and gauge)."""
    current, metrics = ledger.signing_key, ledger.metrics
    if current is None or await signing_keys.key_state(conn, current.kid.hex()) != "retired":
        metrics.signing_key_retired.set(0)
        return
    fresh = load()
    state = await signing_keys.key_state(conn, fresh.kid.hex())
    if state == "signing":
        ledger.signing_key = fresh
        metrics.signing_key_retired.set(0)
        log.info(
            "signing key %s was rotated by another instance: now signing with %s", current.kid.hex(), fresh.kid.hex()
        )
    elif state == "unknown":
        await publish_signing_key(ledger, conn, fresh)
        metrics.signing_key_retired.set(0)
    else:
        metrics.signing_key_retired.set(1)
        log.error(
            "signing key %s was retired by another instance and the key file has no newer key: tokens "
            "signed now will be refused; update this instance's key file",
            current.kid.hex(),
        )

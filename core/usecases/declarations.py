"""R9: the holder declares the items that cross; the declaration becomes a signed token (ARCHITECTURE: Tokens)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID, uuid4

import asyncpg

from contracts.kinds import DeclarationKind
from contracts.messages import DeclarationRefused, DeclarationSubmitted, Reason, TokenIssued
from contracts.token import DeclarationClaims
from contracts.topics import DECLARATIONS
from contracts.txcode import new_transaction_code
from core import domain, repository as repo
from core.domain import Crossing
from core.usecases.context import PRODUCER, Ledger
from runtime.outbox import emit, envelope_for
from tokens.cose import sign_token


class DeclarationRefusedError(Exception):
    def __init__(self, reasons: list[Reason], status: int = 422) -> None:
        super().__init__("; ".join(r.message for r in reasons))
        self.reasons = reasons
        self.status = status


@dataclass(frozen=True)
class DeclarationCreated:
    declaration_id: UUID
    carnet_number: str
    kind: DeclarationKind
    country: str
    items: list[int]
    sequence: int
    transaction_code: str
    token: str
    token_expires_at: datetime


async def declare(
    ledger: Ledger,
    conn: asyncpg.Connection,
    carnet_number: str,
    kind: DeclarationKind,
    country: str,
    items: list[int],
    declared_by: str,
    *,
    intended_use: str | None = None,
    closes: int | None = None,
) -> DeclarationCreated:
    """Raises DeclarationRefusedError (404 unknown carnet, 403 not the holder's nor a representative's,
    422 the rules refuse it: that refusal is kept on the declarations topic for the audit trail)."""
    async with conn.transaction():
        # The carnet locked, with the voucher numbers of this kind in use (R8): one statement.
        loaded = await repo.load_carnet(conn, carnet_number, lock=True, sequences_of=kind.value)
        if loaded is None:
            raise DeclarationRefusedError([Reason(rule="R1", message=f"unknown carnet {carnet_number}")], status=404)
        carnet, row = loaded
        if not carnet.may_declare(declared_by):
            raise DeclarationRefusedError(
                [Reason(rule="R9", field="declared_by", message="only the holder or a representative may declare")],
                status=403,
            )
        if ledger.signing_key is None:
            raise RuntimeError("the core has no signing key yet")
        now = ledger.clock()
        crossing = Crossing.of(kind, country, items, closes=closes, intended_use=intended_use)
        book = ledger.policy()
        refused = domain.check_declaration(carnet, crossing, now, book.for_country(country), book.label(country))
        if refused:
            # Kept for the audit trail although the holder gets an error: commit first, raise after.
            await emit(
                conn,
                DECLARATIONS.name,
                DeclarationRefused(
                    carnet_number=carnet_number,
                    kind=kind,
                    country=country,
                    items=sorted(set(items)),
                    reasons=refused,
                ),
                key=carnet_number,
                producer=PRODUCER,
            )
        else:
            created = await _sign_and_store(
                ledger, conn, carnet, row["general_list_digest"], row["sequences"], crossing, declared_by, now
            )
    if refused:
        ledger.metrics.declarations(kind.value, country, "refused").inc()
        raise DeclarationRefusedError(refused)
    ledger.metrics.declarations(kind.value, country, "token_issued").inc()
    return created


async def _sign_and_store(
    ledger: Ledger,
    conn: asyncpg.Connection,
    carnet: domain.Carnet,
    digest: str,
    used_sequences: list[int],
    crossing: Crossing,
    declared_by: str,
    now: datetime,
) -> DeclarationCreated:
    signing_key = ledger.signing_key
    assert signing_key is not None
    kind, country, items = crossing.kind, crossing.country, list(crossing.items)
    sequence = domain.next_sequence(used_sequences)
    claims = DeclarationClaims(
        carnet_number=carnet.number,
        transaction_code=new_transaction_code(),
        kind=kind,
        country=country,
        items=tuple(sorted(set(items))),
        general_list_digest=digest[:32],
        sequence=sequence,
        carnet_expiry=carnet.expiry_date,
        token_id=uuid4(),
        issued_at=now.replace(microsecond=0),
        expires_at=(now + ledger.token_ttl).replace(microsecond=0),
    )
    token = sign_token(claims.to_cwt(), signing_key)
    declaration_id = uuid4()
    submitted = DeclarationSubmitted(
        declaration_id=declaration_id,
        carnet_number=carnet.number,
        kind=kind,
        country=country,
        items=list(claims.items),
        sequence=sequence,
        declared_by=declared_by,
        transaction_code=claims.transaction_code,
    )
    issued = TokenIssued(
        declaration_id=declaration_id,
        carnet_number=carnet.number,
        token_id=claims.token_id,
        kid=signing_key.kid.hex(),
        expires_at=claims.expires_at,
    )
    env = envelope_for(submitted, key=carnet.number, producer=PRODUCER)
    # The declaration and both messages in one round trip, in this order (the gateway files the declaration,
    # then its token).
    await repo.insert_declaration(
        conn,
        [
            (DECLARATIONS.name, carnet.number, env, submitted),
            (
                DECLARATIONS.name,
                carnet.number,
                envelope_for(issued, key=carnet.number, producer=PRODUCER, cause=env),
                issued,
            ),
        ],
        declaration_id=declaration_id,
        carnet_number=carnet.number,
        kind=kind.value,
        country=country,
        items=list(claims.items),
        sequence=sequence,
        transaction_code=claims.transaction_code,
        token_id=claims.token_id,
        token=token,
        token_expires_at=claims.expires_at,
        declared_by=declared_by,
        closes=domain.closed_reference(carnet, crossing),
        intended_use=crossing.intended_use,
        created_at=now,  # the service's clock, as for the transaction's recorded_at (submitted -> decided)
    )
    return DeclarationCreated(
        declaration_id,
        carnet.number,
        kind,
        country,
        list(claims.items),
        sequence,
        claims.transaction_code,
        token,
        claims.expires_at,
    )

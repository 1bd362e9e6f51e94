"""An officer's commit or refusal (R18): by a scanned token (verified offline) or a typed code (asked of the core),
decided by domain.decide_commit, recorded in the commit log with its audit row and posted to the core."""

from __future__ import annotations

import logging
from datetime import date
from uuid import UUID, uuid4
from zoneinfo import ZoneInfo

import asyncpg

from contracts.messages import CustomsCommitPosted
from contracts.topics import CUSTOMS_COMMITS
from customs_gateway import domain, repository as repo
from customs_gateway.domain import CommitRefused, Declared, Office, Verification
from customs_gateway.usecases import intake, keys, lookups
from customs_gateway.usecases.context import PRODUCER, Gateway
from runtime.outbox import envelope_for

log = logging.getLogger(__name__)
#: Refusals audited where they happen (or never: a bad check character costs nothing).
AUDITED_BEFORE = frozenset({"rate_limited", "unknown_code", "bad_code", "core_unavailable"})


async def commit(
    gw: Gateway,
    conn: asyncpg.Connection,
    officer_id: str,
    office: Office,
    token: str | None,
    decision: str,
    final_date: date | None,
    refusal_reason: str | None,
    *,
    transaction_code: str | None = None,
) -> tuple[UUID, Verification]:
    """By token or by typed code (exactly one); raises CommitRefused, audited, with the reason."""
    action = "commit" if decision == "committed" else "refusal"
    d: Declared | None = None
    try:
        if token is not None:
            claims, kid = keys.verify(gw, token)
            d = Declared.from_claims(claims)
        else:
            kid = None
            d = await lookups.declared_by_code(gw, conn, officer_id, office, transaction_code or "", action)
        held = gw.carnets.get(d.carnet_number)
        read = await repo.before_commit(conn, d.carnet_number, d.token_id, d.transaction_code, carnet=held is None)
        gw.carnets.put(read.carnet)
        intake.standing(gw, d.carnet_number, read.blocked, read.moved)
        on_file = held or read.carnet
        d = d.with_expiry_of(on_file)
        # Whether it was already decided is settled after every other check, as the refusal an officer reads:
        # by the read above, or, when a concurrent commit of it wins meanwhile, by the commit log's unique keys.
        v = domain.decide_commit(
            d,
            office,
            gw.clock(),
            decision=decision,
            final_date=final_date,
            blocked=gw.blocked.get(d.carnet_number),
            transferred=gw.transferred.get(d.carnet_number),
            carnet=on_file,
            kid=kid,
        )
    except CommitRefused as exc:
        if exc.reason not in AUDITED_BEFORE:
            await repo.audit(
                conn,
                gw.clock(),
                action,
                exc.reason,
                officer_id=officer_id,
                office_id=office.office_id,
                carnet_number=d.carnet_number if d else None,
                detail={"decision": decision, "message": str(exc)},
            )
        raise
    assert d.token_id is not None
    posted = CustomsCommitPosted(
        commit_id=uuid4(),
        carnet_number=d.carnet_number,
        transaction_code=d.transaction_code,
        token_id=d.token_id,
        kind=d.kind,
        country=d.country,
        items=list(d.items),
        office_id=office.office_id,
        office_timezone=office.timezone,
        officer_id=officer_id,
        decision=decision,
        final_date=final_date,
        refusal_reason=refusal_reason,
        decided_at=gw.clock().astimezone(ZoneInfo(office.timezone)),
    )
    before, after = domain.mismatches_around_replay(v)
    detail = {
        "decision": decision,
        "kind": d.kind.value,
        "items": list(d.items),
        "by": "token" if d.from_token else "code",
        "final_date": final_date,
        "refusal_reason": refusal_reason,
    }
    # Keyed by the carnet: its events stay in order.
    envelope = envelope_for(posted, key=d.carnet_number, producer=PRODUCER)
    fresh = not read.decided and await repo.commit_posted(
        conn,
        posted,
        action=action,
        detail={**detail, "commit_id": str(posted.commit_id), "mismatches": before + after},
        queued=[(CUSTOMS_COMMITS.name, d.carnet_number, envelope, posted)],
    )
    if not fresh:
        await repo.audit(
            conn,
            posted.decided_at,
            action,
            "replayed",
            officer_id=officer_id,
            office_id=office.office_id,
            carnet_number=d.carnet_number,
            detail={**detail, "commit_id": None, "mismatches": [*before, "replay", *after]},
        )
        gw.metrics.verifications("replayed").inc()
        log.warning("replayed token %s for carnet %s at office %s", d.token_id, d.carnet_number, office.office_id)
        raise CommitRefused("replayed", "this declaration was already decided", 409)
    gw.metrics.commits(d.kind.value, d.country, decision).inc()
    return posted.commit_id, v

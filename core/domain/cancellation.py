"""Cancelling a committed crossing: customs undoes it, with the holder's consent. Pure.

A committed transaction is cancelled only (1) by customs of the country that recorded it (R18),
(2) with the holder's cancellation code, which the core shows only to the holder and
representatives, (3) while the carnet is still in use, and (4) while the goods are where that
crossing put them: once a later crossing or a duty receipt moved them on, undoing this one would
rewrite history under the later one (R11), so the later one must be cancelled first.

The voucher stays used (R8): the set was stamped, so the next declaration of that kind takes
the next number, whereas a refused declaration leaves its voucher unused.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass, replace

from contracts.kinds import DeclarationKind
from core.domain.crossings import CLOSED, HOME, VOIDED, Carnet, Item, _r
from core.domain.lifecycle import LifecycleRefused


@dataclass(frozen=True)
class Committed:
    """What the ledger kept of a committed crossing, so it can be undone exactly."""

    kind: DeclarationKind
    country: str
    sequence: int
    cancellation_code: str
    items_before: dict[int, Item]
    items_after: dict[int, Item]
    active_before: bool
    cancelled: bool = False


def cancel(carnet: Carnet, committed: Committed, code: str, officer_country: str) -> Carnet:
    """The carnet with the crossing undone; raises LifecycleRefused with every reason it is not."""
    # The code first, and alone: a wrong code learns nothing about the transaction's state.
    if not hmac.compare_digest(code.encode(), committed.cancellation_code.encode()):
        raise LifecycleRefused(
            [
                _r(
                    "cancellation",
                    "wrong_cancellation_code",
                    "the cancellation code does not match this transaction: ask the holder for it",
                )
            ]
        )
    reasons = []
    if officer_country != committed.country:
        reasons.append(
            _r(
                "R18",
                "wrong_country",
                f"only customs of {committed.country} may cancel this {committed.kind.value}, not {officer_country}",
            )
        )
    if committed.cancelled:
        reasons.append(_r("cancellation", "already_cancelled", "this transaction was already cancelled"))
    if carnet.status in (VOIDED, CLOSED):
        reasons.append(
            _r(
                "cancellation",
                f"carnet_{carnet.status}",
                f"carnet {carnet.number} is {carnet.status}: its history can no longer change",
            )
        )
    for n, after in sorted(committed.items_after.items()):
        if carnet.items.get(n) != after:
            reasons.append(
                _r(
                    "R11",
                    "goods_moved_on",
                    f"item {n} has moved since this {committed.kind.value}: cancel the later transaction first",
                    item_number=n,
                )
            )
    if reasons:
        raise LifecycleRefused(reasons)
    items = {**carnet.items, **committed.items_before}
    # R10: activation is undone only if nothing else has left home since.
    still_used = any(i.location != HOME or i.exported_by is not None for i in items.values())
    return replace(carnet, items=items, active=committed.active_before or still_used)

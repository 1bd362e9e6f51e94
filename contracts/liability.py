"""The claims' money rules that are not dates (DOMAIN.md R25, R27), pure like contracts.deadlines.

Amounts are ``Decimal`` (never float), kept per currency and never added across currencies.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import ROUND_HALF_UP, Decimal

from contracts.periods import DeadlineError

__all__ = ["r25_capped_claim", "r25_liability_cap", "r25_liability_caps", "r27_regularization_fee_due"]

_CENT = Decimal("0.01")
_R25_FACTOR = Decimal("1.10")


def r25_liability_cap(duties_assessed: Decimal) -> Decimal:
    """R25: "The association's liability is capped at the import duties and taxes assessed at
    importation plus 10%." (Seed 004 Art. 7: "the total amount of the import duties and taxes
    assessed by the Customs at the time of importation, plus 10% of such total amount".)

    A claims figure, not a date. Computed exactly
    (duties x 1.10) then rounded to cents, half up. Accepts ``Decimal`` or ``int``; a float is
    refused (``TypeError``: binary fractions are not money), and so are negative or non-finite
    amounts (``DeadlineError``).
    """
    if isinstance(duties_assessed, bool) or not isinstance(duties_assessed, (Decimal, int)):
        raise TypeError(f"R25: duties must be a Decimal, got {type(duties_assessed).__name__}")
    amount = Decimal(duties_assessed)
    if not amount.is_finite():
        raise DeadlineError(f"R25: duties must be a finite amount, got {amount}")
    if amount < 0:
        raise DeadlineError(f"R25: duties cannot be negative, got {amount}")
    return (amount * _R25_FACTOR).quantize(_CENT, rounding=ROUND_HALF_UP)


def _amounts(amounts: Mapping[str, Decimal], what: str) -> dict[str, Decimal]:
    out = {}
    for currency, amount in amounts.items():
        if not (isinstance(currency, str) and len(currency) == 3 and currency.isascii() and currency.isupper()):
            raise DeadlineError(f"R25: {what}: {currency!r} is not an ISO 4217 currency code")
        r25_liability_cap(amount)  # the same checks: Decimal or int, finite, not negative
        out[currency] = Decimal(amount)
    return out


def r25_liability_caps(duties_assessed: Mapping[str, Decimal]) -> dict[str, Decimal]:
    """R25: the liability cap per currency: duties and taxes assessed at importation in that
    currency plus 10% (``r25_liability_cap``). Currencies are never added together: an
    assessment in CHF and one in EUR give two caps."""
    return {c: r25_liability_cap(a) for c, a in sorted(_amounts(duties_assessed, "assessed").items())}


def r25_capped_claim(claimed: Mapping[str, Decimal], duties_assessed: Mapping[str, Decimal]) -> dict[str, Decimal]:
    """R25: what may be claimed from the association per currency: the amount customs claims,
    never more than that currency's cap. A claim in a currency without an assessment at
    importation has no cap to stand on and raises ``DeadlineError``."""
    caps = r25_liability_caps(duties_assessed)
    out = {}
    for currency, amount in sorted(_amounts(claimed, "claimed").items()):
        if currency not in caps:
            raise DeadlineError(f"R25: a claim in {currency} has no duties assessed at importation in {currency}")
        out[currency] = min(amount.quantize(_CENT, rounding=ROUND_HALF_UP), caps[currency])
    return out


def r27_regularization_fee_due(departure_validated: bool, goods_left: bool) -> bool:
    """R27: "A holder who failed to have a departure validated may be charged a regularization
    fee even when no claim follows." (Seed 001, "Departing a Foreign Country", 8.)

    True when the goods did leave (``goods_left``: shown by evidence of re-exportation, R21/R23/R26)
    but the departure was not validated on the carnet. Not a date rule: a flag for customs, who
    decide whether to charge the fee; the amount is theirs, not the guarantee chain's."""
    return goods_left and not departure_validated

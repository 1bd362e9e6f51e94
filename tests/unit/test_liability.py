"""contracts.liability: R25, the liability cap (duties assessed at importation plus 10%), at its boundaries."""

from __future__ import annotations

from decimal import Decimal

import pytest

from contracts.liability import r25_liability_cap
from contracts.periods import DeadlineError

# ---------------------------------------------------------------------------------------------
# R25: liability cap
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("duties", "cap"),
    [
        ("100", "110.00"),
        ("0", "0.00"),
        ("0.05", "0.06"),  # 0.055 rounds half up
        ("0.15", "0.17"),  # 0.165
        ("1.234", "1.36"),  # 1.3574
        ("12345.67", "13580.24"),  # 13580.237
        ("999999999.99", "1099999999.99"),  # 1099999999.989
    ],
)
def test_r25_liability_cap(duties, cap):
    result = r25_liability_cap(Decimal(duties))
    assert result == Decimal(cap)
    assert result.as_tuple().exponent == -2  # always cents


def test_r25_liability_cap_accepts_int_and_refuses_bad_amounts():
    assert r25_liability_cap(250) == Decimal("275.00")
    with pytest.raises(DeadlineError, match="negative"):
        r25_liability_cap(Decimal("-0.01"))
    for bad in (Decimal("NaN"), Decimal("Infinity")):
        with pytest.raises(DeadlineError, match="finite"):
            r25_liability_cap(bad)
    with pytest.raises(TypeError):
        r25_liability_cap(10.5)  # type: ignore[arg-type]

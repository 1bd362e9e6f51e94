"""The bounded types of contracts/bounds.py, hostile inputs first: NUL and control characters, over-long
text, numbers past their column, lists past their size; and the folding that keeps a refusal bounded."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from pydantic import TypeAdapter, ValidationError

from contracts import bounds as b
from contracts.messages import CarnetItem, IssuanceRejected, Reason, SealedIssuanceRequested
from issuer.domain import answerable
from tests.support.bounds import limits

CONTROL = ["\x00", "\x01", "\x1b", "\x7f", "\x85", "\x9f", "\u2028"]


@pytest.mark.parametrize(
    "tp",
    [b.WalletId, b.RequestId, b.OfficerId, b.Reference, b.ShortText, b.Text, b.TimeZone],
    ids=["WalletId", "RequestId", "OfficerId", "Reference", "ShortText", "Text", "TimeZone"],
)
@pytest.mark.parametrize("ch", CONTROL, ids=[f"U+{ord(c):04X}" for c in CONTROL])
def test_no_identifier_or_text_admits_a_control_character(tp, ch):
    with pytest.raises(ValidationError):
        TypeAdapter(tp).validate_python(f"Paris{ch}X")


def test_only_prose_admits_newlines_and_text_admits_any_script():
    prose, line = TypeAdapter(b.prose(50)), TypeAdapter(b.Text)
    assert prose.validate_python("wrong voucher\r\nsee photo\t2") == "wrong voucher\r\nsee photo\t2"
    with pytest.raises(ValidationError):
        line.validate_python("two\nlines")
    with pytest.raises(ValidationError):
        prose.validate_python("nul\x00")
    assert line.validate_python("Lumière Productions — 東京 😀") == "Lumière Productions — 東京 😀"


def test_identifiers_are_ascii_without_spaces_or_slashes():
    ident = TypeAdapter(b.RequestId)
    assert ident.validate_python("FR-REQ-2026-000042") == "FR-REQ-2026-000042"
    for bad in ["", "FR REQ", "FR/REQ", "-FR", "FRé", "x" * 101]:
        with pytest.raises(ValidationError):
            ident.validate_python(bad)


def test_r3_quantity_fits_the_ledgers_32_bit_column():
    """Case 2 of the attack: 2^31 pieces were 'issued' and never recorded; now the contract refuses them."""
    CarnetItem(item_number=1, quantity=2**31 - 1, origin_country="DE")
    with pytest.raises(ValidationError, match="less than or equal to 2147483647"):
        CarnetItem(item_number=1, quantity=2**31, origin_country="DE")


def test_money_fits_numeric_18_2():
    money = TypeAdapter(b.Money)
    assert money.validate_python("9999999999999999.99") == Decimal("9999999999999999.99")
    for bad in ["10000000000000000.00", "1.001", "-1", "NaN", "Infinity"]:
        with pytest.raises(ValidationError):
            money.validate_python(bad)


def test_r1_representatives_are_bounded_by_the_sealed_keys():
    """Case 1 of the attack: an unbounded list of representative ids; now at most 31 (32 sealed keys)."""
    doc = SealedIssuanceRequested.model_json_schema()["properties"]["representative_ids"]
    assert doc["maxItems"] == b.MAX_REPRESENTATIVES == 31
    assert doc["items"]["maxLength"] == 64


def test_a_long_refusal_is_folded_into_max_reasons_and_cut_messages():
    many = [Reason(rule="R4", item_number=n, message="alcohol is excluded") for n in range(1, 1001)]
    rejected = IssuanceRejected(request_id="R-1", nga="FR", reasons=many)
    assert len(rejected.reasons) == b.MAX_REASONS
    assert rejected.reasons[-1].code == "more_reasons"
    assert rejected.reasons[-1].message == "and 901 more reasons (rules R4)"
    long = Reason(rule="R3", message="items not on the general list: " + ", ".join(map(str, range(5000))))
    assert len(long.message) == b.REASON_MESSAGE_MAX and long.message.endswith("…")


def test_to_line_makes_any_text_fit_a_line_field():
    assert b.to_line("a\x00b\nc", 10) == "a?b?c"
    assert b.to_line("x" * 20, 10) == "x" * 9 + "…"
    TypeAdapter(b.Text).validate_python(b.to_line("\x00" * 1000, 500))


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b'{"request_id": "R-1", "nga": "FR", "holder_id": "h\\u0000"}', ("FR", "R-1")),
        (b'{"request_id": "R-1", "nga": "FR", "items": "not a list"}', ("FR", "R-1")),
        (b'{"request_id": "R\\u0000", "nga": "FR"}', "breaks its bound"),
        (b'{"request_id": "' + b"x" * 101 + b'", "nga": "FR"}', "breaks its bound"),
        (b'{"nga": "FR"}', "missing"),
        (b'{"request_id": "R-1", "nga": "fr"}', "breaks its bound"),
        (b'{"request_id": "R-1", "nga": "ZZ"}', "not registered"),
        (b"\xff\xfe", "not JSON"),
        (b"[" * 100_000, "not JSON"),
        (b'"just a string"', "not a JSON object"),
    ],
)
def test_r1_the_issuer_reads_whom_to_answer_from_a_broken_request(body, expected):
    found = answerable(body, {"FR", "BE"})
    assert found == expected if isinstance(expected, tuple) else expected in found


def unbounded(lim, where: str) -> list[str]:
    """Where a value of these bounds is unbounded: a string without a length, a number without a top, a
    list or map without a size, a string without a character bound (control characters pass)."""
    from pydantic import BaseModel

    kind = lim.kind
    if kind in (list, tuple, set, frozenset, dict):
        out = [] if lim.max_length is not None else [f"{where}: no size bound"]
        return out + unbounded(lim.item, where + "[]") + (unbounded(lim.key, where + "{}") if lim.key else [])
    if kind is str:
        fixed = lim.pattern and re.search(r"\{\d+\}\$$", lim.pattern)
        out = [] if lim.max_length is not None or fixed else [f"{where}: no length bound"]
        return out + (
            []
            if lim.pattern and not re.fullmatch(lim.pattern, "a\x00") and not re.fullmatch(lim.pattern, "\x00")
            else [f"{where}: admits NUL"]
        )
    if kind in (int, Decimal) and lim.le is None:
        return [f"{where}: no upper bound"]
    if isinstance(kind, type) and issubclass(kind, BaseModel):
        return [p for name in kind.model_fields for p in unbounded(limits(kind, name), f"{kind.__name__}.{name}")]
    return []


def test_every_field_of_every_message_is_bounded():
    from contracts.catalogue import MESSAGE_TYPES
    from contracts.envelope import Envelope

    found = [
        p
        for model in MESSAGE_TYPES.values()
        for name in model.model_fields
        for p in unbounded(limits(model, name), f"{model.__name__}.{name}")
    ]
    found += [p for name in ("type", "producer", "subject") for p in unbounded(limits(Envelope, name), name)]
    assert found == []


def test_the_walk_finds_an_unbounded_field():
    from pydantic import BaseModel, Field

    class Loose(BaseModel):
        name: str = Field(max_length=10)
        ids: list[str]
        n: int = Field(ge=0)

    assert [p for f in Loose.model_fields for p in unbounded(limits(Loose, f), f)] == [
        "name: admits NUL",
        "ids: no size bound",
        "ids[]: no length bound",
        "ids[]: admits NUL",
        "n: no upper bound",
    ]

"""Issue 10 item 3: hypothesis against the parsers bad input reaches first. Every input gets either a result or
one typed, explained error; nothing else escapes (no KeyError, IndexError, UnicodeError, ...).

The token decoder and the transaction-code parser have their own properties in test_cose_token.py and
test_txcode.py; here: the officers' CSV import (R18) and the issuance request as it arrives on the topic."""

from __future__ import annotations

import json
import string

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from contracts.topics import ISSUANCE_REQUESTS
from customs_gateway.accounts import IMPORT_COLUMNS, ImportRefused, parse_import
from runtime.consumer import ContractViolation, parse
from tests.support.messages import sealed_request, wire

OFFICES = {"FR-CDG-FRET", "CH-GVA-AIR"}
FAST = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

cells = st.text(alphabet=string.printable + 'éü\u00a0\ufeff\x00"', max_size=30)
rows = st.lists(st.lists(cells, min_size=0, max_size=5).map(lambda r: ",".join(r)), max_size=8)


def check_import(text: str) -> None:
    try:
        accepted, errors = parse_import(text, OFFICES, existing={"fr-officer-0001"})
    except ImportRefused as exc:
        assert str(exc)  # refused as a whole, with the reason
        return
    # all or nothing: rows come back only when no row failed, and every error names its line
    assert not (accepted and errors)
    assert all(e.row >= 2 and e.errors for e in errors)
    assert all(r.office_id in OFFICES for r in accepted)


@FAST
@given(st.text(max_size=400))
def test_r18_csv_import_of_arbitrary_text_is_parsed_or_refused_with_reasons(text):
    check_import(text)


@FAST
@given(rows)
def test_r18_csv_import_of_malformed_rows_under_a_good_header_names_every_bad_line(body):
    check_import(",".join(IMPORT_COLUMNS) + "\n" + "\n".join(body))


VALID = json.loads(sealed_request("REQ-FUZZ").model_dump_json())
_, HEADERS, _ = wire(sealed_request("REQ-FUZZ"))

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)


def check_request(body: bytes) -> None:
    try:
        _, payload = parse(ISSUANCE_REQUESTS, HEADERS, body)
    except ContractViolation as exc:
        assert exc.kind in {"malformed_json", "schema", "too_large"} and str(exc)
        return
    assert payload.request_id  # what parses is a whole, valid request


@FAST
@given(st.binary(max_size=300))
def test_r1_issuance_request_bytes_parse_or_are_refused_as_a_contract_violation(body):
    check_request(body)


@FAST
@given(st.sampled_from(sorted(VALID)), json_values)
def test_r1_an_issuance_request_with_one_field_replaced_parses_or_names_the_field(field, value):
    body = json.dumps({**VALID, field: value}).encode()
    try:
        parse(ISSUANCE_REQUESTS, HEADERS, body)
    except ContractViolation as exc:
        assert exc.kind == "schema" and field in str(exc)


@FAST
@given(st.sampled_from(sorted(VALID)))
def test_r1_an_issuance_request_missing_any_required_field_is_refused_naming_it(field):
    from contracts.messages import SealedIssuanceRequested

    body = json.dumps({k: v for k, v in VALID.items() if k != field}).encode()
    if not SealedIssuanceRequested.model_fields[field].is_required():
        return check_request(body)
    try:
        parse(ISSUANCE_REQUESTS, HEADERS, body)
    except ContractViolation as exc:
        assert exc.kind == "schema" and field in str(exc)
    else:
        raise AssertionError(f"a request without {field} was accepted")


@pytest.mark.parametrize(
    "password", ["correct horse\x1b[31m battery", "a long password\x00 here", "tab\tin a long password"]
)
def test_a_password_with_a_control_character_is_refused_at_creation(password: str) -> None:
    """A terminal escape or NUL is no part of a password an officer types; any script is (the CSV import's check)."""
    from customs_gateway.accounts import password_problems

    assert password_problems(password) and "control character" in password_problems(password)[0]
    assert password_problems("mot de passe très long ❄") == []

"""The typed fallback transaction code (contracts.txcode): refused locally before any lookup."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, strategies as st

from contracts.txcode import (
    ALPHABET,
    CHECK_ALPHABET,
    TransactionCodeError,
    format_transaction_code,
    new_transaction_code,
    parse_transaction_code,
)

GROUPED = re.compile(r"^[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z*~$=U]$")


def fixed(data: bytes):
    def random_bytes(n: int) -> bytes:
        assert n == len(data)
        return data

    return random_bytes


def with_check(data: str) -> str:
    """Independent reference for the check symbol: the data read as one base-32 number, mod 37."""
    return (
        data + CHECK_ALPHABET[int(data.translate(str.maketrans(ALPHABET, "0123456789abcdefghijklmnopqrstuv")), 32) % 37]
    )


# Codes chosen to contain every confusable digit and the rarer check symbols.
SAMPLES = [with_check("0123456789AB"), with_check("CDEFGHJKMNPQ"), with_check("RSTVWXYZ1010"), "000000000014U"]


def test_alphabets_follow_crockford():
    assert ALPHABET == "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
    assert CHECK_ALPHABET == ALPHABET + "*~$=U"
    assert not set("ILOU") & set(ALPHABET)


def test_new_code_is_canonical_and_parses_to_itself():
    code = new_transaction_code()
    assert len(code) == 13
    assert parse_transaction_code(code) == code


def test_new_code_uses_injected_randomness():
    assert new_transaction_code(fixed(bytes(8))) == "0000000000000"
    all_ones = new_transaction_code(fixed(b"\xff" * 8))
    assert all_ones == "ZZZZZZZZZZZZ" + CHECK_ALPHABET[(2**60 - 1) % 37]
    assert new_transaction_code(fixed(b"\x01\x23\x45\x67\x89\xab\xcd\xef")) == with_check(
        "".join(ALPHABET[(0x0123456789ABCDE >> (5 * i)) & 31] for i in reversed(range(12)))
    )


def test_check_symbol_u_is_valid_in_last_place_only():
    assert parse_transaction_code("000000000014U") == "000000000014U"
    assert parse_transaction_code("0000-0000-0014-u") == "000000000014U"
    with pytest.raises(TransactionCodeError, match="final check symbol"):
        parse_transaction_code("U00000000014U")


@pytest.mark.parametrize("code", SAMPLES)
def test_format_groups_for_reading_aloud_and_parses_back(code):
    grouped = format_transaction_code(code)
    assert GROUPED.match(grouped)
    assert grouped.replace("-", "") == code
    assert parse_transaction_code(grouped) == code


@pytest.mark.parametrize("code", SAMPLES)
def test_lower_case_spaces_and_hyphens_anywhere(code):
    assert parse_transaction_code(code.lower()) == code
    assert parse_transaction_code(" ".join(code)) == code
    assert parse_transaction_code("-" + code[:3] + " - " + code[3:] + " ") == code


def test_letters_that_look_like_digits_read_as_digits():
    code = with_check("0123456789AB")
    assert parse_transaction_code("O123456789AB" + code[-1]) == code
    assert parse_transaction_code("oI23456789AB" + code[-1]) == code
    assert parse_transaction_code("0l23456789ab" + code[-1]) == code
    assert parse_transaction_code("0L23456789AB" + code[-1]) == code


@pytest.mark.parametrize("code", SAMPLES)
def test_every_single_symbol_substitution_is_caught(code):
    """37 is prime and above 32, so changing one symbol always changes the value mod 37."""
    for position in range(13):
        alphabet = CHECK_ALPHABET if position == 12 else ALPHABET
        for symbol in alphabet:
            if symbol == code[position]:
                continue
            typo = code[:position] + symbol + code[position + 1 :]
            with pytest.raises(TransactionCodeError, match="check symbol"):
                parse_transaction_code(typo)


@pytest.mark.parametrize("code", SAMPLES)
def test_every_adjacent_transposition_of_data_symbols_is_caught(code):
    for position in range(11):
        if code[position] == code[position + 1]:
            continue
        swapped = code[:position] + code[position + 1] + code[position] + code[position + 2 :]
        with pytest.raises(TransactionCodeError):
            parse_transaction_code(swapped)


@pytest.mark.parametrize("text", ["", "0000", "000000000000", "00000000000000", "0000-0000-0000-0-0"])
def test_wrong_length(text):
    with pytest.raises(TransactionCodeError, match="13 symbols"):
        parse_transaction_code(text)


@pytest.mark.parametrize("text", ["00000000000#0", "0000_0000_0000_0", "00000000000Ä0", "0000.0000.0000.0"])
def test_invalid_characters(text):
    with pytest.raises(TransactionCodeError, match="invalid character"):
        parse_transaction_code(text)


@pytest.mark.parametrize("symbol", "*~$=")
def test_extra_check_symbols_are_not_data(symbol):
    with pytest.raises(TransactionCodeError, match="final check symbol"):
        parse_transaction_code(symbol + "000000000000")


def test_format_refuses_a_bad_code():
    with pytest.raises(TransactionCodeError):
        format_transaction_code("0000000000001")


@given(st.binary(min_size=8, max_size=8))
def test_any_randomness_gives_a_code_that_survives_formatting_and_case(data):
    code = new_transaction_code(fixed(data))
    assert len(code) == 13
    assert parse_transaction_code(format_transaction_code(code).lower()) == code

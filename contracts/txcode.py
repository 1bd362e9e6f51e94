"""The typed fallback for a declaration token: a transaction code an officer can key in or hear.

Crockford Base32 (https://www.crockford.com/base32.html) because it drops the letters people
confuse (I, L, O, U) and decodes the confusions forgivingly. The mod-37 check symbol catches
every single-symbol substitution and every adjacent transposition (37 is prime and larger than
the 32 symbol values), so a mistyped code is refused here, before it ever reaches a lookup that
is rate-limited per officer (ARCHITECTURE.md, "Tokens and keys").
"""

from __future__ import annotations

import os
from collections.abc import Callable

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CHECK_ALPHABET = ALPHABET + "*~$=U"

DATA_SYMBOLS = 12
CODE_LENGTH = DATA_SYMBOLS + 1
_BITS_PER_SYMBOL = 5
_DATA_BITS = DATA_SYMBOLS * _BITS_PER_SYMBOL  # 60 bits: guessing one live code is hopeless
_GROUP = 4

# Crockford's decoding leniency: the letters that look like digits read as those digits.
_CONFUSABLES = {"O": "0", "I": "1", "L": "1"}
_IGNORED = frozenset(" -")
_DATA_VALUES = {symbol: value for value, symbol in enumerate(ALPHABET)}
_CHECK_VALUES = {symbol: value for value, symbol in enumerate(CHECK_ALPHABET)}


class TransactionCodeError(ValueError):
    """The text is not a well-formed transaction code."""


def _check_symbol(data: str) -> str:
    value = 0
    for symbol in data:
        value = value * len(ALPHABET) + _DATA_VALUES[symbol]
    return CHECK_ALPHABET[value % len(CHECK_ALPHABET)]


def new_transaction_code(random_bytes: Callable[[int], bytes] = os.urandom) -> str:
    """A fresh code in canonical form: 12 data symbols and the check symbol, no separators."""
    value = int.from_bytes(random_bytes(8), "big") >> (64 - _DATA_BITS)
    data = "".join(ALPHABET[(value >> (_BITS_PER_SYMBOL * shift)) & 0b11111] for shift in reversed(range(DATA_SYMBOLS)))
    return data + _check_symbol(data)


def parse_transaction_code(text: str) -> str:
    """Normalize typed or dictated input to the canonical 13-symbol code, or refuse it."""
    cleaned = []
    for position, char in enumerate(text.upper(), start=1):
        if char in _IGNORED:
            continue
        char = _CONFUSABLES.get(char, char)
        if char not in _CHECK_VALUES:
            raise TransactionCodeError(
                f"invalid character {char!r} at position {position}: "
                f"a transaction code uses only digits and the letters of {ALPHABET[10:]}"
            )
        cleaned.append(char)
    if len(cleaned) != CODE_LENGTH:
        raise TransactionCodeError(
            f"a transaction code has {CODE_LENGTH} symbols (XXXX-XXXX-XXXX-C), got {len(cleaned)}"
        )
    code = "".join(cleaned)
    data, check = code[:DATA_SYMBOLS], code[DATA_SYMBOLS]
    # The extra check symbols are only meaningful in the last place; U in particular is
    # excluded from the data alphabet so it can't be an accidental obscenity or a misread V.
    misplaced = next((c for c in data if c not in _DATA_VALUES), None)
    if misplaced is not None:
        raise TransactionCodeError(f"symbol {misplaced!r} may only appear as the final check symbol")
    if _check_symbol(data) != check:
        raise TransactionCodeError("check symbol does not match: the code was mistyped or misheard")
    return code


def format_transaction_code(code: str) -> str:
    """Group a code as ``XXXX-XXXX-XXXX-C`` so it can be read aloud in small chunks."""
    canonical = parse_transaction_code(code)
    groups = [canonical[i : i + _GROUP] for i in range(0, DATA_SYMBOLS, _GROUP)]
    return "-".join([*groups, canonical[DATA_SYMBOLS]])

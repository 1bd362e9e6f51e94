"""Canonical JSON, named and versioned, so digests and signatures agree across languages (R3).

``JCS`` is RFC 8785 (JSON Canonicalization Scheme), through the ``rfc8785`` package: UTF-8, object
members sorted by UTF-16 code units, ECMAScript number form, only the escapes RFC 8785 requires. A
JavaScript, Java or Kotlin NGA or wallet computes the same bytes with its own RFC 8785 library
(tests/vectors/jcs.json holds vectors computed by Node's ``canonicalize``, by the RFC's author).

The constructions before it used Python's ``json.dumps`` with sorted keys and compact separators;
they stay here, under their version names, so digests and signatures made with them still verify:

* ``LEGACY_ASCII``: ``ensure_ascii=True`` (every non-ASCII character as a ``\\uXXXX`` escape), used
  by the general-list digest ``ATA-GL-1`` and the trust list ``ATA-TL-1``.
* ``LEGACY_UTF8``: ``ensure_ascii=False``, used by the sealed document ``ATA-DOC-1``.

For ASCII-only values without floats all three give the same bytes; they differ on any accented
description ("Caméra α7"), which is why the version is carried with every construction.
"""

from __future__ import annotations

import json
from typing import Any

import rfc8785

JCS = "rfc8785"
LEGACY_ASCII = "python-json-ascii"
LEGACY_UTF8 = "python-json-utf8"


class CanonicalError(ValueError):
    """A value RFC 8785 cannot represent (NaN, an integer beyond 2**53, a lone surrogate, a non-JSON type)."""


def canonical_json(value: Any, form: str = JCS) -> bytes:
    """The canonical bytes of a JSON value (dicts, lists, str, int, float, bool, None) in ``form``."""
    if form == JCS:
        try:
            return rfc8785.dumps(value)
        except (rfc8785.CanonicalizationError, TypeError, ValueError) as exc:
            raise CanonicalError(f"not representable in RFC 8785: {exc}") from exc
    if form in (LEGACY_ASCII, LEGACY_UTF8):
        return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=form == LEGACY_ASCII).encode()
    raise CanonicalError(f"unknown canonical form {form!r}")

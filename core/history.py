"""Per-carnet hash chain over life-cycle events (issue 3, item 7): pure, standard library only.

Every committed crossing, and every other life-cycle event of a carnet (duplicate, replacement,
duty receipt, closure), is appended to the carnet's chain:

    hash_n = SHA-256(hash_{n-1} || canonical(record_n)),    hash_0 = GENESIS = 32 zero bytes

so changing, removing or reordering any stored record breaks the chain from that point on.
(`core.history_store` hashes an *entry* that wraps the caller's record with the carnet number,
position, event name and recording time, so those columns are protected too.)

Canonical encoding (`canonical`) -- any verifier, in any language, must reproduce these bytes:

* the record is first converted to its JSON-native form (`to_native`), then serialised as JSON
  with object keys sorted by Unicode code point (Python's `sort_keys`; note: *not* the UTF-16
  order of RFC 8785), separators `,` and `:` with no whitespace, non-ASCII characters written
  as themselves (`ensure_ascii=False`), and encoded as UTF-8;
* `datetime` must be timezone-aware; it becomes the UTC instant as a string with a fixed
  microsecond part and a `Z` suffix: ``2026-11-22T08:31:01.000000Z``;
* `date` becomes ``YYYY-MM-DD``; `UUID` the lower-case hyphenated form; `Enum` members their
  value; tuples become lists; objects with `model_dump()` (pydantic models) and dataclasses
  become their field mappings;
* `Decimal` must be finite and becomes a string in plain notation without trailing zeros
  (``Decimal("2.30")`` and ``Decimal("2.3")`` both give ``"2.3"``; ``Decimal("1E+2")`` gives
  ``"100"``; zero is ``"0"``);
* floats are refused (their decimal rendering is not canonical); so are naive datetimes,
  non-string mapping keys, sets, bytes, strings containing NUL or lone surrogates (PostgreSQL's
  jsonb cannot hold NUL, and lone surrogates have no UTF-8 form), and any other type.
  Every refusal raises `NotCanonical`, a `ValueError`.

`to_native` is idempotent and JSON-native values are left as they are, so a record decoded with
`json.loads` from what was stored re-encodes to exactly the bytes that were hashed: jsonb may
reorder keys and reformat whitespace, but neither survives `canonical`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any
from uuid import UUID

#: The "previous hash" of a chain's first record.
GENESIS = bytes(32)
HASH_SIZE = 32

#: Event names for the life-cycle events appended to a chain (not enforced; one name per kind of event).
CROSSING = "crossing"
DUPLICATE = "duplicate_issued"
REPLACEMENT = "replacement_issued"
DUTY_RECEIPT = "items_accounted_for"
CLOSURE = "closed"
CANCELLATION = "transaction_cancelled"

#: `ChainCheck.reason` values.
RECORD_ALTERED = "record altered"
LINK_BROKEN = "link broken"
POSITION_GAP = "position gap"


class NotCanonical(ValueError):
    """A value that has no canonical encoding."""


def _string(s: str, where: str) -> str:
    if "\x00" in s:
        raise NotCanonical(f"{where}: strings may not contain NUL (jsonb cannot store it)")
    try:
        s.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise NotCanonical(f"{where}: string is not valid Unicode ({exc.reason})") from None
    return str.__str__(s)  # a plain str with the same characters, also for str subclasses


def _decimal(d: Decimal, where: str) -> str:
    if not d.is_finite():
        raise NotCanonical(f"{where}: Decimal {d} is not finite")
    if d.is_zero():
        return "0"
    # Strip trailing zeros by hand: Decimal.normalize() would also round to the context's precision.
    sign, digits, exponent = d.as_tuple()
    kept = list(digits)
    while len(kept) > 1 and kept[-1] == 0:
        kept.pop()
        exponent += 1  # type: ignore[operator]
    return format(Decimal((sign, tuple(kept), exponent)), "f")


def to_native(value: Any, where: str = "record") -> Any:
    """`value` as JSON-native data (dict with str keys, list, str, int, bool, None); see the module doc."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, Enum):
        return to_native(value.value, where)
    if isinstance(value, str):
        return _string(value, where)
    if isinstance(value, int):
        return int.__int__(value)  # a plain int, also for int subclasses
    if isinstance(value, float):
        raise NotCanonical(f"{where}: floats are not canonical; use Decimal, int or str")
    if isinstance(value, Decimal):
        return _decimal(value, where)
    if isinstance(value, datetime):  # before date: a datetime is a date
        if value.tzinfo is None or value.utcoffset() is None:
            raise NotCanonical(f"{where}: naive datetime {value.isoformat()}; give it a time zone")
        try:
            utc = value.astimezone(UTC)
        except OverflowError:
            raise NotCanonical(f"{where}: {value.isoformat()} is out of range in UTC") from None
        return utc.replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for key, item in value.items():
            if isinstance(key, Enum):
                key = key.value
            if not isinstance(key, str):
                raise NotCanonical(f"{where}: mapping key {key!r} is not a string")
            key = _string(key, where)
            if key in out:
                raise NotCanonical(f"{where}: key {key!r} appears twice")
            out[key] = to_native(item, f"{where}.{key}")
        return out
    if isinstance(value, (list, tuple)):
        return [to_native(item, f"{where}[{i}]") for i, item in enumerate(value)]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return to_native({f.name: getattr(value, f.name) for f in dataclasses.fields(value)}, where)
    dump = getattr(value, "model_dump", None)
    if callable(dump):  # pydantic models, without importing pydantic
        return to_native(dump(), where)
    raise NotCanonical(f"{where}: {type(value).__name__} has no canonical encoding")


def canonical(record: Mapping[str, Any]) -> bytes:
    """The deterministic bytes that are hashed for `record` (see the module doc)."""
    if not isinstance(record, Mapping):
        raise NotCanonical(f"a record is a mapping, not {type(record).__name__}")
    native = to_native(record)
    return json.dumps(native, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode(
        "utf-8"
    )


def link(prev_hash: bytes, record: Mapping[str, Any]) -> bytes:
    """SHA-256(prev_hash || canonical(record)): the hash of the record that follows `prev_hash`."""
    if not isinstance(prev_hash, (bytes, bytearray, memoryview)) or len(prev_hash) != HASH_SIZE:
        raise ValueError(f"a previous hash is {HASH_SIZE} bytes")
    return hashlib.sha256(bytes(prev_hash) + canonical(record)).digest()


@dataclass(frozen=True)
class ChainCheck:
    """The outcome of `verify`: `head` is the hex hash of the last stored entry (GENESIS when empty)."""

    ok: bool
    length: int
    head: str
    broken_at: int | None = None
    reason: str | None = None


def verify(entries: Sequence[tuple[int, Mapping[str, Any], bytes, bytes]]) -> ChainCheck:
    """Check (position, record, prev_hash, hash) entries, ordered by position, from the genesis on.

    Positions must run 1..n without a gap, the first entry's previous hash must be GENESIS, each
    later one's the hash of the entry before it, and each hash must be `link(prev_hash, record)`.
    The first failure is reported with its position (the expected position, for a gap) and reason:
    "position gap", "link broken" (the previous hash does not match) or "record altered" (the
    record, or its stored hash, was changed). A self-consistent forgery (record and hash both
    rewritten) shows as "link broken" at the next position; rewriting the last entry, or
    dropping entries from the end, is only caught against a head hash kept elsewhere.
    """
    head = GENESIS
    n = len(entries)
    last = bytes(entries[-1][3]) if entries else GENESIS
    for expected, (position, record, prev_hash, stored) in enumerate(entries, start=1):
        if position != expected:
            return ChainCheck(False, n, last.hex(), expected, POSITION_GAP)
        if bytes(prev_hash) != head:
            return ChainCheck(False, n, last.hex(), expected, LINK_BROKEN)
        try:
            computed = link(prev_hash, record)
        except ValueError:  # e.g. a float or a non-mapping written into the stored record
            return ChainCheck(False, n, last.hex(), expected, RECORD_ALTERED)
        if bytes(stored) != computed:
            return ChainCheck(False, n, last.hex(), expected, RECORD_ALTERED)
        head = computed
    return ChainCheck(True, n, head.hex())


def crossing_record(recorded: Any, *, officer_id: str, decided_at: datetime) -> dict[str, Any]:
    """The chained record of a committed crossing, from a `TransactionRecorded` and the commit's officer and time.

    The carnet number, event name and recording time are added by `history_store.append`.
    """
    fields = (
        "transaction_id",
        "declaration_id",
        "commit_id",
        "kind",
        "country",
        "items",
        "sequence",
        "decision",
        "office_id",
        "office_timezone",
        "recorded_at",
        "item_locations",
    )
    record = {name: getattr(recorded, name) for name in fields}
    record["officer_id"] = officer_id
    record["decided_at"] = decided_at
    return to_native(record)

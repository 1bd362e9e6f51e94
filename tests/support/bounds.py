"""What a contract field admits at most, read from its declared bounds (contracts/bounds.py).

`limits(model, field)` gives a field's bounds as the validator sees them; `largest(model)` builds
the largest valid value of a model from them: every string at its maximum length in the widest
UTF-8 character its pattern admits, every list and map at its maximum size, every number at its
upper bound, every optional field present. Pure: no I/O.
"""

from __future__ import annotations

import enum
import re
import string
import types
import typing
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Annotated, Any
from uuid import UUID

import annotated_types as at
from pydantic import AwareDatetime, BaseModel

#: Tried in this order: the widest UTF-8 encodings first (4, 3, 2 bytes), then ASCII.
FILLERS = ("\U0001f600", "\u20ac", "\u00e9", "Z", "9", "f", "A")
#: The latest instant with the widest offset and microseconds: the longest RFC 3339 text.
WIDEST_INSTANT = datetime(2099, 12, 31, 23, 59, 59, 999999, tzinfo=timezone(-timedelta(hours=9, minutes=30)))


@dataclass
class Limits:
    """The bounds of one value: lengths, pattern, range, digits; `item`: the element's, for a list or map."""

    max_length: int | None = None
    min_length: int | None = None
    pattern: str | None = None
    le: Any = None
    ge: Any = None
    max_digits: int | None = None
    decimal_places: int | None = None
    key: Limits | None = None
    item: Limits | None = None
    kind: Any = None
    optional: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


def _collect(meta: list[Any], out: Limits) -> None:
    for m in meta:
        for name in ("max_length", "min_length", "pattern", "le", "ge", "max_digits", "decimal_places"):
            value = getattr(m, name, None)
            if value is not None:
                setattr(out, name, value)
        if isinstance(m, at.MaxLen):
            out.max_length = m.max_length
        if hasattr(m, "metadata"):
            _collect(list(m.metadata), out)


def limits_of(tp: Any, meta: list[Any] | None = None) -> Limits:
    """The bounds of a type with its metadata (Annotated layers, unions with None, lists, maps)."""
    out = Limits()
    meta = list(meta or [])
    while True:
        origin, args = typing.get_origin(tp), typing.get_args(tp)
        if origin is typing.Annotated:
            tp, meta = args[0], meta + list(args[1:])
            continue
        if origin is typing.Union or origin is types.UnionType:
            rest = [a for a in args if a is not type(None)]
            out.optional = out.optional or len(rest) < len(args)
            tp = rest[0] if len(rest) == 1 else tp
            if len(rest) == 1:
                continue
        break
    _collect(meta, out)
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    out.kind = origin or tp
    if origin in (list, tuple, set, frozenset):
        out.item = limits_of(args[0])
    elif origin is dict:
        out.key, out.item = limits_of(args[0]), limits_of(args[1])
    else:
        out.extra["type"] = tp
    return out


def limits(model: type[BaseModel], name: str) -> Limits:
    f = model.model_fields[name]
    return limits_of(f.annotation, list(f.metadata))


def widest_string(lim: Limits, examples: list[Any] | None = None) -> str:
    """The longest string the bounds admit, in the widest character its pattern admits."""
    lengths = [lim.max_length] if lim.max_length else [int(n) for n in re.findall(r"\{(\d+)\}", lim.pattern or "")]
    for n in lengths:
        for ch in FILLERS:
            s = ch * n
            if lim.pattern is None or re.fullmatch(lim.pattern, s):
                return s
    for ex in examples or []:
        if isinstance(ex, str) and (lim.pattern is None or re.fullmatch(lim.pattern, ex)):
            return ex
    raise AssertionError(f"no widest value found for pattern {lim.pattern!r} and length {lim.max_length}")


def _distinct_keys(lim: Limits, count: int) -> list[str]:
    base = widest_string(lim)
    keys: list[str] = []
    for i in range(count * 4):
        tail = "".join(string.ascii_uppercase[(i // 26**k) % 26] for k in range(2))
        candidate = base[:-2] + tail if len(base) > 2 else base[:-1] + string.ascii_uppercase[i % 26]
        if candidate not in keys and (lim.pattern is None or re.fullmatch(lim.pattern, candidate)):
            keys.append(candidate)
        if len(keys) == count:
            return keys
    raise AssertionError(f"cannot make {count} distinct keys for {lim.pattern!r}")


def value_for(lim: Limits, examples: list[Any] | None = None) -> Any:
    kind = lim.kind
    if kind in (list, tuple, set, frozenset):
        assert lim.max_length is not None, "unbounded list"
        assert lim.item is not None
        return [value_for(lim.item) for _ in range(lim.max_length)]
    if kind is dict:
        assert lim.max_length is not None and lim.key is not None and lim.item is not None, "unbounded map"
        return {k: value_for(lim.item) for k in _distinct_keys(lim.key, lim.max_length)}
    if isinstance(kind, type) and issubclass(kind, BaseModel):
        return largest(kind)
    if typing.get_origin(kind) is typing.Literal or kind is typing.Literal:
        return max(typing.get_args(lim.extra["type"]), key=lambda v: len(str(v)))
    if isinstance(kind, type) and issubclass(kind, enum.Enum):
        return max((e.value for e in kind), key=lambda v: len(str(v)))
    if kind is str:
        return widest_string(lim, examples)
    if kind is bool:
        return False
    if kind is int:
        assert lim.le is not None, "unbounded integer"
        return lim.le
    if kind is Decimal:
        assert lim.le is not None, "unbounded decimal"
        return str(lim.le)
    if kind is UUID:
        return "ffffffff-ffff-4fff-bfff-ffffffffffff"
    if kind is AwareDatetime or (isinstance(kind, type) and issubclass(kind, datetime)):
        return WIDEST_INSTANT.isoformat()
    if kind is date:
        return "2099-12-31"
    raise AssertionError(f"no largest value for {kind!r}")


def largest(model: type[BaseModel]) -> dict[str, Any]:
    """The largest valid instance of `model`, as the JSON-ready dict it is validated from."""
    out: dict[str, Any] = {}
    for name, f in model.model_fields.items():
        value = value_for(limits(model, name), list(f.examples or []))
        if f.examples and not _valid(model, name, value):
            # A validator beyond the bounds (an IANA zone must load): the longest example stands in.
            value = max(f.examples, key=lambda e: len(str(e)))
        out[name] = value
    return out


def _valid(model: type[BaseModel], name: str, value: Any) -> bool:
    from pydantic import TypeAdapter, ValidationError

    f = model.model_fields[name]
    try:
        TypeAdapter(Annotated[f.annotation, *f.metadata] if f.metadata else f.annotation).validate_python(value)
    except ValidationError:
        return False
    return True

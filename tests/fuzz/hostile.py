"""The hostile inputs the adversarial suite sends: one catalogue for HTTP routes and for topics.

Each value is a thing an attacker or a broken integrator sends: NUL and control characters, bidirectional
overrides, lone surrogates, strings and lists far past any bound, integers past 32 and 64 bits, wrong JSON
types, unknown enum values, deep nesting. Hypothesis adds drawn values of the same kinds, derandomized so a
failure reproduces. Pure: no I/O, so the same catalogue serves the HTTP and the topic suites.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from hypothesis import HealthCheck, given, settings as hsettings, strategies as st

HOSTILE_STRINGS: list[str] = [
    "",
    "\x00",
    "FR26\x0000010",
    "\x1b[31mred\x1b[0m",
    "line\r\nX-Injected: 1",
    "\u202eevil\u202c",
    "\ud800",
    "\ufeff\u200b",
    "../../../etc/passwd",
    "' OR 1=1 --",
    "%00%0a",
    "x" * 10_000,
    "é" * 70_000,
]
HOSTILE_NUMBERS: list[Any] = [-1, 0, 2**31, -(2**31) - 1, 2**63, 10**40, 1e308, -1e308, 0.5]
WRONG_TYPES: list[Any] = [None, True, [], {}, [[]], {"$gt": ""}, "not-an-enum-value"]


def deep_json(depth: int = 50_000) -> bytes:
    return b"[" * depth + b"]" * depth


@dataclass(frozen=True)
class Body:
    """A raw request or record body with the name of what makes it hostile."""

    name: str
    data: bytes


def whole_bodies(valid: Any) -> list[Body]:
    """Bodies that are hostile as a whole, whatever the schema."""
    valid_json = json.dumps(valid).encode()
    return [
        Body("deep_nesting", deep_json()),
        Body("deep_object", b'{"a":' * 5_000 + b"1" + b"}" * 5_000),
        Body("huge_list", json.dumps([valid] * 20_000).encode()),
        Body("array_not_object", json.dumps([valid]).encode()),
        Body("scalar", b"42"),
        Body("null", b"null"),
        Body("empty", b""),
        Body("truncated", valid_json[: max(1, len(valid_json) // 2)]),
        Body("invalid_utf8", b'{"x": "\xff\xfe\xc0"}'),
        Body("nul_byte", valid_json[:-1] + b', "\x00": "\x00"}' if valid_json.endswith(b"}") else b"\x00"),
        Body("duplicate_keys", _duplicate_keys(valid)),
        Body("oversized", b'{"pad": "' + b"x" * (2 * 1024 * 1024) + b'"}'),
        Body("nan", b'{"x": NaN, "y": Infinity}'),
    ]


def _duplicate_keys(valid: Any) -> bytes:
    if not isinstance(valid, dict) or not valid:
        return b'{"a": 1, "a": 2}'
    key = next(iter(valid))
    inner = json.dumps(valid)[1:-1]
    return ("{" + inner + ", " + json.dumps(key) + ": " + json.dumps(WRONG_TYPES[-1]) + "}").encode()


def drawn(examples: int = 12) -> list[Any]:
    """Hypothesis-drawn hostile scalars: text with any code point (controls and surrogates included), huge integers."""
    values: list[Any] = []

    @hsettings(
        max_examples=examples, derandomize=True, database=None, deadline=None, suppress_health_check=list(HealthCheck)
    )
    @given(
        st.one_of(
            st.text(alphabet=st.characters(codec=None, exclude_categories=()), min_size=1, max_size=64),
            st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=0x1F), min_size=1, max_size=8),
            st.integers(min_value=2**31, max_value=2**80) | st.integers(max_value=-(2**31) - 1, min_value=-(2**80)),
            st.lists(st.text(max_size=3), min_size=1000, max_size=1001),
        )
    )
    def collect(value: Any) -> None:
        values.append(value)

    collect()
    return values


def scalars() -> list[Any]:
    return [*HOSTILE_STRINGS, *HOSTILE_NUMBERS, *WRONG_TYPES, *drawn()]


def field_mutations(valid: dict[str, Any], values: list[Any] | None = None) -> Iterator[tuple[str, dict[str, Any]]]:
    """The valid body with one field, at the top level or one level down, replaced, dropped, or grown huge."""
    values = scalars() if values is None else values
    for key, current in valid.items():
        for i, value in enumerate(values):
            yield f"{key}={_label(value, i)}", {**valid, key: value}
        yield f"{key}:missing", {k: v for k, v in valid.items() if k != key}
        if isinstance(current, list) and current:
            yield f"{key}:huge_list", {**valid, key: current * (20_000 // len(current) + 1)}
            if isinstance(current[0], dict):
                for name, inner in field_mutations(current[0], values[:12]):
                    yield f"{key}[0].{name}", {**valid, key: [inner, *current[1:]]}
        if isinstance(current, dict):
            for name, inner in field_mutations(current, values[:12]):
                yield f"{key}.{name}", {**valid, key: inner}
    yield "unknown_field", {**valid, "\x00unknown": "x" * 1000}


def _label(value: Any, index: int) -> str:
    text = repr(value)
    return text if len(text) <= 24 else f"{type(value).__name__}#{index}"


def encode(body: Any) -> bytes:
    """JSON as an attacker's client would send it: lone surrogates escaped, nothing refused on our side."""
    return json.dumps(body, allow_nan=True).encode()

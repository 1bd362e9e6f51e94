"""What the hash-chain unit tests share: a chain built from records and the records themselves."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from core.history import GENESIS, link

Entry = tuple[int, dict[str, Any], bytes, bytes]


def chain(records: list[dict[str, Any]]) -> list[Entry]:
    out: list[Entry] = []
    prev = GENESIS
    for position, record in enumerate(records, start=1):
        digest = link(prev, record)
        out.append((position, record, prev, digest))
        prev = digest
    return out


# --- strategies of the property tests ----------------------------------------------------------------

KEYS = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=8)
LEAVES = st.one_of(
    st.none(), st.booleans(), st.integers(), st.text(st.characters(codec="utf-8", exclude_characters="\x00"))
)

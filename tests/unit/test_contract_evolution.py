"""Issue 5 item 8: every contract's JSON schema is held against contracts/snapshot.json; a backward-incompatible
change (a removed or retyped field, a new required field, a removed enum value or message type) fails here."""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel

from contracts import compat

REGENERATE = "an additive change: run `python -m contracts.compat --write` and commit contracts/snapshot.json"


def test_no_contract_breaks_the_committed_snapshot():
    problems = compat.incompatibilities(json.loads(compat.SNAPSHOT.read_text()), compat.current())
    assert problems == [], "backward-incompatible contract changes:\n" + "\n".join(problems)


def test_the_snapshot_names_every_contract_and_matches_it():
    """A new message type or optional field is fine, but the snapshot must be regenerated so review sees it."""
    assert json.loads(compat.SNAPSHOT.read_text()) == compat.current(), REGENERATE


# --- the checker itself, on small models ------------------------------------------------------------


class Colour(StrEnum):
    RED = "red"
    BLUE = "blue"


class Place(BaseModel):
    country: str
    final_date: str | None = None


class V1(BaseModel):
    number: str
    count: int
    colour: Colour
    where: Place
    items: list[int]
    note: str | None = None


def breaks(new: type[BaseModel]) -> list[str]:
    return compat.breaks(V1.model_json_schema(), new.model_json_schema())


def test_an_optional_field_and_a_new_enum_value_are_additive():
    class MoreColours(StrEnum):
        RED = "red"
        BLUE = "blue"
        GREEN = "green"

    class V2(V1):
        colour: MoreColours  # type: ignore[assignment]
        extra: str | None = None

    assert breaks(V2) == []


def test_a_removed_field_is_incompatible():
    class V2(BaseModel):
        number: str
        colour: Colour
        where: Place
        items: list[int]
        note: str | None = None

    assert breaks(V2) == ["count: removed"]


def test_a_retyped_field_and_a_retyped_list_item_are_incompatible():
    class V2(V1):
        count: str  # type: ignore[assignment]
        items: list[str]  # type: ignore[assignment]

    assert breaks(V2) == ["count: no longer accepts integer", "items: no longer accepts array:integer"]


def test_a_new_required_field_and_a_field_made_required_are_incompatible():
    class V2(V1):
        note: str  # type: ignore[assignment]
        added: int

    assert sorted(breaks(V2)) == [
        "added: new required field",
        "note: new required field",
        "note: no longer accepts null",
    ]


def test_a_removed_enum_value_and_a_narrowed_literal_are_incompatible():
    class Fewer(StrEnum):
        RED = "red"

    class V2(V1):
        colour: Fewer  # type: ignore[assignment]

    class V3(V1):
        colour: Literal["red"]  # type: ignore[assignment]

    assert breaks(V2) == ["colour: no longer accepts enum:'blue'"]
    assert breaks(V3) == ["colour: no longer accepts enum:'blue'"]


def test_a_change_inside_a_nested_model_is_found():
    class Place2(BaseModel):
        final_date: str | None = None

    class V2(V1):
        where: Place2  # type: ignore[assignment]

    assert breaks(V2) == ["where.country: removed"]


def test_a_removed_message_type_is_incompatible():
    snapshot = {"A@1": V1.model_json_schema(), "B@1": Place.model_json_schema()}
    assert compat.incompatibilities(snapshot, {"A@1": V1.model_json_schema()}) == ["B@1: message type removed"]


def test_a_field_removed_from_the_models_of_a_list_is_found():
    class Line(BaseModel):
        item_number: int
        location: str

    class Line2(BaseModel):
        item_number: int

    class A(BaseModel):
        lines: list[Line]

    class B(BaseModel):
        lines: list[Line2]

    assert compat.breaks(A.model_json_schema(), B.model_json_schema()) == ["lines[].location: removed"]

"""Contract evolution: every payload's JSON schema against a committed snapshot (issue 5, item 8).

A consumer on the snapshot's version must still read what producers send, and a consumer on the
new version must still read messages already on the topics. So, for every message type in the
snapshot, a change is refused when it removes a field, changes a field's type (a type the old
schema allowed is no longer allowed), adds a required field, removes an enum value, or removes the
message type itself. New optional fields, new message types and new enum values are additive;
they still need the snapshot regenerated, so the change is seen in review.

    python -m contracts.compat --write    # after an additive change: rewrite contracts/snapshot.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

SNAPSHOT = Path(__file__).with_name("snapshot.json")


def current() -> dict[str, Any]:
    """`{"Type@version": JSON schema}` of every registered payload."""
    from contracts.catalogue import MESSAGE_TYPES

    return {f"{t}@{v}": model.model_json_schema() for (t, v), model in sorted(MESSAGE_TYPES.items())}


def _resolve(schema: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = root.get("$defs", {})[schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def _kinds(schema: dict[str, Any], root: dict[str, Any]) -> set[str]:
    """What a value may be: JSON types, named models, and enum/const values."""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        target = _resolve(schema, root)
        return {f"enum:{v!r}" for v in target["enum"]} if "enum" in target else {f"model:{name}"}
    if "anyOf" in schema or "oneOf" in schema:
        return set().union(*(_kinds(s, root) for s in schema.get("anyOf", schema.get("oneOf", []))))
    if "enum" in schema:
        return {f"enum:{v!r}" for v in schema["enum"]}
    if "const" in schema:
        return {f"enum:{schema['const']!r}"}
    kind = schema.get("type", "any")
    if kind == "array":
        items = schema.get("items", {})
        return {f"array:{k}" for k in _kinds(items, root)} if items else {"array"}
    return {kind} if isinstance(kind, str) else set(kind)


def breaks(
    old: dict[str, Any],
    new: dict[str, Any],
    path: str = "",
    old_root: dict[str, Any] | None = None,
    new_root: dict[str, Any] | None = None,
    seen: frozenset[str] = frozenset(),
) -> list[str]:
    """Every backward-incompatible difference from `old` to `new`, as readable lines."""
    old_root, new_root = old_root or old, new_root or new
    o, n = _resolve(old, old_root), _resolve(new, new_root)
    out: list[str] = []
    # Models are compared field by field below, not by name: a renamed model with the same fields is compatible.
    lost = {k for k in _kinds(old, old_root) if "model:" not in k} - _kinds(new, new_root)
    out += [f"{path or '<payload>'}: no longer accepts {k}" for k in sorted(lost)]
    if "properties" in o:
        for name, field in o["properties"].items():
            where = f"{path}.{name}" if path else name
            if name not in n.get("properties", {}):
                out.append(f"{where}: removed")
                continue
            key = f"{where}:{field.get('$ref', '')}"
            if key not in seen:
                out += breaks(field, n["properties"][name], where, old_root, new_root, seen | {key})
        added = set(n.get("required", ())) - set(o.get("required", ()))
        out += [f"{path + '.' if path else ''}{name}: new required field" for name in sorted(added)]
    for branch in ("anyOf", "oneOf"):
        for a, b in zip(
            o.get(branch, []), n.get(branch, []), strict=False
        ):  # branches added or removed: compared up to the shorter
            if "$ref" in a and a.get("$ref") == b.get("$ref"):
                out += breaks(a, b, path, old_root, new_root, seen | {f"{path}:{a['$ref']}"})
    if "$ref" in o.get("items", {}) and "items" in n:  # a list of models: look inside (primitive kinds: above)
        out += breaks(o["items"], n["items"], f"{path}[]", old_root, new_root, seen)
    return out


def incompatibilities(snapshot: dict[str, Any], now: dict[str, Any]) -> list[str]:
    out = [f"{name}: message type removed" for name in sorted(set(snapshot) - set(now))]
    for name in sorted(set(snapshot) & set(now)):
        out += [f"{name}: {line}" for line in breaks(snapshot[name], now[name])]
    return out


def rendered() -> str:
    return json.dumps(current(), indent=1, sort_keys=True) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--write", action="store_true", help="rewrite contracts/snapshot.json (additive changes only)")
    args = parser.parse_args()
    problems = incompatibilities(json.loads(SNAPSHOT.read_text()), current()) if SNAPSHOT.exists() else []
    for line in problems:
        print("incompatible:", line)
    if args.write and not problems:
        SNAPSHOT.write_text(rendered())
        print(f"wrote {SNAPSHOT.name}")
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Every payload's JSON Schema laid out as a schema registry holds them, and the BACKWARD_TRANSITIVE check.

    contracts/schemas/subjects/<topic>-value/versions/<n>.json   each registered version of the topic's record
                                                                  value: any of the topic's payloads (subject per
                                                                  topic, a registry's TopicNameStrategy)
    contracts/schemas/types/<Type>/v<VERSION>.json               one payload version, the file `ce_dataschema` names

A subject's versions only grow: a contract change that alters a topic's schema is registered as the
next version, and only when a consumer on the new schema still reads what every earlier version
allowed (BACKWARD_TRANSITIVE: each value valid under any committed version is valid under the new
one). The check is jsoncompat's (`check_compat(old, new, "deserializer")`, a maintained Rust checker
of JSON Schema compatibility); tests/unit/test_schema_registry.py runs it on every subject.

    python -m contracts.registry            # check: exit 1 naming each subject that is out of date or incompatible
    python -m contracts.registry --write    # register the changed subjects' next versions and rewrite types/
    python -m contracts.registry --reset    # before the first release only: every subject back to version 1
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path
from typing import Any, Union

from pydantic import TypeAdapter

from contracts.envelope import DATASCHEMA_BASE, schema_path
from contracts.topics import TOPICS, Topic, issuance_requests, issuance_responses

DIRECTORY = Path(__file__).with_name("schemas")
DIALECT = "https://json-schema.org/draft/2020-12/schema"
#: Subjects of the per-NGA response topics: one per NGA in a real registry, all with this schema.
NGA_PLACEHOLDER = "{nga}"


def subject_topics() -> list[Topic]:
    return [*TOPICS, issuance_requests(NGA_PLACEHOLDER), issuance_responses(NGA_PLACEHOLDER)]


def subject(topic: Topic) -> str:
    return f"{topic.name}-value"


def value_schema(topic: Topic) -> dict[str, Any]:
    """The topic's record value: any of its payloads (the `ce_type` header says which)."""
    schema = TypeAdapter(Union[tuple(topic.messages)]).json_schema()  # noqa: UP007 - a runtime tuple of types
    return {"$schema": DIALECT, "title": subject(topic), "description": topic.description, **schema}


def type_schemas() -> dict[str, dict[str, Any]]:
    """`{path under contracts/schemas: schema}` of every payload version, with its `ce_dataschema` as `$id`."""
    from contracts.catalogue import MESSAGE_TYPES

    return {
        schema_path(t, v): {"$schema": DIALECT, "$id": DATASCHEMA_BASE + schema_path(t, v), **model.model_json_schema()}
        for (t, v), model in sorted(MESSAGE_TYPES.items())
    }


def versions(name: str, root: Path = DIRECTORY) -> list[dict[str, Any]]:
    """The committed versions of a subject, oldest first."""
    folder = root / "subjects" / name / "versions"
    paths = sorted(folder.glob("*.json"), key=lambda p: int(p.stem)) if folder.is_dir() else []
    return [json.loads(p.read_text()) for p in paths]


def backward_compatible(old: dict[str, Any], new: dict[str, Any]) -> bool:
    """Does a consumer on `new` read every value `old` allowed? (jsoncompat's deserializer role)."""
    import jsoncompat

    return jsoncompat.check_compat(json.dumps(old), json.dumps(new), jsoncompat.Role.DESERIALIZER)


def problems(root: Path = DIRECTORY) -> list[str]:
    """Every subject whose current schema breaks a committed version, or is not registered yet."""
    out = []
    for topic in subject_topics():
        name, now = subject(topic), value_schema(topic)
        committed = versions(name, root)
        out += [
            f"{name}: incompatible with version {n}"
            for n, old in enumerate(committed, 1)
            if not backward_compatible(old, now)
        ]
        if not committed or committed[-1] != now:
            out.append(f"{name}: the current schema is not registered (python -m contracts.registry --write)")
    out += [
        f"{path}: out of date (python -m contracts.registry --write)"
        for path, schema in type_schemas().items()
        if not (root / path).exists() or json.loads((root / path).read_text()) != schema
    ]
    return out


def _dump(path: Path, schema: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(schema, indent=1, sort_keys=True) + "\n")


def write(root: Path = DIRECTORY, reset: bool = False) -> list[str]:
    """Register each changed subject's next version (refused when incompatible) and rewrite types/."""
    if reset:
        shutil.rmtree(root, ignore_errors=True)
    refused = [p for p in problems(root) if "incompatible" in p]
    if refused:
        return refused
    for topic in subject_topics():
        committed, now = versions(subject(topic), root), value_schema(topic)
        if not committed or committed[-1] != now:
            _dump(root / "subjects" / subject(topic) / "versions" / f"{len(committed) + 1}.json", now)
    shutil.rmtree(root / "types", ignore_errors=True)
    for path, schema in type_schemas().items():
        _dump(root / path, schema)
    return []


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--write", action="store_true", help="register changed subjects' next versions")
    parser.add_argument("--reset", action="store_true", help="before the first release: every subject as version 1")
    args = parser.parse_args()
    found = write(reset=args.reset) if args.write or args.reset else problems()
    for line in found:
        print(line)
    return 1 if found else 0


if __name__ == "__main__":
    raise SystemExit(main())

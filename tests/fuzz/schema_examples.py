"""A valid request for an OpenAPI operation, built from the examples its schema carries (contracts/ gives every
field one), so the adversarial suite mutates requests that would otherwise pass."""

from __future__ import annotations

from typing import Any

#: Path parameters by name: values that name something the world holds, so a mutation is the only thing wrong.
PATH_VALUES = {
    "carnet_number": "FR2600000010",
    "representative_id": "rep_1",
    "request_id": "REQ-H1",
    "declaration_id": "00000000-0000-4000-8000-000000000001",
    "cancellation_id": "00000000-0000-4000-8000-000000000002",
    "endpoint_id": "00000000-0000-4000-8000-000000000003",
}


def path_values(operation: dict[str, Any], world: Any) -> dict[str, str]:
    names = [p["name"] for p in operation.get("parameters", []) if p["in"] == "path"]
    return {n: world.ids.get(n, PATH_VALUES.get(n, "x")) for n in names}


def example_body(doc: dict[str, Any], operation: dict[str, Any]) -> Any:
    schema = operation["requestBody"]["content"]["application/json"]["schema"]
    return example(doc, schema, depth=0)


def _resolve(doc: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        schema = doc["components"]["schemas"][name]
    return schema


def example(doc: dict[str, Any], schema: dict[str, Any], depth: int) -> Any:
    schema = _resolve(doc, schema)
    if schema.get("examples"):
        value = schema["examples"]
        return value[0] if isinstance(value, list) else next(iter(value.values())).get("value")
    if "example" in schema:
        return schema["example"]
    if "default" in schema and schema["default"] is not None:
        return schema["default"]
    if "enum" in schema:
        return schema["enum"][0]
    if "const" in schema:
        return schema["const"]
    for key in ("anyOf", "oneOf", "allOf"):
        if key in schema:
            options = [o for o in schema[key] if _resolve(doc, o).get("type") != "null"] or schema[key]
            return example(doc, options[0], depth + 1)
    kind = schema.get("type")
    if kind == "object" or "properties" in schema:
        if depth > 6:
            return {}
        return {name: example(doc, sub, depth + 1) for name, sub in schema.get("properties", {}).items()}
    if kind == "array":
        return [example(doc, schema.get("items", {}), depth + 1)] * max(1, schema.get("minItems", 1))
    return {"integer": 1, "number": 1, "boolean": False, "string": "x"}.get(kind, "x")

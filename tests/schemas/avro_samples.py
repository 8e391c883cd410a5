"""Build a valid sample record for any Avro schema (used by the compatibility tests)."""

from __future__ import annotations

from typing import Any

_PRIMITIVES: dict[str, Any] = {
    "string": "text",
    "int": 7,
    "long": 1_700_000_000_000,
    "double": 1.5,
    "float": 2.5,
    "boolean": True,
    "bytes": b"\x00\x01",
    "null": None,
}


def sample(schema: Any, *, prefer_null: bool = False) -> Any:
    if isinstance(schema, str):
        return _PRIMITIVES[schema]
    if isinstance(schema, list):
        branches = [b for b in schema if b != "null"]
        if prefer_null and "null" in schema:
            return None
        return sample(branches[0], prefer_null=prefer_null)
    kind = schema["type"]
    if kind == "record":
        return {f["name"]: sample(f["type"], prefer_null=prefer_null) for f in schema["fields"]}
    if kind == "map":
        return {"k": sample(schema["values"], prefer_null=prefer_null)}
    if kind == "array":
        return [sample(schema["items"], prefer_null=prefer_null)]
    if kind == "enum":
        return schema["symbols"][0]
    return sample(kind, prefer_null=prefer_null)

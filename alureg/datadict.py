"""The data dictionary: every field of every record kind, flattened from the JSON
Schemas (which carry a description on every field, tests/test_schema.py)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .records import Kind
from .schema import all_schemas


@dataclass(frozen=True)
class Field:
    path: str
    type: str
    required: bool
    description: str
    allowed: str


def _resolve(node: dict[str, Any], schemas: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Follow a $ref into common.schema.json; the node's own description wins."""
    ref = node.get("$ref")
    if not ref:
        return node
    name, _, pointer = ref.partition("#")
    target: Any = schemas[name or "common.schema.json"]
    for part in pointer.strip("/").split("/"):
        target = target[part]
    merged = {**_resolve(target, schemas), **{k: v for k, v in node.items() if k != "$ref"}}
    return merged


def _type(node: dict[str, Any]) -> str:
    if "const" in node:
        return "constant"
    return str(node.get("type", "string" if "enum" in node or "pattern" in node else "any"))


def _allowed(node: dict[str, Any]) -> str:
    if "const" in node:
        return repr(node["const"]).replace("'", "")
    enum = node.get("enum")
    if enum:
        return ", ".join(enum) if len(enum) <= 12 else f"one of {len(enum)} codes"
    if "pattern" in node:
        return f"pattern {node['pattern']}"
    return ""


def fields(kind: Kind) -> list[Field]:
    schemas = all_schemas()
    out: list[Field] = []

    def walk(node: dict[str, Any], prefix: str) -> None:
        required = set(node.get("required", []))
        for name, sub in node.get("properties", {}).items():
            sub = _resolve(sub, schemas)
            path = f"{prefix}{name}"
            item = _resolve(sub.get("items", {}), schemas) if sub.get("type") == "array" else None
            shown = sub if item is None or "properties" in item else {**item, "type": f"array of {_type(item)}"}
            out.append(Field(path, _type(shown) if item is None or "properties" not in item else "array of objects",
                             name in required, sub.get("description", ""), _allowed(shown)))
            if item is not None and "properties" in item and name != "proof":
                walk(item, f"{path}[].")
            elif "properties" in sub:
                walk(sub, f"{path}.")

    walk(all_schemas()[f"{kind.value}.schema.json"], "")
    return out

"""The free-text fields of records, found from the JSON Schemas: strings with no enum,
const, format or pattern beyond "no control characters". The injection sweep and the
property tests put their payloads there, so a field added to a schema is covered
without a test change."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from alureg.records import Kind
from alureg.schema import resolved

Path_ = tuple[str | int, ...]
NO_CONTROLS = "^[^\\u0000-\\u0008\\u000B\\u000C\\u000E-\\u001F\\u007F]*$"


def _is_text(schema: dict[str, Any]) -> bool:
    return (schema.get("type") == "string" and not {"enum", "const", "format"} & schema.keys()
            and schema.get("pattern", NO_CONTROLS) == NO_CONTROLS)


def text_paths(kind: Kind, data: Any) -> Iterator[Path_]:
    """Paths of the free-text values present in ``data``, a record of ``kind``."""
    yield from _walk(resolved(kind), data, ())


def _walk(schema: dict[str, Any], data: Any, path: Path_) -> Iterator[Path_]:
    for option in schema.get("allOf", []) + schema.get("anyOf", []) + schema.get("oneOf", []):
        yield from _walk(option, data, path)
    if isinstance(data, str) and _is_text(schema):
        yield path
    elif isinstance(data, dict):
        properties = schema.get("properties", {})
        for key, value in data.items():
            if key in properties and key != "proof":
                yield from _walk(properties[key], value, (*path, key))
    elif isinstance(data, list) and isinstance(schema.get("items"), dict):
        for i, value in enumerate(data):
            yield from _walk(schema["items"], value, (*path, i))


def get(data: Any, path: Path_) -> Any:
    for part in path:
        data = data[part]
    return data


def put(data: Any, path: Path_, value: Any) -> None:
    get(data, path[:-1])[path[-1]] = value

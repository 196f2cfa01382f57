"""JSON Schema (Draft 2020-12) validation, one schema file per record kind.

Two validators of the same schema: jsonschema-rs (Rust, about 50 times faster) says
whether a record is valid; only for an invalid one does jsonschema (the reference
Python implementation) list every error with its place, for the findings. Both check
formats. tests/test_schema.py holds them to the same verdict on valid and broken
records (docs/adr/0012-scale.md).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jsonschema_rs

from .findings import Finding
from .records import Kind, Record

if TYPE_CHECKING:  # imported when a record is invalid (``validator``): 55 ms of every command's start
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import ValidationError

SCHEMA_DIR = Path(__file__).resolve().parent.parent / "schemas"


def schema_path(kind: Kind) -> Path:
    return SCHEMA_DIR / f"{kind.value}.schema.json"


def all_schemas() -> dict[str, dict[str, Any]]:
    """Every schema file by name (common included), as published under /api/v1/schemas/."""
    return {
        p.name: json.loads(p.read_text(encoding="utf-8"))
        for p in sorted(SCHEMA_DIR.glob("*.schema.json"))
    }


def _inline(node: Any, schemas: dict[str, dict[str, Any]], base: str) -> Any:
    """The schema with every $ref replaced by its target (our refs never recurse).

    jsonschema resolves a $ref on every use, which made validation the slowest step of
    a large build; the published schemas keep their $refs."""
    if isinstance(node, list):
        return [_inline(item, schemas, base) for item in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        name, _, pointer = node["$ref"].partition("#")
        name = name or base
        target: Any = schemas[name]
        for part in pointer.strip("/").split("/") if pointer else []:
            target = target[part]
        merged = {**_inline(target, schemas, name), **{k: v for k, v in node.items() if k != "$ref"}}
        return merged
    return {k: _inline(v, schemas, base) for k, v in node.items()}


@cache
def resolved(kind: Kind) -> dict[str, Any]:
    """The kind's schema with every $ref put in place."""
    schemas = all_schemas()
    name = f"{kind.value}.schema.json"
    return dict(_inline(schemas[name], schemas, name))


@cache
def validator(kind: Kind) -> Draft202012Validator:
    from jsonschema import Draft202012Validator
    from referencing import Registry as RefRegistry
    from referencing import Resource

    schemas = all_schemas()
    name = schema_path(kind).name
    schema = _inline(schemas[name], schemas, name)
    schema.pop("$defs", None)
    # The registry is still given, for any $ref a future schema might add.
    refs = RefRegistry().with_resources((s["$id"], Resource.from_contents(s)) for s in schemas.values())
    return Draft202012Validator(schema, registry=refs, format_checker=Draft202012Validator.FORMAT_CHECKER)


def message(error: ValidationError) -> str:
    """A finding message for one schema error: where, and what, never endless."""
    where = "/".join(str(p) for p in error.absolute_path)
    # Long enums (country codes) make unreadable messages: say what was wrong instead.
    if error.validator == "enum" and isinstance(error.validator_value, list):
        allowed = error.validator_value
        hint = ", ".join(map(str, allowed)) if len(allowed) <= 10 else f"one of {len(allowed)} codes"
        message = f"{error.instance!r} is not allowed here (expected {hint})"
    elif error.validator == "additionalProperties":
        message = error.message.replace("Additional properties are not allowed", "unknown field")
    else:
        message = error.message
    if len(message) > 300:
        message = message[:300] + "…"
    return f"{where}: {message}" if where else message


def _leaves(error: ValidationError) -> Iterator[ValidationError]:
    """The specific causes of an error (if/then and allOf wrap the useful ones)."""
    if error.context:
        for sub in error.context:
            yield from _leaves(sub)
    else:
        yield error


@cache
def fast_validator(kind: Kind) -> Any:
    schema = dict(resolved(kind))
    schema.pop("$defs", None)
    return jsonschema_rs.Draft202012Validator(schema, validate_formats=True)


def is_valid(kind: Kind, data: Any) -> bool:
    return bool(fast_validator(kind).is_valid(data))


def validate(record: Record) -> list[Finding]:
    if is_valid(record.kind, record.data):
        return []
    found: dict[tuple[str, ...], Finding] = {}
    for error in validator(record.kind).iter_errors(record.data):
        for leaf in _leaves(error):
            where = tuple(leaf.absolute_path)
            finding = record.finding("SCH001", message(leaf), *where)
            found.setdefault((str(where), finding.message), finding)
    return sorted(found.values())

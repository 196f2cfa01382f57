"""The JSON Schemas: complete descriptions (they are the data dictionary), ISO country
codes, and clear messages."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pycountry
import pytest
from jsonschema import Draft202012Validator

from alureg.records import Kind, Record
from alureg.schema import all_schemas, validate

from .conftest import REPO


def _properties(schema: Any, where: str) -> Iterator[tuple[str, Any]]:
    if isinstance(schema, dict):
        for name, sub in (schema.get("properties") or {}).items():
            yield f"{where}.{name}", sub
        for key, sub in schema.items():
            # if/then/else/not only constrain fields described elsewhere.
            if key not in ("properties", "if", "then", "else", "not"):
                yield from _properties(sub, f"{where}/{key}")
        for name, sub in (schema.get("properties") or {}).items():
            yield from _properties(sub, f"{where}.{name}")
    elif isinstance(schema, list):
        for i, sub in enumerate(schema):
            yield from _properties(sub, f"{where}[{i}]")


@pytest.mark.parametrize("name", sorted(all_schemas()))
def test_schema_is_valid_2020_12_with_a_description_on_every_field(name: str) -> None:
    schema = all_schemas()[name]
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema.get("description")
    missing = sorted({w for w, sub in _properties(schema, name) if not sub.get("description")})
    assert not missing, missing
    for def_name, sub in (schema.get("$defs") or {}).items():
        assert sub.get("description"), f"{name} $defs/{def_name}"


def test_one_schema_per_kind() -> None:
    names = set(all_schemas())
    assert names == {f"{k.value}.schema.json" for k in Kind} | {"common.schema.json"}


def test_country_codes_are_iso_3166_1() -> None:
    codes = all_schemas()["common.schema.json"]["$defs"]["country"]["enum"]
    assert codes == sorted(c.alpha_2 for c in pycountry.countries)


def _member(**changes: Any) -> Record:
    data = {"id": "MEM-0001", "type": "member", "name": "Fictional Ltd", "class": "industrial-users",
            "country": "NO", "joined": "2024-01-01", "activities": [], "size": "small",
            "status_history": [{"date": "2024-01-01", "status": "active", "reason": "Admitted"}]}
    data.update(changes)
    return Record(Kind.MEMBER, REPO, "registry/members/MEM-0001.yaml",
                  data)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({}, None),
        ({"country": "XX"}, "country: 'XX' is not allowed here (expected one of 249 codes)"),
        ({"joined": "2024-02-30"}, "joined: '2024-02-30' is not a 'date'"),
        ({"joined": "2024-1-1"}, "joined: '2024-1-1' does not match '^[0-9]{4}-[0-9]{2}-[0-9]{2}$'"),
        ({"class": "members"}, "class: 'members' is not allowed here (expected production-and-transformation, "
                               "industrial-users, downstream-supporters, civil-society, associations, "
                               "general-supporters)"),
        ({"fees": 100}, "unknown field ('fees' was unexpected)"),
        ({"website": "javascript:alert(1)"}, "website: 'javascript:alert(1)' does not match"),
        ({"name": "A\u0007B"}, "name: 'A\\x07B' does not match"),
        ({"type": "certificate"}, "type: 'member' was expected"),
    ],
    ids=["valid", "country", "impossible-date", "date-form", "class", "unknown-field", "url-scheme",
         "control-char", "wrong-kind"],
)
def test_schema_messages(changes: dict[str, Any], message: str | None) -> None:
    findings = validate(_member(**changes))
    if message is None:
        assert findings == []
    else:
        assert findings and {f.code for f in findings} == {"SCH001"}
        assert any(f.message.startswith(message) for f in findings), findings


def test_chain_of_custody_scope_needs_material_stages() -> None:
    from alureg.loading import load_file

    data = load_file(REPO / "certificates/CRT-000104.yaml").data
    assert data is not None
    del data["scope"]["material_stages"]
    record = Record(Kind.CERTIFICATE, REPO, "certificates/CRT-000104.yaml",
                    data)
    assert [f.message for f in validate(record)] == ["scope: 'material_stages' is a required property"]


def _leaves_of(value: Any, where: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    if isinstance(value, dict):
        for k, v in value.items():
            yield (*where, k)
            yield from _leaves_of(v, (*where, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield (*where, i)
            yield from _leaves_of(v, (*where, i))


MUTATIONS: list[Any] = [123, -1, 1.5, None, True, "", "x" * 5000, "2026-02-30", "2026-13-01", "bell \u0007",
                        "MEM-1", [], {}, ["a"], {"unknown": 1}]


def test_fast_and_reference_validators_agree() -> None:
    """jsonschema-rs decides validity; jsonschema explains it. They must never disagree,
    or a broken record could pass (or a good one fail) without a message."""
    import copy

    from alureg.loading import load_file
    from alureg.records import record_files
    from alureg.schema import is_valid, validator

    seen: set[Kind] = set()
    compared = 0
    for kind, path in record_files(REPO):
        if kind in seen:
            continue
        seen.add(kind)
        data = load_file(path).data
        assert data is not None
        variants = [data, {**data, "extra": "x"}]
        for where in _leaves_of(data):
            for value in MUTATIONS:
                changed = copy.deepcopy(data)
                node = changed
                for step in where[:-1]:
                    node = node[step]
                node[where[-1]] = value
                variants.append(changed)
            if isinstance(where[-1], str) and len(where) == 1:
                variants.append({k: v for k, v in data.items() if k != where[0]})
        for variant in variants:
            reference = not any(True for _ in validator(kind).iter_errors(variant))
            assert is_valid(kind, variant) == reference, (kind, variant)
            compared += 1
    assert seen == set(Kind) and compared > 2000

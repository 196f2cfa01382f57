"""Changing one character of any signed value in any sample record is caught."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import pytest

from alureg.loading import load_file
from alureg.records import record_files
from alureg.trust import TrustList, verify_record

from .conftest import AT, REPO, Scratch
from .test_cli import run

FILES = [(kind, path) for kind, path in record_files(REPO)]


def _leaves(data: Any, where: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    if isinstance(data, dict):
        for key, value in data.items():
            yield from _leaves(value, (*where, key))
    elif isinstance(data, list):
        for i, value in enumerate(data):
            yield from _leaves(value, (*where, i))
    else:
        yield where


def _tweak(value: Any) -> Any:
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value + 1
    text = str(value)
    return text[:-1] + ("x" if text[-1:] != "x" else "y")


@pytest.fixture(scope="module")
def trust() -> TrustList:
    data = load_file(REPO / "registry" / "trust.yaml").data
    assert data is not None
    return TrustList.from_data(data)


@pytest.mark.parametrize(("kind", "path"), FILES, ids=[p.name for _, p in FILES])
def test_every_value_is_covered_by_a_signature(kind: Any, path: Any, trust: TrustList) -> None:
    from alureg.config import load_config

    config = load_config(REPO)
    data = load_file(path).data
    assert data is not None
    assert verify_record(data, kind, trust, config).ok
    checked = 0
    for where in _leaves(data):
        changed = copy.deepcopy(data)
        target = changed
        for part in where[:-1]:
            target = target[part]
        target[where[-1]] = _tweak(target[where[-1]])
        assert not verify_record(changed, kind, trust, config).ok, f"{path.name}: {where} is not protected"
        checked += 1
    assert checked >= 5


@pytest.mark.parametrize(
    "rel",
    ["registry/members/MEM-0001.yaml", "registry/auditors/AUD-002.yaml", "certificates/CRT-000106.yaml",
     "registry/claims/CLM-10001.yaml", "registry/standards.yaml", "registry/trust.yaml"],
)
def test_one_changed_character_fails_check_and_names_the_file(
        rel: str, scratch: Scratch, capsys: pytest.CaptureFixture[str]) -> None:
    path = scratch.root / rel
    lines = path.read_text().splitlines(keepends=True)
    # The first "key: value" line after the id: change the value's last character.
    i = next(i for i, line in enumerate(lines[1:], 1) if ": " in line and line.rstrip()[-1].isalnum())
    line = lines[i].rstrip("\n")
    lines[i] = line[:-1] + ("x" if line[-1] != "x" else "y") + "\n"
    path.write_text("".join(lines))
    code, out, _ = run(capsys, "check", "--root", str(scratch.root), "--at", AT)
    assert code == 1
    assert any(row.startswith(f"{rel}:") for row in out.splitlines()), out

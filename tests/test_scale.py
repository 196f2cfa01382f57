"""Speed-ups must never change a result: the parallel check gives what the serial
check gives, findings and all, on a valid and on a broken registry."""

from __future__ import annotations

import importlib

import pytest

from alureg.check import check

from .conftest import AT, Scratch

check_module = importlib.import_module("alureg.check")


def _summary(result: object) -> tuple[list[str], list[str]]:
    findings = [f.text() for f in result.findings]  # type: ignore[attr-defined]
    valid = [r.rel for r in result.valid]  # type: ignore[attr-defined]
    return findings, valid


def test_parallel_check_equals_serial(scratch: Scratch, monkeypatch: pytest.MonkeyPatch) -> None:
    scratch.change("registry/claims/CLM-10001.yaml", lambda d: d["product"].update(gtin="2000000000016"))
    scratch.change("certificates/CRT-000105.yaml", lambda d: d.update(valid_until="2031-01-01"), resign=False)
    (scratch.root / "registry/members/MEM-0003.yaml").write_text("name: [unclosed\n", encoding="utf-8")
    serial = check(scratch.root, AT, workers=1)
    monkeypatch.setattr(check_module, "PARALLEL_FROM", 10)
    parallel = check(scratch.root, AT, workers=2)
    assert _summary(parallel) == _summary(serial)
    codes = {f.code for f in serial.findings}
    assert {"RUL010", "SIG003", "YML001"} <= codes
    assert [r.data for r in parallel.registry.records] == [r.data for r in serial.registry.records]

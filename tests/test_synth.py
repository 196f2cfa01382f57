"""Synthetic registries: valid, signed, deterministic; parallel rendering matches serial."""

from __future__ import annotations

import filecmp
from pathlib import Path
from typing import Any

import pytest

from alureg import pages
from alureg.check import check
from alureg.records import Kind
from alureg.sitemodel import SiteModel
from alureg.synth import generate

from .conftest import AT


def test_synthetic_registry_is_valid(synthetic: Path) -> None:
    result = check(synthetic, AT)
    assert [f for f in result.findings if f.severity.value == "error"] == []
    counts = {k: sum(1 for r in result.valid if r.kind is k) for k in Kind}
    assert (counts[Kind.MEMBER], counts[Kind.CERTIFICATE], counts[Kind.CLAIM]) == (25, 60, 45)
    model = SiteModel.build(result, AT)
    states = {model.cert_status(c).state for c in model.certificates}
    assert {"active", "expired", "superseded"} <= states
    assert {c["kind"] for c in model.claims.values()} == {"membership", "performance", "chain-of-custody"}


def test_same_seed_same_bytes(synthetic: Path, tmp_path: Path) -> None:
    again = tmp_path / "again"
    generate(again, members=25, certificates=60, claims=45, seed=7)
    comparison = filecmp.dircmp(synthetic, again)
    assert not comparison.diff_files and not comparison.left_only and not comparison.right_only
    for sub in ("certificates", "registry/claims", "registry/members"):
        files = sorted(p.name for p in (synthetic / sub).iterdir())
        assert all(filecmp.cmp(synthetic / sub / f, again / sub / f, shallow=False) for f in files)


def test_parallel_rendering_matches_serial(synthetic: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    model = SiteModel.build(check(synthetic, AT), AT)
    serial, parallel = tmp_path / "serial", tmp_path / "parallel"
    sizes_serial = pages.write_record_pages(model, serial, workers=1)
    monkeypatch.setattr(pages, "PARALLEL_FROM", 1)
    sizes_parallel = pages.write_record_pages(model, parallel, workers=2)
    assert sizes_serial == sizes_parallel
    names = sorted(p.relative_to(serial) for p in serial.rglob("index.html"))
    assert len(names) == 25 + 60 + 45
    assert all((serial / n).read_bytes() == (parallel / n).read_bytes() for n in names)


def test_a_certificate_issued_ahead_is_signed_before_not_in_the_future(demo_keys: dict[str, Any]) -> None:
    """Synthetic registries hold certificates issued after the bench's day; their
    auditor proofs must not be dated after the secretariat's (SIG012)."""
    from alureg.demo import signed
    from alureg.loading import load_file

    from .conftest import REPO

    data = load_file(REPO / "certificates/CRT-000101.yaml").data
    trust = load_file(REPO / "registry/trust.yaml").data
    assert data is not None and trust is not None
    data.update(issued="2027-01-10", valid_from="2027-01-10")
    record = signed(Kind.CERTIFICATE, data, trust, demo_keys, created="2026-11-20T09:00:00Z")
    assert sorted(p["created"] for p in record["proof"]) == ["2026-11-20T09:00:00Z", "2026-11-20T09:00:00Z"]

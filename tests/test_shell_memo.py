"""What MkDocs wrote, kept between builds (alureg/shell.py): a build whose shell did
not change runs no MkDocs, one whose shell changed does, and either way the output is
a cold build's, byte for byte."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

import pytest

from alureg import shell
from alureg.caches import cache_dir
from alureg.pages import fragments
from alureg.publish import build
from alureg.records import Kind

from .conftest import AT, Scratch

NOW = dt.datetime(2026, 11, 21, 6, tzinfo=dt.UTC)


def _tree(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture
def renders(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Each MkDocs run's configuration."""
    runs: list[Any] = []
    real = shell.mkdocs_build

    def counted(config: Any) -> None:
        runs.append(config)
        real(config)
    monkeypatch.setattr(shell, "mkdocs_build", counted)
    return runs


def _same_as_cold(scratch: Scratch, out: Path, cold: Path) -> None:
    build(scratch.root, cold, AT, now=NOW, use_cache=False)
    assert _tree(out) == _tree(cold)


def test_a_record_change_the_shell_does_not_show_runs_no_mkdocs(scratch: Scratch, tmp_path: Path,
                                                                renders: list[Any]) -> None:
    """A member's website and name (its directory row, a late fragment), a
    certificate's suspension (the home page's counts, late too) and a new certificate
    (its audit firm's count, a late mark in the audit firms' fragment) leave MkDocs's
    pages as they were."""
    out = tmp_path / "public"
    build(scratch.root, out, AT, now=NOW, use_cache=True)
    assert len(renders) == 1
    scratch.change("registry/members/MEM-0003.yaml", lambda d: d.update(website="https://changed.example"))
    build(scratch.root, out, AT, now=NOW, use_cache=True)
    scratch.change("registry/members/MEM-0003.yaml", lambda d: d.update(name="Kalgoora Alumina Holdings Pty Ltd"))
    home = (out / "index.html").read_bytes()
    assert scratch.read("certificates/CRT-000103.yaml")["status_history"][-1]["status"] == "active"
    scratch.change("certificates/CRT-000103.yaml", lambda d: d["status_history"].append(
        {"date": "2026-11-20", "status": "suspended", "reason": "Suspended pending a corrective action"}))
    build(scratch.root, out, AT, now=NOW, use_cache=True)
    assert len(renders) == 1
    assert (out / "index.html").read_bytes() != home  # the counts changed, without MkDocs
    assert b"Kalgoora Alumina Holdings Pty Ltd" in (out / "members/index.html").read_bytes()
    firm = scratch.read("certificates/CRT-000103.yaml")["audit"]["firm"]
    counted = _audits(out, firm)
    scratch.write("certificates/CRT-000199.yaml", scratch.read("certificates/CRT-000103.yaml") | {"id": "CRT-000199"})
    scratch.change("certificates/CRT-000199.yaml", lambda d: d.pop("supersedes"), kind=Kind.CERTIFICATE)  # signed
    build(scratch.root, out, AT, now=NOW, use_cache=True)
    assert len(renders) == 1
    assert _audits(out, firm) == counted + 1
    _same_as_cold(scratch, out, tmp_path / "cold")


def _audits(out: Path, firm: str) -> int:
    """The count of certificates the audit firms' page gives ``firm``."""
    page = (out / "auditors/index.html").read_text(encoding="utf-8")
    found = re.search(rf'<h2 id="{firm}">.*?(\d+) certificates? from its audits', page, re.S)
    assert found is not None
    return int(found.group(1))


def test_a_change_to_a_fragment_mkdocs_handles_runs_it(scratch: Scratch, tmp_path: Path,
                                                       renders: list[Any]) -> None:
    """An audit firm renamed: the audit firms' page goes through MkDocs."""
    out = tmp_path / "public"
    build(scratch.root, out, AT, now=NOW, use_cache=True)
    scratch.change("registry/auditors/AUD-001.yaml", lambda d: d.update(name=d["name"] + " (renamed)"))
    build(scratch.root, out, AT, now=NOW, use_cache=True)
    assert len(renders) == 2
    assert b"(renamed)" in (out / "auditors/index.html").read_bytes()
    _same_as_cold(scratch, out, tmp_path / "cold")


def test_another_day_runs_mkdocs(scratch: Scratch, tmp_path: Path, renders: list[Any],
                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """MkDocs's build date is in sitemap.xml.gz (its gzip header's time)."""
    out = tmp_path / "public"
    monkeypatch.setenv("SOURCE_DATE_EPOCH", str(int(dt.datetime(2026, 11, 21, 6, tzinfo=dt.UTC).timestamp())))
    build(scratch.root, out, AT, now=NOW, use_cache=True)
    scratch.change("registry/members/MEM-0003.yaml", lambda d: d.update(website="https://changed.example"))
    monkeypatch.setenv("SOURCE_DATE_EPOCH", str(int(dt.datetime(2026, 11, 22, 6, tzinfo=dt.UTC).timestamp())))
    build(scratch.root, out, AT, now=NOW, use_cache=True)
    assert len(renders) == 2
    _same_as_cold(scratch, out, tmp_path / "cold")


@pytest.mark.parametrize("damage", [b"", b"not marshal", b"\xe9\x00\x00\x00"])
def test_a_damaged_memo_is_not_used(scratch: Scratch, tmp_path: Path, renders: list[Any], damage: bytes) -> None:
    out = tmp_path / "public"
    build(scratch.root, out, AT, now=NOW, use_cache=True)
    kept = cache_dir(out, "output") / shell.MEMO_FILE
    assert kept.is_file()
    kept.write_bytes(damage)
    scratch.change("registry/members/MEM-0003.yaml", lambda d: d.update(website="https://changed.example"))
    build(scratch.root, out, AT, now=NOW, use_cache=True)
    assert len(renders) == 2
    _same_as_cold(scratch, out, tmp_path / "cold")


def test_mkdocs_pages_hold_the_day_not_the_time(scratch: Scratch, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """The memo's key holds MkDocs's build date, not its time: so the pages must be the
    same at any time of the day (a theme or template showing ``build_date_utc`` would
    fail this), and the key another day's."""
    model = build(scratch.root, tmp_path / "public", AT, now=NOW).model
    assert model is not None
    made: list[dict[str, bytes]] = []
    keys: list[str] = []
    for n, moment in enumerate([dt.datetime(2026, 11, 21, 0, 0, 5), dt.datetime(2026, 11, 21, 23, 59, 55),
                                dt.datetime(2026, 11, 22, 0, 0, 5)]):
        monkeypatch.setenv("SOURCE_DATE_EPOCH", str(int(moment.replace(tzinfo=dt.UTC).timestamp())))
        site, work = tmp_path / f"site{n}", tmp_path / f"work{n}"
        work.mkdir()
        parts = fragments(model)
        keys.append(shell.memo_key(parts, "Test registry"))
        shell.build_shell(site, work, parts, "Test registry")
        made.append(_tree(site))
    assert made[0] == made[1]
    assert keys[0] == keys[1] != keys[2]
    assert made[1] != made[2]  # sitemap.xml.gz's time: the key must change with the day

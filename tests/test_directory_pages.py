"""The members and certificates directories in pages (alureg/pages.py, DirectoryPage):
at 100,000 certificates one page of every row was 67 MB. Built here with pages of 4
rows: every row is on exactly one page, in the order of the one-page directory; each
page carries the status data of its own rows; the pager's links lead where they say;
and a build that keeps rows from the last one equals a cold build when pages shift."""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from alureg import pages
from alureg.publish import build

from .conftest import AT, Scratch
from .links import broken_links, parse

ROW = re.compile(r"<tr data-row.*?</tr>", re.S)
STATUS = re.compile(r'<script type="application/json" id="registry-status">(.*?)</script>', re.S)
PAGER = re.compile(r'<nav class="pager".*?</nav>', re.S)
CURRENT = re.compile(r'<a href="([^"]+)" aria-current="page">(\d+)</a>')
NOW = dt.datetime.fromisoformat(f"{AT}T06:00:00+00:00")


def _pages(site: Path, name: str) -> list[str]:
    """The directory's pages in order: name/, name-2/, name-3/, ..."""
    found = [site / name / "index.html"]
    while (site / f"{name}-{len(found) + 1}" / "index.html").is_file():
        found.append(site / f"{name}-{len(found) + 1}" / "index.html")
    return [p.read_text(encoding="utf-8") for p in found]


@pytest.mark.parametrize("name", ["members", "certificates"])
def test_every_row_is_on_one_page_in_order(paged_site: Path, claim_site: Path, name: str) -> None:
    whole = ROW.findall((claim_site / name / "index.html").read_text(encoding="utf-8"))
    paged = [ROW.findall(text) for text in _pages(paged_site, name)]
    assert len(whole) > 20 and len(paged) == math.ceil(len(whole) / 4)
    assert [len(rows) for rows in paged[:-1]] == [4] * (len(paged) - 1) and 1 <= len(paged[-1]) <= 4
    assert [row for rows in paged for row in rows] == whole  # the same rows, byte for byte
    assert not (claim_site / f"{name}-2").exists()  # below a page's size: one page, as before


@pytest.mark.parametrize("name", ["members", "certificates"])
def test_each_page_carries_the_status_of_its_rows(paged_site: Path, name: str) -> None:
    for text in _pages(paged_site, name):
        ids = set(re.findall(rf'data-status-kind="{name[:-1]}" data-status-id="([^"]+)"', text))
        status = json.loads(STATUS.search(text).group(1))  # type: ignore[union-attr]
        assert ids and set(status[name]) == ids


def test_the_pager_leads_where_it_says(paged_site: Path) -> None:
    texts = _pages(paged_site, "certificates")
    count = len(texts)
    for number, page in enumerate(texts, 1):
        text = PAGER.findall(page)[0]
        assert CURRENT.findall(text) == [("../certificates/" if number == 1 else f"../certificates-{number}/",
                                          str(number))]
        assert f"page {number} of {count}." in text
        assert ('rel="next"' in text) == (number < count) and ('rel="prev"' in text) == (number > 1)
        if number < count:
            assert f'<a href="../certificates-{number + 1}/" rel="next">' in text
    assert "<li>…</li>" in PAGER.findall(texts[0])[0]  # a gap between the first pages and the last
    files = {p: parse(p) for name in ("members", "certificates") for p in paged_site.glob(f"{name}*/index.html")}
    broken, checked = broken_links(paged_site, files)
    assert not broken and checked > 500  # rows, pager, navigation and assets, from every page


def test_further_pages_stay_out_of_the_navigation_and_search(paged_site: Path) -> None:
    index = json.loads((paged_site / "search/search_index.json").read_text())
    assert not [d for d in index["docs"] if d["location"].startswith(("certificates", "members"))]
    assert "certificates-2" not in (paged_site / "index.html").read_text()  # not in the navigation
    page = (paged_site / "certificates-2/index.html").read_text()
    assert "<title>Certified entities, page 2 of" in page and 'href="../assets/registry.css"' in page


def _tree(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_a_rebuild_whose_pages_shift_equals_a_cold_build(scratch: Scratch, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """Rows are kept between builds and pages are kept when unchanged; removing a member
    and a certificate moves every later row to another page."""
    monkeypatch.setattr(pages, "DIRECTORY_PAGE", 4)
    out = tmp_path / "public"
    build(scratch.root, out, AT, now=NOW, use_cache=True)
    (scratch.root / "registry/members/MEM-0012.yaml").unlink()
    (scratch.root / "certificates/CRT-000108.yaml").unlink()
    scratch.change("registry/members/MEM-0003.yaml", lambda d: d.update(name="Kalgoora Alumina Holdings Pty Ltd"))
    again = build(scratch.root, out, AT, now=NOW, use_cache=True)
    assert again.linked > 0  # rows and pages were kept, not all made afresh
    cold = build(scratch.root, tmp_path / "cold", AT, now=NOW)
    assert _tree(out) == _tree(tmp_path / "cold")
    assert "MEM-0012" not in "".join(_pages(out, "members")) and "Kalgoora Alumina Holdings" in "".join(
        _pages(out, "certificates"))
    assert cold.records == again.records


def test_late_fragments_are_put_in_once_each(tmp_path: Path) -> None:
    """alureg/shell.py puts each directory page's rows into the one written page that
    holds its mark, making them then; a mark found twice, or one no page holds, fails."""
    from alureg.errors import AluregError
    from alureg.mkdocs_hooks import LATE_MARK
    from alureg.shell import _put_late

    made: list[str] = []

    def fragment(name: str) -> Callable[[], str]:
        def make() -> str:
            made.append(name)
            return f"<table>{name}</table>"
        return make

    (tmp_path / "a").mkdir()
    (tmp_path / "a/index.html").write_text(f"<p>{LATE_MARK.format('members')}</p>")
    (tmp_path / "b.html").write_text(f"x{LATE_MARK.format('members-2')}y{LATE_MARK.format('other')}z")
    _put_late(tmp_path, {"members": fragment("members"), "members-2": fragment("members-2")})
    assert (tmp_path / "a/index.html").read_text() == "<p><table>members</table></p>"
    assert (tmp_path / "b.html").read_text() == f"x<table>members-2</table>y{LATE_MARK.format('other')}z"
    assert sorted(made) == ["members", "members-2"]
    (tmp_path / "c.html").write_text(LATE_MARK.format("members-3") * 2)
    with pytest.raises(AluregError, match="placed more than once"):
        _put_late(tmp_path, {"members-3": fragment("members-3")})
    with pytest.raises(AluregError, match=r"no page holds the fragment\(s\) members-4"):
        _put_late(tmp_path / "a", {"members-4": fragment("members-4")})

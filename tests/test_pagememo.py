"""The page memo (alureg/pagememo.py) is only as right as ``page_inputs``: every record a
page reads must be among its inputs, or a change to that record would leave the page
stale. These tests render every record page (and every member's status document and
directory row) with the model's lookups recorded."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from alureg import api, feeds, pagememo, pages
from alureg.check import check
from alureg.history import read_history
from alureg.publish import build
from alureg.sitemodel import SiteModel

from .conftest import AT, REPO, Scratch


class Recorded(dict[str, Any]):
    """A dict that notes every key looked up and every record id a lookup returns, and
    refuses to be walked whole (a page that read every record would depend on all)."""

    def __init__(self, data: dict[str, Any], seen: set[str], default: Callable[[], Any] | None = None) -> None:
        super().__init__(data)
        self.seen, self.default = seen, default

    def _note(self, key: str, value: Any) -> Any:
        self.seen.add(key)
        if isinstance(value, list):  # ids (certs_of, claims_of, claims_on) or records (successors)
            self.seen.update(v["id"] if isinstance(v, dict) and "id" in v else v for v in value
                             if isinstance(v, (str, dict)))
        return value

    def __missing__(self, key: str) -> Any:
        if self.default is None:
            raise KeyError(key)
        return self.default()

    def __getitem__(self, key: str) -> Any:
        return self._note(key, super().__getitem__(key))

    def get(self, key: str, default: Any = None) -> Any:  # type: ignore[override]
        return self._note(key, super().get(key, default))

    def __contains__(self, key: object) -> bool:
        self.seen.add(str(key))
        return super().__contains__(key)

    def _whole(self, *args: Any) -> Any:
        raise AssertionError("a record page walked a whole table of the model")

    __iter__ = keys = values = items = __len__ = _whole  # type: ignore[assignment]


def _recording(model: SiteModel) -> set[str]:
    seen: set[str] = set()
    for name in ("members", "certificates", "claims", "firms", "certs_of", "claims_of", "claims_on"):
        setattr(model, name, Recorded(getattr(model, name), seen, list if name.endswith(("_of", "_on")) else None))
    for name in ("members", "certificates", "successors"):
        setattr(model.index, name, Recorded(getattr(model.index, name), seen))
    model.history.by_record = Recorded(model.history.by_record, seen, list)
    return seen


def _reads_beyond_inputs(root: Path) -> tuple[int, list[str]]:
    result = check(root, AT)
    model = SiteModel.build(result, AT)
    model.history = read_history(root, result.valid, result.trust)
    jobs = ([("members", m) for m in model.members] + [("certificates", c) for c in model.certificates]
            + [("c", c) for c in model.claims] + [("status", m) for m in model.members]
            + [("member-row", m) for m in model.members] + [("certificate-row", c) for c in model.certificates]
            + [("certificate-status", c) for c in model.certificates])
    # Against the inputs of the digest the build keys the page by (a status entry: its row's).
    inputs = {job: pagememo.page_inputs(model, pages.DIGEST_OF.get(job[0], job[0]), job[1]) for job in jobs}
    makers = {**pages._PAGES, "status": api.status_doc, **pages.ROW_MAKERS}
    seen = _recording(model)
    beyond = []
    for folder, rid in jobs:
        seen.clear()
        makers[folder](model, rid)
        assert rid in seen
        if extra := sorted(seen - inputs[folder, rid]):
            beyond.append(f"{folder}/{rid} reads {extra}")
    return len(jobs), beyond


@pytest.mark.parametrize("registry", ["sample", "synthetic"])
def test_every_page_reads_only_its_inputs(registry: str, request: pytest.FixtureRequest) -> None:
    root = REPO if registry == "sample" else request.getfixturevalue("synthetic")
    rendered, beyond = _reads_beyond_inputs(root)
    assert rendered > 70 and beyond == []


def test_the_recording_sees_a_missing_input(monkeypatch: pytest.MonkeyPatch) -> None:
    """Self-test: with inputs that leave out the neighbours, the reads beyond are seen."""
    monkeypatch.setattr(pagememo, "page_inputs", lambda model, folder, rid: {rid})
    _, beyond = _reads_beyond_inputs(REPO)
    assert any(b.startswith("certificates/") for b in beyond) and any(b.startswith("c/") for b in beyond)
    assert any(b.startswith("members/") for b in beyond) and any(b.startswith("status/") for b in beyond)
    assert any(b.startswith("certificate-row/") for b in beyond)


@pytest.mark.parametrize("registry", ["sample", "synthetic"])
def test_the_certificates_status_data_is_put_together_right(registry: str, request: pytest.FixtureRequest) -> None:
    """The certificates directory's status data, joined from each certificate's entry
    (kept between builds with its row), is the whole object's script_json."""
    root = REPO if registry == "sample" else request.getfixturevalue("synthetic")
    result = check(root, AT)
    model = SiteModel.build(result, AT)
    certs = sorted(model.certificates)
    expected = str(pages.script_json(model.status_data(certificates=certs, reasons=False)))
    assert str(pages.certificates_status(model, certs, pages.RowMemo(model))) == expected
    assert len(certs) > 20 and '"succ":[["' in expected  # a superseded certificate among them


@pytest.mark.parametrize("registry", ["sample", "synthetic"])
def test_a_record_pages_status_data_is_put_together_right(registry: str, request: pytest.FixtureRequest) -> None:
    """A member's or certificate's page's status data, joined from each record's
    entry encoded once (pages.status_json, the statuses kept), is the whole object's
    script_json; each entry is encoded once, whatever number of pages hold it."""
    root = REPO if registry == "sample" else request.getfixturevalue("synthetic")
    model = SiteModel.build(check(root, AT), AT)
    model.keep_statuses()
    pages_data = [([m], model.certs_of.get(m, []), model.claims_of.get(m, [])) for m in model.members]
    pages_data += [([c["holder"]], [cid], model.claims_on.get(cid, [])) for cid, c in model.certificates.items()]
    pages_data += [([], [], list(model.claims)), (["none"], ["none"], [])]  # every claim; ids of no record
    encoded: list[dict[str, Any]] = []
    real = pages.script_json
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(pages, "script_json", lambda data: (encoded.append(data), real(data))[1])
        for members, certificates, claims in pages_data * 2:
            expected = str(real(model.status_data(members, certificates, claims)))
            assert str(pages.status_json(model, members, certificates, claims)) == expected
    entries = [d for d in encoded if len(d) == 1]  # one record's entry each (the others: the day)
    assert len(entries) == len(model.members) + len(model.certificates) + len(model.claims)
    assert any('"succ":[["' in str(real(e)) for e in entries)  # a superseded certificate among them
    fresh = SiteModel.build(check(root, AT), AT)  # statuses not kept: every page reads its records (above)
    assert str(pages.status_json(fresh, *pages_data[0])) == str(real(fresh.status_data(*pages_data[0])))
    assert not any(fresh.status_parts.values())


def counted_renders(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """How many times each record page ("folder/id") is rendered from now on."""
    rendered: Counter[str] = Counter()
    for folder, render in list(pages._PAGES.items()):
        def counting(model: SiteModel, rid: str, folder: str = folder, render: Any = render) -> str:
            rendered[f"{folder}/{rid}"] += 1
            return str(render(model, rid))
        monkeypatch.setitem(pages._PAGES, folder, counting)
    return rendered


def counted_rows(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """How many directory rows of each kind are made from now on."""
    made: Counter[str] = Counter()
    for kind, make in list(pages.ROW_MAKERS.items()):
        def counting(model: SiteModel, rid: str, kind: str = kind, make: Any = make) -> str:
            made[kind] += 1
            return str(make(model, rid))
        monkeypatch.setitem(pages.ROW_MAKERS, kind, counting)
    return made


def test_only_pages_that_read_a_changed_record_are_rendered(scratch: Scratch, tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """After one certificate changes, the pages rendered again are exactly those whose
    inputs hold it; the output still equals a cold build's (tests/test_scale.py)."""
    rendered = counted_renders(monkeypatch)
    now = dt.datetime(2026, 11, 21, 6, tzinfo=dt.UTC)
    out = tmp_path / "out"
    # A first build keeps nothing and works out no page's input digest; the next, on
    # another day, makes every page again, with it (alureg/pagereach.py ``kept``).
    build(scratch.root, out, "2026-11-20", now=now, use_cache=True)
    build(scratch.root, out, AT, now=now, use_cache=True)
    everything = set(rendered)
    rendered.clear()
    scratch.change("certificates/CRT-000105.yaml", lambda d: d["scope"].update(description="Casthouse only."))
    report = build(scratch.root, out, AT, now=now, use_cache=True)
    assert report.result is not None
    model = SiteModel.build(report.result, AT)
    readers = {f"{folder}/{rid}" for folder, rid in (p.split("/") for p in everything)
               if "CRT-000105" in pagememo.page_inputs(model, folder, rid)}
    assert set(rendered) == readers and max(rendered.values()) == 1
    assert {"certificates/CRT-000105", "members/MEM-0002"} <= readers and len(readers) < len(everything) / 10
    assert "Casthouse only." in (out / "certificates/CRT-000105/index.html").read_text()


def test_only_the_feeds_whose_entries_changed_are_made(scratch: Scratch, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """A member's feed is made again only when its title or entries change (the two
    registry-wide feeds always are); the output equals a cold build's."""
    made: list[str] = []
    real = feeds._feed

    def counting(model: SiteModel, path: str, title: str, chosen: Any) -> bytes:
        made.append(path)
        return real(model, path, title, chosen)

    monkeypatch.setattr(feeds, "_feed", counting)
    now = dt.datetime(2026, 11, 21, 6, tzinfo=dt.UTC)
    out, cold = tmp_path / "out", tmp_path / "cold"
    build(scratch.root, out, AT, now=now, use_cache=True)
    assert len(made) > 20
    made.clear()
    scratch.change("registry/members/MEM-0003.yaml", lambda d: d.update(name="Kalgoora Alumina Holdings Pty Ltd"))
    build(scratch.root, out, AT, now=now, use_cache=True)
    assert sorted(made) == ["feeds/changes.xml", "feeds/members/MEM-0003.xml", "feeds/status.xml"]
    assert b"Kalgoora Alumina Holdings" in (out / "feeds/members/MEM-0003.xml").read_bytes()
    edited = out / "feeds/members/MEM-0001.xml"  # edited in place: made again
    edited.write_bytes(edited.read_bytes().replace(b"<feed", b"<feed xml:lang='x'", 1))
    made.clear()
    scratch.change("registry/members/MEM-0004.yaml", lambda d: d.update(website="https://changed.example"))
    build(scratch.root, out, AT, now=now, use_cache=True)
    assert sorted(made) == ["feeds/changes.xml", "feeds/members/MEM-0001.xml", "feeds/status.xml"]
    made.clear()
    build(scratch.root, out, "2031-01-01", now=now, use_cache=True)  # another day: expiries everywhere
    assert len(made) > 20
    build(scratch.root, cold, "2031-01-01", now=now, use_cache=False)
    assert {p.relative_to(out): p.read_bytes() for p in out.rglob("*.xml")} == \
        {p.relative_to(cold): p.read_bytes() for p in cold.rglob("*.xml")}


def _directories(folder: Path) -> list[bytes]:
    """The members' and certificates' directory pages of an output."""
    return [p.read_bytes() for name in ("members", "certificates") for p in sorted(folder.glob(f"{name}*/index.html"))]


def test_a_first_build_names_its_rows_without_their_digests(scratch: Scratch, tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """With no kept rows to find, a build works out no row's digest and names its
    files for itself; after one change the same day, the pages none of whose rows it
    reaches take those files, through the page state, and the directories are a cold
    build's. Pages of 4 rows (alureg/pages.py)."""
    from alureg.caches import cache_dir

    monkeypatch.setattr(pages, "DIRECTORY_PAGE", 4)
    made = counted_rows(monkeypatch)
    digests = Counter[str]()
    real = pages.page_digest

    def digest(model: SiteModel, shared: str, fingerprints: dict[str, str], folder: str, rid: str) -> bytes:
        digests[folder] += 1
        return real(model, shared, fingerprints, folder, rid)
    monkeypatch.setattr(pages, "page_digest", digest)
    now = dt.datetime(2026, 11, 21, 6, tzinfo=dt.UTC)
    out, cold = tmp_path / "out", tmp_path / "cold"
    build(scratch.root, out, AT, now=now, use_cache=True)
    everything = sum(made.values())
    folder = cache_dir(out, "output") / "rows"
    first = {p.name for p in folder.iterdir()}
    assert digests == Counter() and len(first) > 10 and all(name.startswith("first-") for name in first)
    made.clear()
    scratch.change("certificates/CRT-000105.yaml", lambda d: d["scope"].update(description="Casthouse only."))
    build(scratch.root, out, AT, now=now, use_cache=True)
    assert sum(made.values()) == 3 * 4 < everything  # the page of its row and status entry, its holder's
    assert 0 < sum(digests.values()) <= 3 * 4  # those pages' rows alone
    build(scratch.root, cold, AT, now=now)
    assert _directories(out) == _directories(cold)
    now_kept = {p.name for p in folder.iterdir()}
    assert len(first - now_kept) == 3 and len(now_kept - first) == 3  # the three pages' files replaced
    damaged = sorted(now_kept & first)[0]  # a page the next change does not reach: its file is damaged
    (folder / damaged).write_bytes(b"")
    made.clear()
    scratch.change("certificates/CRT-000105.yaml", lambda d: d["scope"].update(description="Casthouse again."))
    build(scratch.root, out, AT, now=now, use_cache=True)
    assert 3 * 4 < sum(made.values()) <= 4 * 4  # those three pages, and the damaged file's made again
    assert damaged not in {p.name for p in folder.iterdir()}  # not left behind


def test_directory_rows_are_kept_between_builds(scratch: Scratch, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """The rows of a directory page are kept with the caches, one file per page named by
    the digest of its rows' inputs, and used while no row of the page changed; a file
    cut short, edited or replaced is not used (its rows are made again), and the
    directories are a cold build's either way. Pages of 4 rows (alureg/pages.py)."""
    from alureg.caches import cache_dir

    monkeypatch.setattr(pages, "DIRECTORY_PAGE", 4)
    made = counted_rows(monkeypatch)
    now = dt.datetime(2026, 11, 21, 6, tzinfo=dt.UTC)
    out, cold = tmp_path / "out", tmp_path / "cold"
    # A first build names its files for itself (the test above); the next, on another
    # day, makes every row again and names each file by its rows' inputs.
    build(scratch.root, out, (dt.date.fromisoformat(AT) - dt.timedelta(days=1)).isoformat(), now=now,
          use_cache=True)
    everything = sum(made.values())
    folder = cache_dir(out, "output") / "rows"
    kept = {p.name: p.read_bytes() for p in folder.iterdir()}
    assert len(kept) > 10 and all(p.endswith(".html") for p in kept)

    def damage(text: bytes) -> None:
        for name in kept:
            if (folder / name).exists():
                (folder / name).write_bytes(text)

    cases: list[tuple[Callable[[], None] | None, Callable[[int], bool]]] = [
        (None, lambda n: n == 3 * 4),  # the page of a certificate's row and status entry, its holder's
        (lambda: damage(b""), lambda n: n == everything),
        (lambda: [(folder / name).write_bytes(data[:len(data) // 2]) for name, data in kept.items()],
         lambda n: n == everything),
        (lambda: [(folder / name).write_bytes(data[:-1] + bytes([data[-1] ^ 1])) for name, data in kept.items()],
         lambda n: n == everything),
    ]
    for n, (spoil, expected) in enumerate(cases):
        build(scratch.root, out, AT, now=now, use_cache=True)  # the rows of this state are kept
        kept = {p.name: p.read_bytes() for p in folder.iterdir()}
        made.clear()
        if spoil is not None:
            spoil()
        description = f"Casthouse, version {n}."
        scratch.change("certificates/CRT-000105.yaml", lambda d, text=description: d["scope"].update(
            description=text))
        build(scratch.root, out, AT, now=now, use_cache=True)
        assert expected(sum(made.values())), (n, sum(made.values()), everything)
        build(scratch.root, cold, AT, now=now)
        assert _directories(out) == _directories(cold)
        # The files of the pages the change made anew replace those of their old rows.
        now_kept = {p.name for p in folder.iterdir()}
        assert len(now_kept) == len(kept) and len(now_kept - set(kept)) == 3

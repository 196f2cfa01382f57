"""The pages a change reaches (alureg/pagereach.py): a page left out would be carried
over stale from the live output, so these tests compare ``reached`` with the inverse
of ``page_inputs`` and with every page whose digest a change altered, and builds that
carry pages over with cold builds."""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
import hashlib
import os
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest

from alureg import api, pagememo, pagereach, snapshot
from alureg import pages as record_pages
from alureg.check import CheckResult, check
from alureg.history import read_history
from alureg.pagereach import Page, PageState
from alureg.publish import build
from alureg.records import Record
from alureg.sitemodel import SiteModel

from .conftest import AT, REPO, Scratch
from .test_pagememo import counted_renders
from .test_scale import _tree

FOLDERS = ("members", "certificates", "c", "status", "member-row", "certificate-row", "certificate-status")


def _pages(model: SiteModel) -> list[Page]:
    tables = {"members": model.members, "status": model.members, "member-row": model.members,
              "certificates": model.certificates, "certificate-row": model.certificates,
              "certificate-status": model.certificates, "c": model.claims}
    return [(folder, rid) for folder in FOLDERS for rid in tables[folder]]


def _model(result: CheckResult, root: Path) -> SiteModel:
    model = SiteModel.build(result, AT)
    model.history = read_history(root, result.valid, result.trust)
    return model


@pytest.mark.parametrize("registry", ["sample", "synthetic"])
def test_reached_is_the_inverse_of_page_inputs(registry: str, request: pytest.FixtureRequest) -> None:
    root = REPO if registry == "sample" else request.getfixturevalue("synthetic")
    model = _model(check(root, AT), root)
    readers: dict[str, set[Page]] = {}
    for page in _pages(model):
        for rid in pagememo.page_inputs(model, *page):
            readers.setdefault(rid, set()).add(page)
    ids = {*readers, *model.members, *model.certificates, *model.claims, *model.firms}
    assert {rid: pagereach.reached(model, [rid]) for rid in ids} == {rid: readers.get(rid, set()) for rid in ids}
    assert any(c.get("supersedes") for c in model.certificates.values())  # successors are among the links


def _digest(data: dict[str, Any]) -> str:
    return hashlib.sha256(orjson.dumps(data, option=orjson.OPT_SORT_KEYS)).hexdigest()


def _state(model: SiteModel, before: PageState | None = None) -> tuple[PageState, dict[Page, bytes]]:
    """The page state (``before``: with a kept state) and every page's digest, the
    records' digests standing in for their files'."""
    digests = {rid: _digest(d) for t in (model.members, model.certificates, model.claims, model.firms)
               for rid, d in t.items()}
    shared = "shared"
    return PageState.of(model, shared, digests, before), {
        page: pagememo.page_digest(model, shared, digests, *page) for page in _pages(model)}


Edit = Callable[[dict[str, dict[str, Any]]], None]  # records' data by id, changed in place


def _edits(model: SiteModel) -> dict[str, Edit]:
    certs = sorted(model.certificates)
    superseding = next(c for c in certs if model.certificates[c].get("supersedes"))
    claim = next(c for c in sorted(model.claims) if len(model.claims[c]["certificates"]) == 1)
    other_member = next(m for m in sorted(model.members) if m != model.certificates[certs[0]]["holder"])
    firm = sorted(model.firms)[0]
    holder = next(m for m in sorted(model.claims_of) if m in model.members)  # a member with claims
    held = next(c for c in sorted(model.claims_on) if c in model.certificates)  # a certificate claims rest on

    def new_certificate(records: dict[str, dict[str, Any]]) -> None:
        records["CRT-NEW"] = {**copy.deepcopy(records[certs[1]]), "id": "CRT-NEW", "supersedes": certs[2],
                              "holder": other_member}

    edits: dict[str, Edit] = {
        "a certificate moves to another holder": lambda r: r[certs[0]].update(holder=other_member),
        "a claim rests on another certificate": lambda r: r[claim].update(
            certificates=[next(c for c in certs if c not in r[claim]["certificates"])]),
        "a certificate supersedes no other": lambda r: r[superseding].pop("supersedes"),
        "a certificate supersedes another": lambda r: r[certs[4]].update(supersedes=certs[5]),
        "a member is renamed": lambda r: r[other_member].update(name="Renamed Pty Ltd"),
        "an audit firm is renamed": lambda r: r[firm].update(name="Renamed Audits"),
        "a certificate is added": new_certificate,
        "a claim is removed": lambda r: r.pop(claim),
        "a member with claims is suspended": lambda r: r[holder]["status_history"].append(
            {"date": AT, "status": "suspended", "reason": "Audit findings not closed"}),
        "a certificate claims rest on is withdrawn": lambda r: r[held]["status_history"].append(
            {"date": AT, "status": "withdrawn", "reason": "Scope no longer produced"}),
        "a member with claims is removed": lambda r: r.pop(holder),
    }
    recorded = sorted(rid for rid, events in model.history.by_record.items() if events and rid in model.certificates)
    if recorded:  # "history-only" marks the record whose history _rebuilt empties
        edits["a record's history changes"] = lambda r: r[recorded[0]].update({"history-only": True})
    return edits


def _rebuilt(result: CheckResult, model: SiteModel, edit: Edit) -> SiteModel:
    """The model of ``result``'s records as ``edit`` leaves them (history kept)."""
    kinds = {r.id: r for r in result.valid}
    records = {rid: copy.deepcopy(r.data) for rid, r in kinds.items()}
    edit(records)
    marked = [rid for rid, d in records.items() if d.pop("history-only", False)]
    template = next(r for r in result.valid if r.id in model.certificates)
    valid = [Record(kinds[rid].kind if rid in kinds else template.kind, template.root, f"{rid}.yaml", data)
             for rid, data in records.items()]
    changed = SiteModel.build(dataclasses.replace(result, valid=valid), AT)
    changed.history = copy.copy(model.history)
    changed.history.by_record = {**model.history.by_record, **{rid: [] for rid in marked}}
    return changed


@pytest.mark.parametrize("registry", ["sample", "synthetic"])
def test_a_change_reaches_every_page_whose_digest_it_changed(registry: str, request: pytest.FixtureRequest) -> None:
    root = REPO if registry == "sample" else request.getfixturevalue("synthetic")
    result = check(root, AT)
    model = _model(result, root)
    before, digests = _state(model)
    if registry == "sample":
        assert any(model.history.by_record.values())  # the history change below changes something
    for name, edit in _edits(model).items():
        changed = _rebuilt(result, model, edit)
        after, now = _state(changed)
        # Made with the kept state, the state is the same: entries are kept only for
        # records of the same bytes and history.
        assert _state(changed, before)[0] == after, name
        assert _state(changed, dataclasses.replace(before, shared="another"))[0] == after, name
        ids = pagereach.changed(before, after)
        assert ids is not None
        reached = pagereach.reached(changed, ids)
        altered = {page for page, digest in now.items() if digests.get(page) != digest}
        assert altered, name
        assert altered <= reached, (name, sorted(altered - reached))
        assert len(reached) < len(now) / 2, name  # a change reaches a few pages, not all
    assert pagereach.changed(before, dataclasses.replace(before, shared="another day")) is None


def test_a_rebuild_works_out_only_the_pages_a_change_reaches(scratch: Scratch, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """After changes that move links (a certificate's predecessor), only the pages
    reached have their inputs worked out, and only the claims reached their closure's
    digest (alureg/bundles.py); the others are carried over, with the directory pages'
    rows that no change reached and the bundles in the snapshot's shards that kept
    their root, and the output is a cold build's. Without the kept state, or with one
    of another output, every page's inputs are worked out again."""
    from alureg import bundles

    worked: Counter[str] = Counter()
    real, real_closure = pagememo.page_digest, bundles.closure

    def closure(*args: Any, **kwargs: Any) -> dict[str, Any]:
        worked["closure"] += 1
        return real_closure(*args, **kwargs)

    monkeypatch.setattr(bundles, "closure", closure)
    real_reuse = bundles.reuse

    def reuse(*args: Any) -> int | None:
        worked["bundle"] += 1
        return real_reuse(*args)

    monkeypatch.setattr(bundles, "reuse", reuse)  # bundles not carried over with their shard
    monkeypatch.setattr(snapshot, "LEAVES_PER_SHARD", 4)  # the snapshot in shards, some kept while others change

    def counting(model: SiteModel, shared: str, fingerprints: dict[str, str], folder: str, rid: str) -> bytes:
        worked[folder] += 1
        return real(model, shared, fingerprints, folder, rid)

    monkeypatch.setattr(pagereach, "page_digest", counting)  # record pages and status documents (pagereach.kept)
    real_file = pagememo.file_digest

    def record_document(shared: str, fingerprints: dict[str, str], folder: str, rid: str) -> bytes:
        worked["api"] += 1
        return real_file(shared, fingerprints, folder, rid)

    monkeypatch.setattr(pagereach, "file_digest", record_document)  # the records' API documents (pagereach.kept)

    def row(model: SiteModel, shared: str, fingerprints: dict[str, str], folder: str, rid: str) -> bytes:
        worked["rows"] += 1
        return real(model, shared, fingerprints, folder, rid)

    monkeypatch.setattr(record_pages, "page_digest", row)  # the directories' rows (pages.RowMemo)
    monkeypatch.setattr(record_pages, "DIRECTORY_PAGE", 4)  # several pages: one kept, another changed
    monkeypatch.setattr(api, "ROWS_AT_ONCE", 4)  # the API lists in several chunks: some carried, others made

    def counted(name: str) -> Callable[[SiteModel, str], dict[str, Any]]:
        real_row = getattr(api, name)

        def list_row(model: SiteModel, rid: str) -> dict[str, Any]:
            worked["list rows"] += 1
            worked[name] += 1
            return real_row(model, rid)
        return list_row

    for name in ("certificate_row", "claim_row", "member_row"):  # the API lists' rows
        monkeypatch.setattr(api, name, counted(name))
    now = dt.datetime(2026, 11, 21, 6, tzinfo=dt.UTC)
    out, cold = tmp_path / "out", tmp_path / "cold"

    def rebuild() -> tuple[int, int]:
        """The pages whose inputs and the claims whose closure the warm build worked out
        (and, in ``documents``, its API documents whose inputs it worked out)."""
        worked.clear()
        build(scratch.root, out, AT, now=now, use_cache=True)
        counts = sum(worked[f] for f in ("members", "certificates", "c", "status")), worked["closure"]
        documents.append(worked["api"])
        rows.append(worked["rows"])
        bundled.append(worked["bundle"])
        listed.append(worked["list rows"])
        build(scratch.root, cold, AT, now=now)
        assert _tree(out) == _tree(cold)
        return counts

    documents: list[int] = []  # the API documents whose inputs each warm build worked out
    rows: list[int] = []  # the directory rows whose inputs it worked out
    bundled: list[int] = []  # the claim bundles whose inputs it worked out
    listed: list[int] = []  # the API lists' rows it made
    claims = len(list((scratch.root / "registry/claims").glob("*.yaml")))
    assert rebuild() == (0, claims)  # a first build keeps nothing: no page's inputs worked out
    assert documents == rows == bundled == [0]  # nor a document's, a directory row's or a bundle's
    day_before = dt.date.fromisoformat(AT) - dt.timedelta(days=1)
    build(scratch.root, out, day_before.isoformat(), now=now, use_cache=True)
    everything, closures = rebuild()  # another day: every page's inputs worked out again
    assert everything > 100 and closures == claims
    del documents[0], rows[0], bundled[0], listed[0]
    # CRT-000108 now supersedes CRT-000107, which claim CLM-10020 rests on: the claim's
    # page shows the successor, though neither the claim nor CRT-000107 changed.
    scratch.change("certificates/CRT-000108.yaml", lambda d: d.update(supersedes="CRT-000107"))
    pages, closures = rebuild()
    assert 0 < pages < everything / 4 and 0 < closures < claims / 4
    assert "CRT-000108" in (out / "c/CLM-10020/index.html").read_text()
    scratch.change("certificates/CRT-000108.yaml", lambda d: d.pop("supersedes"))
    pages, closures = rebuild()
    assert 0 < pages < everything / 4 and 0 < closures < claims / 4
    assert 0 < documents[1] < documents[0] / 4 and 0 < documents[2] < documents[0] / 4
    assert 0 < rows[1] < rows[0] / 2 and 0 < rows[2] < rows[0] / 2  # the pages of rows the change reached
    assert bundled[0] == claims and 0 < bundled[1] < claims / 2 and 0 < bundled[2] < claims / 2  # changed shards
    assert listed[0] > claims and 0 < listed[1] < listed[0] / 2 and 0 < listed[2] < listed[0] / 2  # reached chunks

    from alureg.caches import cache_dir

    kept = pagereach.state_file(cache_dir(out, "output"))
    kept.unlink()
    claim = "registry/claims/CLM-10003.yaml"
    scratch.change(claim, lambda d: d.update(valid_until="2027-01-31"))
    assert rebuild() == (everything, claims)  # no state: every page is worked out
    data = orjson.loads(kept.read_bytes())
    kept.write_bytes(orjson.dumps({**data, "manifest": "0" * 64}))
    scratch.change(claim, lambda d: d.update(valid_until="2027-02-28"))
    assert rebuild() == (everything, claims)  # the state of another output is not used
    assert documents[-2:] == [documents[0]] * 2 and rows[-2:] == [rows[0]] * 2 and bundled[-2:] == [claims] * 2
    assert listed[-2:] == [listed[0]] * 2

    # A list of the live output edited in place since: none of its chunks is taken from it.
    listing = out / "api/v1/certificates.json"
    text, was = listing.read_bytes(), listing.stat()
    listing.write_bytes(text.replace(b'"CRT-000108"', b'"CRT-000109"', 1))  # in place: the same inode and size
    os.utime(listing, ns=(was.st_atime_ns, was.st_mtime_ns))  # and time: only its bytes tell
    scratch.change("certificates/CRT-000131.yaml", lambda d: d.update(valid_until="2029-03-31"))  # another chunk
    worked.clear()
    build(scratch.root, out, AT, now=now, use_cache=True)
    assert worked["certificate_row"] == len(list((scratch.root / "certificates").glob("*.yaml")))
    build(scratch.root, cold, AT, now=now)
    assert _tree(out) == _tree(cold)
    data = orjson.loads(kept.read_bytes())
    assert data["lists"]["certificates.json"] and data["lists"]["certificates.csv"]
    for spans in ([["a", 1, "2"]], [["a", 1]], "a", [[1, 1, 2]]):
        kept.write_bytes(orjson.dumps({**data, "lists": {"certificates.json": spans}}))
        assert PageState.load(kept.parent) is None


def test_after_a_first_build_a_change_makes_only_the_pages_it_reaches(scratch: Scratch, tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """A first build has nothing to keep and works out no input digest
    (``outputs.keeps_nothing``): its files' manifest entries hold none. A rebuild after
    one change, the same day, carries the pages the change does not reach over all the
    same, makes those it reaches (with their digests), and equals a cold build."""
    from alureg import outputs
    from alureg.caches import cache_dir

    rendered = counted_renders(monkeypatch)
    now = dt.datetime(2026, 11, 21, 6, tzinfo=dt.UTC)
    out, cold = tmp_path / "out", tmp_path / "cold"

    def entries() -> dict[str, bytes]:
        read = outputs._read(cache_dir(out, "output"), "manifest", out.resolve())
        assert read is not None
        return {rel: entry for rel, entry in read[0].items() if rel.endswith("index.html")
                and rel.split("/")[0] in ("members", "certificates", "c") and rel.count("/") == 2}

    build(scratch.root, out, AT, now=now, use_cache=True)
    everything = sum(rendered.values())
    first = entries()
    assert len(first) == everything > 50
    assert {len(entry) for entry in first.values()} == {outputs._PLAIN}  # no input digest
    rendered.clear()
    scratch.change("registry/members/MEM-0003.yaml", lambda d: d.update(website="https://changed.example"))
    build(scratch.root, out, AT, now=now, use_cache=True)
    assert "members/MEM-0003" in rendered and sum(rendered.values()) < everything / 4
    again = entries()
    assert {rel for rel, entry in again.items() if len(entry) == outputs._WITH_INPUTS} == {
        f"{page}/index.html" for page in rendered}  # those made again have their digests, the others none
    build(scratch.root, cold, AT, now=now)
    assert _tree(out) == _tree(cold)

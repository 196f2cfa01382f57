"""Which record pages a change reaches: the pages, rows and status documents whose
inputs (alureg/pagememo.py ``page_inputs``) hold a record that changed since the live
output was built. The others are carried over from the live output with the input
digest its manifest holds for them, without their inputs being worked out again
(alureg/outputs.py ``carry_all``): at 100,000 certificates, working out every page's
inputs and digest took about 4.3 s of CPU of a rebuild after one change (py-spy,
docs/adr/0012-scale.md).

Each build keeps, beside the live output's manifest, what its pages were made from
(``PageState``): the page memo's shared key and, for each record, its file's digest,
the digest of its change history and the ids it links to (holder, certificates,
audit firm, the certificate it supersedes). The next build compares its own with it.

Why the links: a page reads records along links, and a link belongs to the record
that names it. A page that read a record before the change reached it along a path of
links; where the path used a link that has changed since, the record naming it
changed, and the path's part up to that link is still there, so the page still reads
one end of that link. So the pages a change reaches are those that now read a changed
record or a record that one linked to before or links to now (``reached``); tests
compare them with every page whose digest changed (tests/test_pagereach.py)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from .caches import write_file
from .outputs import carry_all, keeps_nothing, reuse
from .pagememo import PageMemo, file_digest, history_bytes, page_digest
from .sitemodel import SiteModel

FORMAT = 3  # 2: with the directories' rows (``rows``); 3: with the API lists' chunks (``lists``)
Page = tuple[str, str]  # folder (as pagememo.page_inputs names them), record id


def links(data: dict[str, Any]) -> list[str]:
    """The ids a record names: holder, audit firm, certificates, the one it supersedes."""
    found = [data.get("holder"), data.get("supersedes"), *data.get("certificates", ())]
    audit = data.get("audit")
    if isinstance(audit, dict):
        found.append(audit.get("firm"))
    return [v for v in found if isinstance(v, str)]


@dataclass
class PageState:
    """What a build's record pages were made from: the page memo's shared key, and each
    record's ``"<file digest> <history digest>|link|link..."`` by id. ``manifest``:
    the SHA-256 of the live manifest file saved with it (alureg/outputs.py): a state is
    used only with the output it describes. ``rows``: the files of kept directory rows
    that the build's directory pages used, by the digest of their kind and ids
    (alureg/pages.py ``RowMemo``). ``lists``: where the chunks of rows lie in the API
    lists, by the list file's name (alureg/listchunks.py)."""

    shared: str
    records: dict[str, str]
    manifest: str = ""
    rows: dict[str, str] = field(default_factory=dict)
    lists: dict[str, list[list[Any]]] = field(default_factory=dict)

    @classmethod
    def of(cls, model: SiteModel, shared: str, digests: dict[str, str], before: PageState | None = None) -> PageState:
        """``before``: a state kept by an earlier build. A record whose file and history
        are as it says keeps its entry: the same bytes name the same links, found
        without their data being walked again (220,000 records' links took 0.19 s of a
        one-change rebuild; docs/adr/0012-scale.md, nineteenth session)."""
        kept = before.records if before is not None and before.shared == shared else {}
        by_record = model.history.by_record
        records: dict[str, str] = {}
        for table in (model.members, model.certificates, model.claims, model.firms):
            for rid, data in table.items():
                mark = hashlib.sha256(history_bytes(model, rid)).hexdigest() if by_record.get(rid) else "-"
                digest = digests.get(rid)
                head = f"{digest} {mark}" if digest is not None else f"absent {mark}"
                old = kept.get(rid)
                if (digest is not None and old is not None and old.startswith(head)
                        and old[len(head):len(head) + 1] in ("", "|")):
                    records[rid] = old
                else:
                    records[rid] = "|".join([head, *links(data)])
        return cls(shared, records)

    def save(self, folder: Path, manifest: str) -> None:
        write_file(state_file(folder), orjson.dumps({"format": FORMAT, "manifest": manifest, "shared": self.shared,
                                                     "records": self.records, "rows": self.rows,
                                                     "lists": self.lists}))

    @classmethod
    def load(cls, folder: Path) -> PageState | None:
        try:
            data = orjson.loads(state_file(folder).read_bytes())
            if data["format"] != FORMAT or not all(isinstance(data[k], str) for k in ("manifest", "shared")):
                return None
            records, rows, lists = data["records"], data["rows"], data["lists"]
            if not all(isinstance(d, dict) and all(isinstance(v, str) for v in d.values()) for d in (records, rows)):
                return None
            if not (isinstance(lists, dict) and all(isinstance(spans, list) and all(_span(s) for s in spans)
                                                    for spans in lists.values())):
                return None
            return cls(data["shared"], records, data["manifest"], rows, lists)
        except (OSError, orjson.JSONDecodeError, KeyError, TypeError):
            return None


def _span(span: Any) -> bool:
    """A chunk's place in a list file as ``save`` keeps it: [key, start, end]."""
    return (isinstance(span, list) and len(span) == 3 and isinstance(span[0], str)
            and all(isinstance(n, int) and not isinstance(n, bool) for n in span[1:]))


def state_file(folder: Path) -> Path:
    return folder / "page-state.json"


def kept(model: SiteModel, memo: PageMemo | None, reach: set[Page] | None, pages: Sequence[Page], out: str,
         where: str, document: str | None = None) -> Iterator[tuple[Page, str, int | None, bytes | None]]:
    """Keep the files of ``pages`` from the previous outputs where their bytes would be
    the same; ``where``: a file's path in the output ``out``, a format of its page's
    folder and id. Yields each page with its file's path (empty for a file carried
    over), its size and the digest of its inputs worked out; a size of None: the
    caller makes the file at that path and emits it with that digest.

    The files of pages that the change does not reach (``reach``; None: any page) are
    carried over at once with the input digests the live output's manifest holds for
    them (outputs.carry_all): a record that changed reaches its own page, so its API
    document is carried over as the page would be. The others are kept or linked if
    the digest of their inputs (with ``memo``) is the previous file's. ``document``: the
    files are instead the records' documents in that API folder, made from the record
    alone (``pagememo.file_digest``). With no earlier output to keep files from
    (``outputs.keeps_nothing``), no digest is worked out: the caller makes every file."""
    if memo is None or keeps_nothing():  # nothing to keep: no digest would be of use
        for page in pages:
            yield page, f"{out}/{where.format(*page)}", None, None
        return
    unreached = [reach is not None and page not in reach for page in pages]
    carried = iter(carry_all([where.format(*page) for page, far in zip(pages, unreached, strict=True) if far]))
    for page, far in zip(pages, unreached, strict=True):
        if far and (size := next(carried)) is not None:
            yield page, "", size, None  # no path: the caller has nothing to make
            continue
        path = f"{out}/{where.format(*page)}"  # a string: 220,000 Path joins took 1 s
        digest = file_digest(*memo, document, page[1]) if document else page_digest(model, *memo, *page)
        yield page, path, reuse(path, digest), digest


def changed(before: PageState, now: PageState) -> set[str] | None:
    """The ids of the records that changed, with those they linked to before and link
    to now; None: every page may have changed (another shared key)."""
    if before.shared != now.shared:
        return None
    out: set[str] = set()
    kept = before.records
    for rid, new in now.records.items():
        old = kept.get(rid)
        if old is not new and old != new:  # most are the same object (``PageState.of``)
            out.add(rid)
            for state in (old, new):
                if state is not None:
                    out.update(state.split("|")[1:])
    for rid in kept.keys() - now.records.keys():  # records removed since
        out.add(rid)
        out.update(kept[rid].split("|")[1:])
    return out


def reached(model: SiteModel, ids: Iterable[str]) -> set[Page]:
    """Every page, row and status document whose inputs (``pagememo.page_inputs``, on
    this model) hold one of ``ids``."""
    out: set[Page] = set()
    audited: dict[str, list[str]] | None = None
    for rid in ids:
        out.update(_readers(model, rid))
        if rid in model.firms:  # certificate pages read their audit firm
            if audited is None:
                audited = {}
                for cid, cert in model.certificates.items():
                    audited.setdefault(cert["audit"]["firm"], []).append(cid)
            out.update(("certificates", cid) for cid in audited.get(rid, ()))
    tables = {"members": model.members, "status": model.members, "member-row": model.members,
              "certificates": model.certificates, "certificate-row": model.certificates,
              "certificate-status": model.certificates, "c": model.claims}
    return {(folder, rid) for folder, rid in out if rid in tables[folder]}


def _readers(model: SiteModel, rid: str) -> Iterator[Page]:
    """The inverse of ``page_inputs`` for one id, but for the audit firm (``reached``);
    pages of records that do not exist among them."""
    cert = model.certificates.get(rid)
    # rid is a successor of the certificate it supersedes: what reads that one's
    # successors reads rid.
    supersedes = cert.get("supersedes") if cert is not None else None
    prior = [supersedes] if isinstance(supersedes, str) and supersedes in model.certificates else []
    # The claims whose closure (claim, holder, certificates, their successors) holds rid.
    claims = {*model.claims_of.get(rid, ()), *model.claims_on.get(rid, ())}
    for before in prior:
        claims.update(model.claims_on.get(before, ()))
    if rid in model.claims:
        claims.add(rid)
    for lid in claims:
        claim = model.claims[lid]
        yield "c", lid
        yield "members", claim["holder"]
        yield from (("certificates", c) for c in claim["certificates"])
    holder = [cert["holder"]] if cert is not None else []
    holders = [rid, *holder, *(model.certificates[c]["holder"] for c in prior)]
    yield from (("members", m) for m in holders)
    yield from (("status", m) for m in holders)
    yield from (("member-row", m) for m in [rid, *holder])
    for folder in ("certificates", "certificate-row"):
        yield from ((folder, c) for c in [rid, *model.certs_of.get(rid, ()), *prior])
    yield from (("certificate-status", c) for c in [rid, *prior])

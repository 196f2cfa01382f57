"""HTML for the record pages and the directory fragments, from Jinja templates in
site/templates/ with autoescaping on: every value from a record is escaped.

Record pages are written directly, without Markdown or MkDocs (design.md, "Site"):
at 570 pages/s MkDocs would be the bottleneck of a large registry, and record pages
need no navigation. Directory fragments are injected into MkDocs pages by
alureg/mkdocs_hooks.py.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing as mp
import os
import secrets
from collections import Counter
from collections.abc import Callable, Iterable, MutableMapping
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from functools import cache, partial
from pathlib import Path
from typing import Any

import jinja2
import orjson
from markupsafe import Markup

from .caches import write_file
from .datadict import fields
from .feeds import record_link
from .forked import SharedCounter, can_fork
from .outputs import Taken, add_entries, emit, take_entries, worker_started
from .pagememo import PageMemo, page_digest
from .pageparts import GLOBALS, certificate_row, escape, member_row
from .pagereach import Page, kept
from .qr import claim_url
from .records import Kind
from .rules import MUST_CERTIFY
from .schema import all_schemas
from .sitemodel import (
    ACTIVITY_NAMES,
    CLAIM_KIND_NAMES,
    CLASS_NAMES,
    MATERIAL_NAMES,
    STANDARD_NAMES,
    STATE_LABELS,
    SiteModel,
)
from .status import history_at

CHANGES_SHOWN = 200  # rows on the changes page; the feeds and changes.json carry more
SITE_DIR = Path(__file__).resolve().parent.parent / "site"


def script_json(data: Any) -> Markup:
    """JSON safe inside <script>: no '<', '>' or '&' can end the element early.
    orjson's sorted compact output is the standard library's (tests/test_properties.py),
    ten times faster: the certificates directory's data is 100,000 records' status."""
    try:
        text = orjson.dumps(data, option=orjson.OPT_SORT_KEYS).decode()
    except (orjson.JSONEncodeError, TypeError):  # beyond orjson (an integer over 64 bits): the reference
        text = json.dumps(data, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
    return Markup(text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026"))  # noqa: S704


_DICT_ATTRIBUTES = frozenset(dir(dict))


class _Template(jinja2.Template):
    """A template whose output escaping is ``pageparts.escape``: the compiled code looks the
    name ``escape`` up in the template's own namespace, shared by its blocks and
    macros."""

    @classmethod
    def from_code(cls, environment: jinja2.Environment, code: Any, globals: Any,
                  uptodate: Any = None) -> jinja2.Template:
        template = super().from_code(environment, code, globals, uptodate)
        template.root_render_func.__globals__["escape"] = escape
        return template


class _Environment(jinja2.Environment):
    """Jinja with ``record.field`` looked up as an item first in a dict (records are
    dicts): Jinja tries the attribute first, and the AttributeError it raises and
    catches for each of a page's fields cost about 20 µs of its 150 (a synthetic
    registry's pages). Same result: a name that is not a dict's attribute can only
    be an item, and the names that are (``get``, ``items``) keep Jinja's way."""

    template_class = _Template

    def make_globals(self, d: MutableMapping[str, Any] | None) -> MutableMapping[str, Any]:
        """A template's globals as a plain dict, not Jinja's ChainMap: each render copies
        them (``dict(globals, **vars)``) and lists their names, which over a ChainMap
        ran in Python. Jinja asks that globals not change once a template is loaded;
        ``environment`` sets them before any is."""
        return {**self.globals, **(d or {})}

    def getattr(self, obj: Any, attribute: str) -> Any:
        if obj.__class__ is dict and attribute not in _DICT_ATTRIBUTES:
            try:
                return obj[attribute]
            except KeyError:
                return self.undefined(obj=obj, name=attribute)
        return super().getattr(obj, attribute)


@cache
def environment() -> jinja2.Environment:
    env = _Environment(
        loader=jinja2.FileSystemLoader(SITE_DIR / "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=False,
        keep_trailing_newline=True,
        # The templates do not change while a build runs: without this, every page's
        # get_template looked up the file's mtime (22 s of CPU in a cold build of
        # 100,000 certificates, py-spy).
        auto_reload=False,
    )
    env.globals.update(
        labels=STATE_LABELS, classes=CLASS_NAMES, activities=ACTIVITY_NAMES, materials=MATERIAL_NAMES,
        standards=STANDARD_NAMES, claim_kinds=CLAIM_KIND_NAMES, **GLOBALS,
    )
    return env


def _render(name: str, **context: Any) -> str:
    return environment().get_template(name).render(**context)


def _write(path: Path | str, text: str, inputs: bytes | None = None) -> int:
    return emit(path, text.encode("utf-8"), inputs)


_PART_OF = {"members": SiteModel.member_entry, "certificates": SiteModel.cert_entry,
            "claims": SiteModel.claim_entry}


def status_json(model: SiteModel, members: Iterable[str], certificates: Iterable[str],
                claims: Iterable[str]) -> Markup:
    """``script_json(model.status_data(members, certificates, claims))`` (tested equal),
    from each record's entry encoded once a build when the model keeps its statuses
    (else as that expression). A record page holds the status data of its record and
    the records around it: a member's entry is in its own page and in each of its
    certificates' pages; making and encoding them page by page took about 4.4 s of CPU
    in a cold build at 100,000 certificates (docs/adr/0012-scale.md, eighteenth
    session). RFC 8259 objects with sorted keys: an object is its members' encodings
    joined by commas, and script_json's escaping is character by character."""
    if model.statuses is None:
        return script_json(model.status_data(members, certificates, claims))
    claims = list(claims)
    member_ids, cert_ids = model.status_ids(members, certificates, claims)
    parts = model.status_parts

    def joined(kind: str, ids: Iterable[str]) -> str:
        kept, entry = parts[kind], _PART_OF[kind]
        out = []
        for rid in ids:
            found = kept.get(rid)
            if found is None:
                found = kept[rid] = str(script_json({rid: entry(model, rid)}))[1:-1]
            out.append(found)
        return ",".join(out)

    return Markup(  # noqa: S704 (script_json's)
        f'{{"built":{script_json(model.at)},'
        f'"certificates":{{{joined("certificates", (c for c in sorted(cert_ids) if c in model.certificates))}}},'
        f'"claims":{{{joined("claims", sorted(claims))}}},'
        f'"members":{{{joined("members", (m for m in sorted(member_ids) if m in model.members))}}}}}')


def _common(model: SiteModel) -> dict[str, Any]:
    return {"model": model, "scheme": model.scheme, "at": model.at, "root": "../../"}


def member_page(model: SiteModel, mid: str) -> str:
    certs = sorted(model.certs_of.get(mid, []))
    claims = sorted(model.claims_of.get(mid, []))
    return _render(
        "member.html", **_common(model), m=model.members[mid], status=model.member_status(mid),
        certs=certs, claims=claims, json_path=f"members/{mid}.json",
        status_json=status_json(model, [mid], certs, claims),
    )


def certificate_page(model: SiteModel, cid: str) -> str:
    cert = model.certificates[cid]
    claims = sorted(model.claims_on.get(cid, []))
    return _render(
        "certificate.html", **_common(model), c=cert, status=model.cert_status(cid),
        holder=model.members[cert["holder"]], firm=model.firms.get(cert["audit"]["firm"]),
        successor=model.successor_of(cid), claims=claims, json_path=f"certificates/{cid}.json",
        status_json=status_json(model, [cert["holder"]], [cid], claims),
    )


@cache
def _claim_css() -> Markup:
    return Markup((SITE_DIR / "assets" / "claim.css").read_text(encoding="utf-8"))  # noqa: S704 (our file)


def claim_page(model: SiteModel, cid: str) -> str:
    """The QR target: standalone, its CSS inlined, verified in the browser by verify.js
    against the root fingerprints built in here."""
    claim = model.claims[cid]
    url = claim_url(model.site_url, cid)
    pins = {"roots": model.root_fingerprints, "threshold": model.root_threshold, "site": model.site_url}
    return _render(
        "claim.html", **_common(model), cl=claim, status=model.claim_status(cid),
        holder=model.members[claim["holder"]], member_state=model.member_status(claim["holder"]).state,
        css=_claim_css(), pins=script_json(pins), url=url,
    )


_PAGES = {"members": member_page, "certificates": certificate_page, "c": claim_page}
Job = tuple[SiteModel, Path, PageMemo | None, set[Page] | None]  # what every page is made from
_JOB: Job | None = None  # set before forking workers
PARALLEL_FROM = 3000  # below this many pages, starting workers costs more than it saves


def _jobs(model: SiteModel) -> list[tuple[str, str]]:
    """Every record page: its folder and record id."""
    return ([("members", m) for m in model.members] + [("certificates", c) for c in model.certificates]
            + [("c", c) for c in model.claims])


def _render_pages(job: Job, chunk: list[tuple[str, str]]) -> Counter[str]:
    """Render ``chunk`` in this process; bytes written per folder."""
    model, out, memo, reach = job
    sizes: Counter[str] = Counter()
    for (folder, rid), path, size, inputs in kept(model, memo, reach, chunk, str(out), "{}/{}/index.html"):
        if size is None:
            size = _write(path, _PAGES[folder](model, rid), inputs)
        sizes[folder] += size
    return sizes


def _render_chunk(chunk: list[tuple[str, str]]) -> tuple[Counter[str], Taken]:
    """In a pool's forked worker: its files' entries go back to the parent."""
    assert _JOB is not None
    worker_started()
    return _render_pages(_JOB, chunk), take_entries()


class PageChunks:
    """The record pages in chunks, which the two processes of a large build take one
    at a time (a counter in shared memory, made before the second is forked): the
    first from the start, the second once its own stages are done
    (alureg/publish.py). In a cold build at 100,000 certificates the second process
    ended its stages seconds before the first ended the pages, and waited."""

    COUNT = 64  # at 100,000 certificates, 3,440 pages a chunk: under a second in a cold build

    def __init__(self, model: SiteModel, out: Path, memo: PageMemo | None, reach: set[Page] | None) -> None:
        self.job: Job = (model, out, memo, reach)
        jobs = _jobs(model)
        size = -(-len(jobs) // self.COUNT) or 1
        # Runs of pages, not every n-th: the two processes mostly write in different folders.
        self.chunks = [jobs[i:i + size] for i in range(0, len(jobs), size)]
        self.taken = SharedCounter()

    def _take(self) -> list[tuple[str, str]] | None:
        n = self.taken.next()
        return self.chunks[n] if n < len(self.chunks) else None

    def render(self) -> Counter[str]:
        """Render chunks in this process until none is left; bytes written per folder
        (this process's share). The files' entries stay with this process's others."""
        sizes: Counter[str] = Counter()
        while (chunk := self._take()) is not None:
            sizes.update(_render_pages(self.job, chunk))
        return sizes


def write_record_pages(model: SiteModel, out: Path, workers: int | None = None,
                       memo: PageMemo | None = None, reach: set[Page] | None = None,
                       chunks: PageChunks | None = None) -> dict[str, int]:
    """Every member, certificate and claim page; returns bytes written per folder.

    With ``memo``, a page made from the same inputs as the live one is linked from it
    without being rendered (alureg/pagememo.py). ``reach``: the pages a change since
    the live output may have changed (alureg/pagereach.py); the others are carried
    over without their inputs being worked out. Large registries are rendered by
    one forked worker per core (the model is shared by fork, not pickled), unless
    ``workers`` says otherwise. ``chunks``: made from the same arguments, shared with a
    second process that writes beside this one (alureg/publish.py); this process
    renders the chunks it takes, in itself (three writing processes on two cores
    cost more), and returns the bytes of those alone."""
    if chunks is not None:
        return dict(chunks.render())
    global _JOB
    jobs = _jobs(model)
    _JOB = (model, out, memo, reach)
    try:
        workers = workers or os.cpu_count() or 1
        if workers == 1 or len(jobs) < PARALLEL_FROM or not can_fork():
            return dict(_render_pages(_JOB, jobs))
        parts = [jobs[i::workers * 4] for i in range(workers * 4)]
        total: Counter[str] = Counter()
        with ProcessPoolExecutor(workers, mp_context=mp.get_context("fork")) as pool:
            for sizes, entries in pool.map(_render_chunk, parts):
                total.update(sizes)
                add_entries(*entries)
        return dict(total)
    finally:
        _JOB = None


# --- fragments injected into MkDocs pages ------------------------------------------

def _audit_count(count: int) -> str:
    return f"{count} certificate{'' if count == 1 else 's'} from its audits"


def _accreditation_state(model: SiteModel) -> Any:
    def state(acc: dict[str, Any]) -> str:
        if model.at < acc["valid_from"]:
            return "not-yet-valid"
        if model.at > acc["valid_until"]:
            return "expired"
        entry = history_at(acc["status_history"], model.at)
        return entry["status"] if entry else "not-yet-valid"
    return state


def _unique(values: Iterable[str]) -> list[str]:
    """Jinja's ``unique`` filter: first of each, compared without case."""
    seen: dict[str, str] = {}
    for v in values:
        seen.setdefault(v.lower(), v)
    return list(seen.values())


def _certificate_row(model: SiteModel, cid: str) -> str:
    """A row of the certificates directory. What the template would otherwise work out
    with filters, 100,000 times over, is worked out here (Jinja's map and sum took a
    third of the time)."""
    cert = model.certificates[cid]
    facilities = cert["scope"]["facilities"]
    activities = _unique(a for f in facilities for a in f["activities"]) + cert["scope"].get("material_stages", [])
    return certificate_row(cid, cert, model.members[cert["holder"]], model.cert_status(cid),
                           _unique(f["country"] for f in facilities), activities)


def _member_row(model: SiteModel, mid: str) -> str:
    return member_row(mid, model.members[mid], len(model.certs_of.get(mid, [])), model.member_status(mid))


def _certificate_status(model: SiteModel, cid: str) -> str:
    """A certificate's entry in the certificates directory's status data: the text
    ``script_json`` writes for it inside that object (``certificates_status``)."""
    entry = model.status_data(certificates=[cid], reasons=False)["certificates"][cid]
    return str(script_json({cid: entry}))[1:-1]


def certificates_status(model: SiteModel, certs: list[str], rows: RowMemo) -> Markup:
    """``script_json(model.status_data(certificates=certs, reasons=False))`` (tested
    equal) from each certificate's entry, kept between builds with its row: the whole
    object, 100,000 certificates, took 3-5 s of every build."""
    entries = rows.joined("certificate-status", certs, ",")
    return Markup(f'{{"built":{script_json(model.at)},"certificates":{{{entries}}},"claims":{{}},"members":{{}}}}')  # noqa: S704


ROW_MAKERS = {"certificate-row": _certificate_row, "member-row": _member_row,
              "certificate-status": _certificate_status}
DIGEST_OF = {"certificate-status": "certificate-row"}  # inputs within the row's (tests/test_pagememo.py)
_SHARED_DIGESTS = frozenset(DIGEST_OF.values())


ROWS_FORMAT = 3  # of the kept rows: one file per directory page's rows, named by their inputs' digest


class RowMemo:
    """A directory page's rows, kept between builds in a file named by the digest of
    every row's inputs (alureg/pagememo.py): a change re-renders the page of its row
    (1,000 rows), and the rows of other pages are neither rendered nor held in memory.
    Named by its contents' inputs, a file is either right or absent; one written in
    part is never named (written aside, then renamed). A build that finds no kept rows
    at all names its files for itself instead (``blind``). Files no page of a build
    used, or found damaged, are removed when it ends (``save``).

    ``reach``: the pages and rows a change since the live output reaches
    (alureg/pagereach.py); ``kept``: the files the live output's directory pages used,
    by the digest of their rows' kind and ids (``names``, kept in its page state). A
    page none of whose rows the change reaches uses the same file as then, without
    its rows' digests being worked out: 120,000 of them took about 1 s of a one-change
    rebuild at 100,000 certificates (docs/adr/0012-scale.md, eighteenth session)."""

    def __init__(self, model: SiteModel, folder: Path | None = None, memo: PageMemo | None = None,
                 reach: set[Page] | None = None, kept: dict[str, str] | None = None) -> None:
        self.model, self.folder, self.memo = model, folder, memo
        self.reach, self.kept = reach, kept or {}
        self.digests: dict[str, str] = {}
        self.used: set[str] = set()
        self.names: dict[str, str] = {}  # the files used, by the digest of their rows' kind and ids
        # No kept rows at all (a first build, or the caches emptied): a digest could
        # find none, so none is worked out (``joined``).
        self.blind = folder is not None and memo is not None and not _holds_rows(folder)
        # Names this build's files when ``blind``: random, so that a blind build that
        # fails before its swap cannot write over a file the live page state names.
        self.build = secrets.token_hex(8)

    def _digest(self, kind: str, rid: str) -> str:
        assert self.memo is not None
        # A certificate's status entry reads a part of what its row reads: the row's
        # digest covers it (one digest per certificate, not two).
        of = DIGEST_OF.get(kind, kind)
        digest = self.digests.pop(f"{of}/{rid}", None)  # held until its other use only
        if digest is None:
            digest = page_digest(self.model, *self.memo, of, rid).hex()
            if of in _SHARED_DIGESTS:
                self.digests[f"{of}/{rid}"] = digest
        return digest

    def joined(self, kind: str, ids: Iterable[str], sep: str = "") -> Markup:
        """The rows of ``ids``, one after the other (one string: Jinja would check each
        of 1,000 rows for markup again)."""
        ids = list(ids)
        if self.folder is None or self.memo is None:
            return Markup(sep.join([ROW_MAKERS[kind](self.model, rid) for rid in ids]))  # noqa: S704 (our rows)
        key = hashlib.sha256("\n".join([kind, sep, *ids]).encode()).hexdigest()
        reach = self.reach
        name = self.kept.get(key) if reach is not None and not any((kind, rid) in reach for rid in ids) else None
        if name is not None and (found := self._read(name)) is not None:
            self.names[key] = name
            return found
        if self.blind:
            # Named for this build alone, not by its rows' inputs: a later build takes
            # the file only through its page state, for a page none of whose rows a
            # change reaches (above), as it carries a first build's record pages over
            # (alureg/pagereach.py). Working out 120,000 rows' digests took about
            # 0.65 s of a cold build's CPU at 100,000 certificates.
            name = f"first-{self.build}-{key}.html"
        else:
            h = hashlib.sha256(f"rows {ROWS_FORMAT}\n{self.memo[0]}\n{kind}\n{sep}\n".encode())
            for rid in ids:
                h.update(f"{rid} {self._digest(kind, rid)}\n".encode())
            name = f"{h.hexdigest()}.html"
            if (found := self._read(name)) is not None:
                self.names[key] = name
                return found
        self.names[key] = name
        path = self.folder / name
        html = sep.join([ROW_MAKERS[kind](self.model, rid) for rid in ids])
        data = html.encode("utf-8")
        write_file(path, hashlib.sha256(data).hexdigest().encode() + b"\n" + data)
        self.used.add(name)
        return Markup(html)  # noqa: S704 (rendered by our template)

    def _read(self, name: str) -> Markup | None:
        """The kept rows in the file ``name``, if it is there and whole."""
        assert self.folder is not None
        try:  # the first line: the SHA-256 of the rest, so that a file damaged since is not used
            check, _, kept = (self.folder / name).read_bytes().partition(b"\n")
            if hashlib.sha256(kept).hexdigest().encode() == check:
                found = Markup(kept.decode("utf-8"))  # noqa: S704 (rendered by our template, earlier)
                self.used.add(name)  # a damaged file is not: ``save`` removes it
                return found
        except (OSError, UnicodeDecodeError):
            pass
        return None

    def save(self) -> None:
        """Remove the kept rows that no page of this build used."""
        if self.folder is None or not self.folder.is_dir():
            return
        self.folder.with_name("rows.json").unlink(missing_ok=True)  # the rows' format 2, all in one file
        for path in self.folder.iterdir():
            if path.name not in self.used:
                path.unlink(missing_ok=True)


def _holds_rows(folder: Path) -> bool:
    """Whether ``folder`` holds any kept rows (``RowMemo``)."""
    try:
        with os.scandir(folder) as entries:
            return any(entry.name.endswith(".html") for entry in entries)
    except OSError:  # no such folder yet
        return False


DIRECTORY_PAGE = 1000  # rows on a page of the members or certificates directory


@dataclass(frozen=True)
class DirectoryPage:
    """One page of a directory that grows with the registry. The first page is the
    MkDocs page itself (``certificates``), the others are top-level siblings
    (``certificates-2``): the same depth, so that a row's links, kept between builds,
    are the same on every page."""

    directory: str  # the first page's folder: members, certificates
    number: int  # from 1
    count: int  # pages of the directory
    start: int  # how many rows come before this page's
    ids: list[str]
    total: int  # rows of the whole directory

    def folder(self, number: int) -> str:
        """The folder (and fragment name) of the directory's page ``number``."""
        return self.directory if number == 1 else f"{self.directory}-{number}"

    @property
    def name(self) -> str:
        return self.folder(self.number)

    def href(self, number: int) -> str:
        return f"../{self.folder(number)}/"

    def links(self) -> list[tuple[int | None, str]]:
        """The first, the last and the two on either side of this page; None: a gap."""
        shown = sorted({1, self.count, *range(max(1, self.number - 2), min(self.count, self.number + 2) + 1)})
        out: list[tuple[int | None, str]] = []
        for before, n in zip([0, *shown], shown, strict=False):
            if before and n - before > 1:
                out.append((None, ""))
            out.append((n, self.href(n)))
        return out

    def span(self) -> str:
        return f"{self.start + 1:,}–{self.start + len(self.ids):,} of {self.total:,}"


def directory_pages(name: str, ids: list[str], size: int | None = None) -> list[DirectoryPage]:
    """A directory's pages of at most ``size`` rows (default DIRECTORY_PAGE)."""
    size = size or DIRECTORY_PAGE
    chunks = [ids[i:i + size] for i in range(0, len(ids), size)] or [[]]
    return [DirectoryPage(name, k + 1, len(chunks), k * size, chunk, len(ids)) for k, chunk in enumerate(chunks)]


@dataclass
class Fragments:
    """The HTML put into the MkDocs pages. ``small``: by the MkDocs hook
    (alureg/mkdocs_hooks.py). ``late``: a directory page's table, made when
    alureg/shell.py puts it into the written page after MkDocs ran, one page at a time
    (the 100,000 rows of a directory are never one string), and the other parts that
    move with the records, so that MkDocs's pages, kept between builds, stay the same
    while ``small`` does (alureg/shell.py); a ``small`` fragment may hold late marks.
    ``extra``: the directories' further pages, as Markdown files for MkDocs (path in
    the docs)."""

    small: dict[str, str]
    late: dict[str, Callable[[], str]]
    extra: dict[str, str] = field(default_factory=dict)


_EXTRA_PAGE = """---
search:
  exclude: true
---
# {title}, page {number} of {count}

<!-- registry:{name} -->
"""


def _extra_pages(pages: list[DirectoryPage], title: str) -> dict[str, str]:
    return {f"{p.name}.md": _EXTRA_PAGE.format(title=title, number=p.number, count=p.count, name=p.name)
            for p in pages[1:]}


def fragments(model: SiteModel, rows: RowMemo | None = None) -> Fragments:
    """The HTML put into the MkDocs pages (alureg/mkdocs_hooks.py); ``rows`` keeps the
    directory rows of the previous build (none: every row is rendered). The caller
    saves ``rows`` once every late fragment is made."""
    rows = rows or RowMemo(model)
    listed = [m for m in sorted(model.members) if model.listed(m)]
    class_of = {m: model.members[m]["class"] for m in listed}
    grouped = [m for cls in CLASS_NAMES for m in listed if class_of[m] == cls]  # by class, then id
    member_pages = directory_pages("members", grouped)
    member_countries = sorted({model.members[m]["country"] for m in listed})
    certs = sorted(model.certificates)
    cert_pages = directory_pages("certificates", certs)
    versions = sorted({c["version"] for c in model.certificates.values()})
    cert_countries = sorted({f["country"] for c in model.certificates.values() for f in c["scope"]["facilities"]})
    audits = Counter(c["audit"]["firm"] for c in model.certificates.values())
    counts = model.counts()

    def members(page: DirectoryPage) -> str:
        groups = [(cls, [m for m in page.ids if class_of[m] == cls]) for cls in CLASS_NAMES]
        return _render(
            "members_directory.html", model=model, listed=page.ids, page=page,
            groups=[(cls, rows.joined("member-row", ids)) for cls, ids in groups if ids],
            countries=member_countries, must_certify=MUST_CERTIFY,
            status_json=script_json(model.status_data(members=page.ids, reasons=False)),
        )

    def certificates(page: DirectoryPage) -> str:
        return _render(
            "certificates_directory.html", model=model, rows=rows.joined("certificate-row", page.ids),
            count=len(page.ids), page=page, versions=versions,
            countries=cert_countries, states=["active", "suspended", "withdrawn", "expired", "superseded",
                                              "not-yet-valid"],
            status_json=certificates_status(model, page.ids, rows),
        )

    small = {
        "auditors": _render(
            "auditors_directory.html", firms=sorted(model.firms.items()), at=model.at,
            accreditation_state=_accreditation_state(model),
        ),
        "standards": _render("standards.html", catalogue=model.standards.get("standards", [])),
        "datadict": _render("datadict.html", kinds=[
            (k.value, all_schemas()[f"{k.value}.schema.json"], fields(k)) for k in Kind]),
    }
    # Late too, though small: the home page's counts, the newest changes and each audit
    # firm's count of certificates move with the records, and MkDocs's pages stay the
    # same while the fragments it handles do (alureg/shell.py keeps them between
    # builds). The changes page is not in Material's search index; the home page's own
    # text and the audit firms' names and accreditations still are.
    late: dict[str, Callable[[], str]] = {
        "changes": partial(_render, "changes.html", model=model, events=model.history.newest(CHANGES_SHOWN),
                           link=record_link),
        "home": partial(_render, "home.html", model=model, counts=counts, scheme=model.scheme),
    }
    for fid in model.firms:  # each audit firm's count of certificates, a mark in its small fragment
        late[f"audits-{fid.lower()}"] = partial(_audit_count, audits[fid])
    for page in member_pages:
        late[page.name] = partial(members, page)
    for page in cert_pages:
        late[page.name] = partial(certificates, page)
    return Fragments(small, late, {**_extra_pages(member_pages, "Members"),
                                   **_extra_pages(cert_pages, "Certified entities")})

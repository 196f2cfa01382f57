"""Supplier search for buyers: one search document per listed member (a supplier).

A document carries the member's name, id, country, its certificates (ids, standards,
facility names and countries, activities) and its claim ids, with accents folded so
that "Mineracao" finds "Mineração", and its filter values and sort keys. The site's
index is written by alureg/searchindex.py; the Pagefind writer here is kept for the
benchmark that compared them (docs/adr/0010-search.md).
"""

from __future__ import annotations

import hashlib
import html
import subprocess
import tempfile
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import orjson

from .errors import AluregError
from .pageparts import country
from .sitemodel import ACTIVITY_NAMES, CLASS_NAMES, STANDARD_NAMES, STATE_LABELS, SiteModel

FACETS = ["standard", "version", "type", "status", "country", "activity", "class"]
# The order in which a supplier's certificates decide its headline status.
STATUS_ORDER = ["active", "suspended", "not-yet-valid", "expired", "superseded", "withdrawn"]
NO_CERTIFICATE = "No certificate"


def fold(text: str) -> str:
    """Lower case without accents: what typing on any keyboard should match."""
    if text.isascii():
        return text.lower()  # NFKD leaves ASCII as it is, and none of it is a combining mark
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).lower()


@dataclass
class SupplierDoc:
    url: str
    content: str
    meta: dict[str, str]
    filters: dict[str, list[str]]
    sort: dict[str, str]


def _summary(model: SiteModel, mid: str, states: dict[str, str]) -> tuple[str, str, str]:
    """Headline status, standards held and validity of a supplier whose certificates'
    states are ``states`` (by id, in id order)."""
    certs = list(states)
    in_force = [c for c in certs if states[c] in ("active", "suspended")]
    held = sorted({f"{STANDARD_NAMES[model.certificates[c]['standard']]} {model.certificates[c]['version']}"
                   for c in in_force})
    status = next((STATE_LABELS[s] for s in STATUS_ORDER if s in states.values()), NO_CERTIFICATE)
    until = max((model.certificates[c]["valid_until"] for c in in_force), default="")
    return status, " · ".join(held), until


def documents(model: SiteModel) -> Iterator[SupplierDoc]:
    for mid in sorted(model.members):
        if not model.listed(mid):
            continue  # suspended members are hidden from the public directory (domain.md)
        member = model.members[mid]
        states = {c: model.cert_status(c).state for c in sorted(model.certs_of.get(mid, []))}
        certs = [model.certificates[c] for c in states]
        claims = sorted(model.claims_of.get(mid, []))
        facilities = [f for c in certs for f in c["scope"]["facilities"]]
        countries = sorted({member["country"], *(f["country"] for f in facilities)})
        status, held, until = _summary(model, mid, states)
        names = [member["name"], *(f["name"] for f in facilities)]
        words = [*names, *(fold(n) for n in names), mid, *(c["id"] for c in certs), *claims,
                 *(country(c) for c in countries)]
        yield SupplierDoc(
            url=f"members/{mid}/",
            content=" ".join(dict.fromkeys(words)),
            meta={"title": member["name"], "id": mid, "country": country(member["country"]),
                  "class": CLASS_NAMES[member["class"]], "standards": held, "status": status,
                  "valid_until": until, "certificates": " ".join(c["id"] for c in certs)},
            filters={
                "class": [CLASS_NAMES[member["class"]]],
                "country": [country(c) for c in countries],
                "standard": sorted({STANDARD_NAMES[c["standard"]] for c in certs}),
                "version": sorted({f"{STANDARD_NAMES[c['standard']]} {c['version']}" for c in certs}),
                "type": sorted({c["certification_type"].capitalize() for c in certs}),
                "status": sorted({STATE_LABELS[state] for state in states.values()})
                or [NO_CERTIFICATE],
                "activity": sorted({ACTIVITY_NAMES[a] for f in facilities for a in f["activities"]}
                                   | {ACTIVITY_NAMES[a] for a in member["activities"]}),
            },
            sort={"name": fold(member["name"]), "valid_until": until or "0000-00-00"},
        )


def _html(doc: SupplierDoc) -> str:
    """A supplier document as the small HTML page Pagefind indexes: meta, filters and
    sort keys as elements whose text is the value (so commas and colons are safe)."""
    e = html.escape
    parts = [f'<span data-pagefind-meta="{k}">{e(v)}</span>' for k, v in doc.meta.items() if k != "title"]
    parts += [f'<span data-pagefind-filter="{k}">{e(v)}</span>' for k, vs in doc.filters.items() for v in vs]
    parts += [f'<span data-pagefind-sort="{k}">{e(v)}</span>' for k, v in doc.sort.items()]
    return (f'<!doctype html><html lang="en"><body data-pagefind-body><h1 data-pagefind-meta="title">'
            f'{e(doc.meta["title"])}</h1><p>{e(doc.content)}</p>{"".join(parts)}</body></html>')


def write_pagefind(docs: list[SupplierDoc], out: Path) -> None:
    """The same documents as a Pagefind bundle, for bench/search_bench.py, which
    compares it with the index the site uses. Indexed with the Pagefind binary over
    generated pages: its Python API makes one round trip per record with a 0.1 s poll,
    over half an hour at 20,000 suppliers (docs/adr/0010-search.md)."""
    from pagefind_bin import get_executable

    with tempfile.TemporaryDirectory(prefix="alureg-search-") as tmp:
        pages = Path(tmp)
        for doc in docs:
            page = pages / doc.url / "index.html"
            page.parent.mkdir(parents=True, exist_ok=True)
            page.write_text(_html(doc), encoding="utf-8")
        done = subprocess.run(  # noqa: S603 (our own arguments, no shell)
            [str(get_executable()), "--site", str(pages), "--output-path", str(out.resolve()),
             "--force-language", "en", "--silent"],
            capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise AluregError(f"pagefind failed: {done.stderr.strip() or done.stdout.strip()}")


def write_search_index(model: SiteModel, out: Path, shared: str | None = None) -> int:
    """Write the supplier search index to out/search/index/; returns the supplier count.
    With ``shared`` (the page memo's shared key, alureg/pagememo.py), the live output's
    index is carried over if it was made from the same documents: a change that leaves
    every supplier's document as it was (a website, an audit report, a claim's product)
    does not make the index again (1.1 s of a rebuild at 100,000 certificates)."""
    from .searchindex import kept, write_index  # they build on this module's documents

    docs = list(documents(model))
    inputs = None
    if shared is not None:
        h = hashlib.sha256(f"{shared}\nsearch index\n".encode())
        h.update(orjson.dumps([[d.url, d.content, d.meta, d.filters, d.sort] for d in docs]))
        inputs = h.digest()
        if kept(out, "search/index", inputs):
            return len(docs)
    write_index(docs, out / "search" / "index", inputs)
    return len(docs)


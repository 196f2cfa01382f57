"""The supplier search index: compact, split so that a query loads only what it needs
(docs/adr/0010-search.md; read by site/assets/supplier-search.js).

Pagefind and MiniSearch were measured first on 100,000 certificates and missed the
budgets by far (bench/RESULTS.md); this index is shaped for exactly this data:

- ``search/index/meta.json``: facet labels, the first token of every text shard, sizes;
- ``search/index/docs.json``: one entry per supplier, in name order: all its facet
  values but country packed into one integer (a bit per value), its countries, its
  validity as a day number, and what a result row shows (name, id, headline status,
  standards held). Enough to filter, count, sort and show 20,000 suppliers in the
  browser in a few milliseconds, at about 140 KB compressed;
- ``search/index/t<N>.json``: the text index, sorted tokens cut into shards of about
  1,000, each with the suppliers it occurs in (delta-coded). A word loads the one or
  two shards its prefix falls in;
- ``search/index/r<N>.json``: full rows, 100 suppliers a file, loaded only for a CSV
  export of a result set.
"""

from __future__ import annotations

import datetime as dt
import operator
import re
from collections import defaultdict
from pathlib import Path
from typing import Any

import orjson

from .outputs import carry_same, emit, live_bytes
from .search import FACETS, SupplierDoc, fold

SHARD_TOKENS = 1000
ROWS_PER_FILE = 100
EPOCH = dt.date(2000, 1, 1)
PACKED = [f for f in FACETS if f != "country"]  # facets packed as bits into one integer
_TOKEN = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")


def tokens(doc: SupplierDoc) -> set[str]:
    """Folded words of the searchable text, ids kept whole (crt-000106)."""
    return set(_TOKEN.findall(fold(doc.content)))


def _write(path: Path, data: Any, inputs: bytes | None = None) -> int:
    """Compact JSON in UTF-8 (orjson: the bytes json.dumps gives with ``ensure_ascii=False``
    and no spaces; the 517 files at 100,000 certificates took 0.07 s of CPU to encode
    against 0.34-0.41); returns its size in bytes."""
    encoded = orjson.dumps(data)
    emit(path, encoded, inputs)
    return len(encoded)


def kept(out: Path, rel: str, inputs: bytes) -> bool:
    """Whether the live output's index, at ``rel`` in ``out``, was made from the same
    documents (``inputs``: their digest, which ``write_index`` gave every file) and each
    of its files is carried over. Its meta file says which files it has."""
    data = live_bytes(out / rel / "meta.json")
    if data is None:
        return False
    try:
        meta = orjson.loads(data)
        shards, rows = len(meta["shards"]), -(-int(meta["count"]) // int(meta["rows_per_file"]))
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, ZeroDivisionError):
        return False
    names = ["docs.json", *(f"t{k}.json" for k in range(shards)), *(f"r{k}.json" for k in range(rows)),
             "meta.json"]
    return None not in carry_same([f"{rel}/{name}" for name in names], [inputs] * len(names))


def _day(date: str) -> int:
    return (dt.date.fromisoformat(date) - EPOCH).days if date else 0


def write_index(docs: list[SupplierDoc], out: Path, inputs: bytes | None = None) -> dict[str, int]:
    """Write the index for ``docs`` to ``out`` (search/index/); returns sizes (bytes).
    ``inputs``: the digest of the documents, for ``kept`` next time."""
    out.mkdir(parents=True, exist_ok=True)
    docs = sorted(docs, key=lambda d: (d.sort["name"], d.meta["id"]))
    labels = {f: sorted({v for d in docs for v in d.filters[f]}) for f in FACETS}
    offsets: dict[str, int] = {}
    bit = 0
    for facet in PACKED:
        offsets[facet] = bit
        bit += len(labels[facet])
    if bit > 31:  # the browser tests bits with 32-bit operators
        raise ValueError(f"{bit} facet values do not fit one packed 31-bit number; split the packing")
    position = {f: {v: i for i, v in enumerate(labels[f])} for f in FACETS}
    bits = {f: {v: 1 << (offsets[f] + i) for v, i in position[f].items()} for f in PACKED}
    country_at = position["country"]

    packed, countries, days = [], [], []
    statuses = sorted({d.meta["status"] for d in docs})
    held = sorted({d.meta["standards"] for d in docs})
    postings: dict[str, list[int]] = defaultdict(list)
    for n, doc in enumerate(docs):
        value = 0
        for facet in PACKED:
            bit_of = bits[facet]
            for v in doc.filters[facet]:
                value |= bit_of[v]
        packed.append(value)
        countries.append([country_at[c] for c in doc.filters["country"]])
        days.append(_day(doc.meta["valid_until"]))
        for token in tokens(doc):
            postings[token].append(n)

    # What a result row shows travels with the filters, so a keystroke needs no row file.
    sizes = {"docs": _write(out / "docs.json", inputs=inputs, data={
        "bits": packed, "countries": countries, "days": days,
        "names": [d.meta["title"] for d in docs], "ids": [d.meta["id"] for d in docs],
        "home": [position["country"][d.meta["country"]] for d in docs],
        "status": [statuses.index(d.meta["status"]) for d in docs],
        "held": [held.index(d.meta["standards"]) for d in docs],
    })}
    ordered = sorted(postings)
    shards = [ordered[i:i + SHARD_TOKENS] for i in range(0, len(ordered), SHARD_TOKENS)]
    sizes["shards"] = 0
    for k, shard in enumerate(shards):
        # map() in C: a generator here took 3 s for the 20,000 suppliers' postings. Most
        # tokens (certificate and claim ids) have one supplier: their list is its delta.
        deltas = [ids if len(ids) == 1 else [ids[0], *map(operator.sub, ids[1:], ids[:-1])]
                  for ids in map(postings.__getitem__, shard)]
        sizes["shards"] += _write(out / f"t{k}.json", {"t": shard, "p": deltas}, inputs)
    sizes["rows"] = 0
    for k in range(0, len(docs), ROWS_PER_FILE):
        rows = [[d.meta["title"], d.meta["id"], d.meta["country"], d.meta["class"], d.meta["standards"],
                 d.meta["status"], d.meta["valid_until"], d.meta["certificates"], d.url]
                for d in docs[k:k + ROWS_PER_FILE]]
        sizes["rows"] += _write(out / f"r{k // ROWS_PER_FILE}.json", rows, inputs)
    sizes["meta"] = _write(out / "meta.json", inputs=inputs, data={
        "count": len(docs), "facets": labels, "packed": PACKED, "offsets": offsets,
        "statuses": statuses, "held": held,
        "shards": [s[0] for s in shards], "rows_per_file": ROWS_PER_FILE, "epoch": EPOCH.isoformat(),
        "header": ["name", "id", "country", "class", "standards", "status", "valid_until", "certificates",
                   "page"],
    })
    sizes["suppliers"] = len(docs)
    sizes["tokens"] = len(ordered)
    return sizes

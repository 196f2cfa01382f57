"""What a claim page loads besides the trust list: the signed snapshot, and one
bundle per claim (the claim, its holder, the certificates it rests on and their
successors, with the Merkle path of the claim's closure). Written as RFC 8785 bytes, so that a changed
byte anywhere shows (alureg/verify.py, step 1).

At 100,000 claims this stage canonicalised each record once per leaf, once per
closure and once per bundle it appears in (about a million RFC 8785 encodings): each
record is now encoded once for its digest and once for the bundle it appears in
(members once in all), and a bundle's bytes are put together from its records' bytes
(tests compare them with the encoding of the whole bundle)."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import orjson

from .outputs import carry_all, emit, keeps_nothing, live_bytes, reuse
from .pagereach import Page
from .signing import KeyPair, canonical
from .sitemodel import SiteModel
from .snapshot import ShardedTree, TreeCache, make_snapshot, record_digest

CLOSURE = "#closure"  # the Merkle leaf naming every record a claim's verdict rests on


def closure(bundle: dict[str, Any], digests: Mapping[str, bytes] | None = None) -> dict[str, Any]:
    """The ids and digests of every record in a claim's bundle (``digests``: each
    record's ``record_digest`` by id, when the caller has them)."""
    records = [bundle["claim"], bundle["holder"], *bundle["certificates"]]
    digest = (lambda r: digests[r["id"]]) if digests is not None else record_digest
    return {"claim": bundle["claim"]["id"],
            "records": sorted([r["id"], digest(r).hex()] for r in records)}


def claim_bundle(model: SiteModel, claim_id: str) -> dict[str, Any]:
    claim = model.claims[claim_id]
    cert_ids = list(claim["certificates"])
    for cid in claim["certificates"]:  # successors decide "superseded"
        cert_ids += [s["id"] for s in model.index.successors.get(cid, ()) if s["id"] not in cert_ids]
    return {"type": "claim-bundle", "claim": claim, "holder": model.members[claim["holder"]],
            "certificates": [model.certificates[c] for c in cert_ids], "paths": {}}


def _write(path: Path, data: Any) -> None:
    _write_bytes(path, canonical(data))


def _write_bytes(path: Path, data: bytes | bytearray) -> None:
    emit(path, data)


def _leaves_bytes(snapshot: Mapping[str, Any], digests: Mapping[str, bytes], at_once: int = 10_000) -> bytearray:
    """``canonical({"shards": ..., "sequence": ..., "leaves": [[id, hex digest], ...]})``
    (tested equal), the leaves encoded 10,000 at a time: the 320,000 pairs as lists
    were about 59 MiB (tracemalloc, their ids aside). RFC 8785 sorts the keys (leaves, sequence,
    shards) and adds no whitespace, so a list's encoding is its parts' joined by commas."""
    ids = sorted(digests)
    out = bytearray(b'{"leaves":[')
    for start in range(0, len(ids), at_once):
        if start:
            out += b","
        out += canonical([[rid, digests[rid].hex()] for rid in ids[start:start + at_once]])[1:-1]
    out += b'],"sequence":' + canonical(snapshot["sequence"]) + b',"shards":' + canonical(snapshot["shards"]) + b"}"
    return out


def bundle_bytes(bundle: dict[str, Any], encoded: Mapping[str, bytes]) -> bytes:
    """``canonical(bundle)``, from each record's canonical bytes by id: RFC 8785 sorts
    the keys (certificates, claim, holder, paths, type) and adds no whitespace."""
    certificates = b",".join(encoded[c["id"]] for c in bundle["certificates"])
    return (b'{"certificates":[' + certificates + b'],"claim":' + encoded[bundle["claim"]["id"]]
            + b',"holder":' + encoded[bundle["holder"]["id"]] + b',"paths":' + canonical(bundle["paths"])
            + b',"type":' + canonical(bundle["type"]) + b"}")


def _encoded(record: Mapping[str, Any], digest: bytes) -> bytes:
    """``canonical(record)``, given its ``record_digest``: orjson's sorted JSON when its
    SHA-256 is that digest (which canonical made), else canonical's bytes. canonical
    first walks the record to see whether the sorted JSON is RFC 8785 (about 4 µs);
    at 100,000 claims it walked records 590,000 times here, and the stage without its
    files took 5.9–6.3 s against 5.2–5.5 s with this (a scratch run, same bytes). A
    SHA-256 cannot pass for other bytes."""
    try:
        fast = orjson.dumps(record, option=orjson.OPT_SORT_KEYS)
    except (orjson.JSONEncodeError, TypeError):
        return canonical(record)
    return fast if hashlib.sha256(fast).digest() == digest else canonical(record)


def _kept_closures(path: Path) -> dict[str, bytes]:
    """The closure digests of the live output's list of leaves at ``path``'s place, by
    claim id (none if it is not as the live manifest says, or not such a list)."""
    data = live_bytes(path)
    try:
        leaves = orjson.loads(data)["leaves"] if data is not None else []
        return {leaf[:-len(CLOSURE)]: bytes.fromhex(digest) for leaf, digest in leaves if leaf.endswith(CLOSURE)}
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError):
        return {}


def _kept_roots(path: Path) -> list[str]:
    """The shards' roots of the live output's snapshot at ``path``'s place (none if it
    is not as the live manifest says, or not a snapshot)."""
    data = live_bytes(path)
    try:
        roots = orjson.loads(data)["shards"] if data is not None else []
    except (orjson.JSONDecodeError, KeyError, TypeError):
        return []
    return roots if isinstance(roots, list) and all(isinstance(r, str) for r in roots) else []


def _carried(tree: ShardedTree, roots: list[str], before: list[str]) -> set[str]:
    """The claims whose bundles are carried over from the live output: those in a shard
    whose root is the live snapshot's (``before``; the same number of shards). The root
    commits to the shard's leaves in order, so the closure's digest, its place and the
    shard's size, and with them the bundle's input digest, are the live one's (with the
    same shared key: the caller has ``reach``). A rebuild after one change rewrites the
    bundles of a few of the 256 shards; working out and looking up every bundle's input
    digest had 1.0 s of the stage's samples in ``reuse`` and 0.55 s in this loop
    (py-spy, 100,000 claims; docs/adr/0012-scale.md, eighteenth session)."""
    if len(before) != len(roots):
        return set()
    same = [k for k, (root, was) in enumerate(zip(roots, before, strict=True)) if root == was]
    # The claims in those shards, from their closure leaves, in id order.
    unchanged = sorted(leaf[:-len(CLOSURE)] for k in same for leaf in tree.members[k] if leaf.endswith(CLOSURE))
    sizes = carry_all([f"c/{cid}/claim.json" for cid in unchanged])
    return {cid for cid, size in zip(unchanged, sizes, strict=True) if size is not None}


def write_snapshot(model: SiteModel, records: dict[str, dict[str, Any]], out: Path, publisher: KeyPair,
                   now: dt.datetime, shared: str | None = None,
                   known: dict[str, bytes] | None = None, reach: set[Page] | None = None,
                   trees: Path | None = None) -> dict[str, Any]:
    """Sign the snapshot over every record and every claim's closure; write it, the
    trust list, the list of leaves and the claim bundles. Returns the snapshot.

    Memory: records' canonical bytes are not all held at once (220,000 of them were
    940 MB at this stage's peak); a bundle's records are encoded again when it is
    written, members (the holders of many claims) once.

    With ``shared`` (the page memo's shared key, alureg/pagememo.py), a bundle whose
    closure digest and Merkle path are those of the live one is kept without being
    put together: those two fix every byte of it (the path: by its shard's root and
    size and the leaf's place). ``known``: records' digests by id
    that the check worked out already (alureg/checkcache.py keeps them), completed
    here with the others and the claims' closures (not copied: 320,000 entries). ``reach``:
    the pages a change since the live output reaches (alureg/pagereach.py); a claim
    page's inputs are its closure's records, so the closure of a claim whose page it
    does not reach is the live output's, not worked out again. ``trees``: where the
    shards' Merkle trees are kept between builds (``snapshot.TreeCache``)."""
    api = out / "api" / "v1"
    digests = known if known is not None else {}
    for rid, r in records.items():
        if rid not in digests:
            digests[rid] = hashlib.sha256(canonical(r)).digest()  # = record_digest
    kept = _kept_closures(api / "snapshot-leaves.json") if reach is not None else {}
    roots_before = _kept_roots(api / "snapshot.json") if reach is not None else []
    for cid in sorted(model.claims):
        digest = kept.get(cid) if reach is not None and ("c", cid) not in reach else None
        digests[cid + CLOSURE] = digest or record_digest(closure(claim_bundle(model, cid), digests))
    cache = TreeCache(trees) if trees is not None else None
    snapshot, tree = make_snapshot(digests, model.trust, model.site_url, publisher, now, trees=cache)
    if cache is not None:
        cache.save()
    _write(api / "snapshot.json", snapshot)
    _write(api / "trust.json", model.trust)
    _write_bytes(api / "snapshot-leaves.json", _leaves_bytes(snapshot, digests))
    holders: dict[str, bytes] = {}
    roots = tree.roots
    claims = sorted(model.claims)
    carried = _carried(tree, roots, roots_before)
    if keeps_nothing():  # no earlier output: a bundle's input digest would find nothing to keep
        shared = None
    for cid in claims:
        if cid in carried:
            continue
        path = f"{out}/c/{cid}/claim.json"
        inputs = None
        shard, index = tree.position(cid + CLOSURE)  # once: a lookup, 1.2 µs (100,000 claims)
        if shared is not None:
            # The closure's Merkle path is fixed by its shard's root, the shard's size
            # and the leaf's place in it (the root commits to every leaf): the path
            # itself is worked out only for a bundle that is written (1.7 s for all).
            inputs = hashlib.sha256(f"{shared}\nbundle {cid}\n{digests[cid + CLOSURE].hex()}\n{roots[shard]} "
                                    f"{index} {tree.trees[shard].leaves}\n".encode()).digest()
            if reuse(path, inputs) is not None:
                continue
        bundle = claim_bundle(model, cid)
        holder = bundle["holder"]["id"]
        if holder not in holders:
            holders[holder] = _encoded(records[holder], digests[holder])
        encoded = {holder: holders[holder], cid: _encoded(records[cid], digests[cid]),
                   **{c["id"]: _encoded(records[c["id"]], digests[c["id"]]) for c in bundle["certificates"]}}
        # The closure's path alone proves every record of the bundle (alureg/verify.py,
        # step 5); records' own paths were half of each bundle's bytes. It leads to the
        # root of the closure's shard: a change elsewhere leaves the bundle as it was.
        bundle["paths"] = {cid + CLOSURE: tree.trees[shard].path(index)}
        emit(path, bundle_bytes(bundle, encoded), inputs)
    return snapshot

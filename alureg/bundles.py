"""What a claim page loads besides the trust list: the signed snapshot, and one
bundle per claim (the claim, its holder, the certificates it rests on and their
successors, with their Merkle paths). Written as RFC 8785 bytes, so that a changed
byte anywhere shows (alureg/verify.py, step 1)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from .signing import KeyPair, canonical
from .sitemodel import SiteModel
from .snapshot import make_snapshot, record_digest

CLOSURE = "#closure"  # the Merkle leaf naming every record a claim's verdict rests on


def closure(bundle: dict[str, Any]) -> dict[str, Any]:
    """The ids and digests of every record in a claim's bundle."""
    records = [bundle["claim"], bundle["holder"], *bundle["certificates"]]
    return {"claim": bundle["claim"]["id"],
            "records": sorted([r["id"], record_digest(r).hex()] for r in records)}


def claim_bundle(model: SiteModel, claim_id: str) -> dict[str, Any]:
    claim = model.claims[claim_id]
    cert_ids = list(claim["certificates"])
    for cid in claim["certificates"]:  # successors decide "superseded"
        cert_ids += [s["id"] for s in model.index.successors.get(cid, ()) if s["id"] not in cert_ids]
    return {"type": "claim-bundle", "claim": claim, "holder": model.members[claim["holder"]],
            "certificates": [model.certificates[c] for c in cert_ids], "paths": {}}


def _write(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(canonical(data))


def write_snapshot(model: SiteModel, records: dict[str, dict[str, Any]], out: Path, publisher: KeyPair,
                   now: dt.datetime) -> dict[str, Any]:
    """Sign the snapshot over every record and every claim's closure; write it, the
    trust list, the list of leaves and the claim bundles. Returns the snapshot."""
    bundles = {cid: claim_bundle(model, cid) for cid in sorted(model.claims)}
    leaves = dict(records)
    leaves.update({cid + CLOSURE: closure(b) for cid, b in bundles.items()})
    snapshot, tree, ids = make_snapshot(leaves, model.trust, model.site_url, publisher, now)
    position = {rid: i for i, rid in enumerate(ids)}
    api = out / "api" / "v1"
    _write(api / "snapshot.json", snapshot)
    _write(api / "trust.json", model.trust)
    _write(api / "snapshot-leaves.json", {"root": snapshot["root"], "sequence": snapshot["sequence"],
                                          "leaves": [[rid, record_digest(leaves[rid]).hex()] for rid in ids]})
    for cid, bundle in bundles.items():
        members = [bundle["claim"], bundle["holder"], *bundle["certificates"]]
        bundle["paths"] = {r["id"]: tree.path(position[r["id"]]) for r in members}
        bundle["paths"][cid + CLOSURE] = tree.path(position[cid + CLOSURE])
        _write(out / "c" / cid / "claim.json", bundle)
    return snapshot

"""Verifying a claim as a shopper's phone does: from the three published files a claim
page loads, with nothing trusted but the pinned root keys.

The claim page (site/assets/verify.js) and ``build.py verify`` follow the same
numbered steps and give the same verdict and the same first reason; a test runs one
table of cases through both. Verdicts: VALID, NOT-VALID (with every reason), or
CANNOT-VERIFY (with the reason), never VALID when anything fails to check.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .bundles import CLOSURE, closure
from .config import Config
from .records import Kind
from .signing import SigningError, canonical
from .snapshot import HEX, record_digest, root_from_path, shard_of
from .status import StatusIndex, claim_status, member_status
from .trust import TrustList, check_proof, verify_record

VALID, NOT_VALID, CANNOT = "VALID", "NOT-VALID", "CANNOT-VERIFY"
BUNDLE_KEYS = {"type", "claim", "holder", "certificates", "paths"}


@dataclass
class Verdict:
    word: str
    reasons: list[str] = field(default_factory=list)
    details: list[str] = field(default_factory=list)
    bundle: dict[str, Any] = field(default_factory=dict)

    def text(self) -> str:
        lines = [self.word] + [f"reason: {r}" for r in self.reasons] + self.details
        return "\n".join(lines) + "\n"


class _Fail(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _canonical_json(name: str, raw: bytes) -> Any:
    """Step 1: a published file must be exactly its RFC 8785 form, so that any changed
    byte, even white space, shows."""
    try:
        data = json.loads(raw.decode("utf-8"))
        if canonical(data) != raw:
            raise ValueError
    except (ValueError, UnicodeDecodeError, SigningError) as e:
        raise _Fail(f"file {name} has been altered: it is not in its published form") from e
    return data


def verify_files(trust_raw: bytes, snapshot_raw: bytes, bundle_raw: bytes, config: Config, now: dt.datetime,
                 *, min_sequence: int = 0, allow_stale: bool = False) -> Verdict:
    try:
        return _verify(trust_raw, snapshot_raw, bundle_raw, config, now, min_sequence, allow_stale)
    except _Fail as f:
        return Verdict(CANNOT, [f.reason])
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as e:
        return Verdict(CANNOT, ["the published files are malformed"], [f"detail: {type(e).__name__}: {e}"])


def _verify(trust_raw: bytes, snapshot_raw: bytes, bundle_raw: bytes, config: Config, now: dt.datetime,
            min_sequence: int, allow_stale: bool) -> Verdict:
    # 1. Every file is in its canonical published form.
    trust_data = _canonical_json("trust.json", trust_raw)
    snapshot = _canonical_json("snapshot.json", snapshot_raw)
    bundle = _canonical_json("claim.json", bundle_raw)
    if set(bundle) != BUNDLE_KEYS or bundle["type"] != "claim-bundle":
        raise _Fail("the claim's records are incomplete")

    # 2. The trust list is signed by the pinned root keys (their threshold).
    trust = TrustList.from_data(trust_data)
    if trust.problems or not verify_record(trust_data, Kind.TRUST_LIST, trust, config).ok:
        raise _Fail("the trust list is not signed by the scheme's root keys")

    # 3. The snapshot: signed by a publisher key, of this site and trust list, fresh,
    #    and not older than one already seen.
    proofs = snapshot.get("proof") or []
    body = {k: v for k, v in snapshot.items() if k != "proof"}
    checks = [check_proof(body, p, i, "status snapshot", trust, frozenset({"publisher"})) for i, p in enumerate(proofs)]
    if not checks or not all(c.ok for c in checks):
        raise _Fail("the status snapshot is not signed by a publisher key of the trust list")
    if snapshot["site"] != config.site_url:
        raise _Fail(f"the status snapshot belongs to another site ({snapshot['site']})")
    if snapshot["trust"] != record_digest(trust_data).hex():
        raise _Fail("the status snapshot does not match this trust list")
    if snapshot["sequence"] < min_sequence:
        raise _Fail(f"this status snapshot is older than one already seen "
                    f"(sequence {snapshot['sequence']} < {min_sequence})")
    stale = _stamp(now) > snapshot["expires"]
    if stale and not allow_stale:
        raise _Fail(f"the registry data is out of date: the status snapshot expired on {snapshot['expires']}")

    # 4. Every record of the bundle carries the proofs its kind requires.
    claim, holder, certs = bundle["claim"], bundle["holder"], bundle["certificates"]
    for kind, record in [(Kind.CLAIM, claim), (Kind.MEMBER, holder), *((Kind.CERTIFICATE, c) for c in certs)]:
        if record.get("type") != kind.value or not verify_record(record, kind, trust).ok:
            raise _Fail(f"{kind.value} {record.get('id')} is not signed as the registry requires")
    ids = {c["id"] for c in certs}
    if claim["holder"] != holder["id"] or not set(claim["certificates"]) <= ids:
        raise _Fail("the claim's records are incomplete")

    # 5. The claim's closure, the digest of every record its verdict rests on, is in the
    #    snapshot's Merkle tree of its shard: one path proves them all (a changed, older
    #    or missing record changes the closure), so records carry no paths of their own.
    leaf = claim["id"] + CLOSURE
    shards = snapshot["shards"]
    if not isinstance(shards, list) or not all(isinstance(r, str) and HEX.fullmatch(r) for r in shards):
        raise ValueError("malformed shard roots")
    root = bytes.fromhex(shards[shard_of(leaf, len(shards))])
    if set(bundle["paths"]) != {leaf}:
        raise _Fail("the claim's records are incomplete")
    if root_from_path(record_digest(closure(bundle)), bundle["paths"][leaf]) != root:
        raise _Fail(f"the records of claim {claim['id']} are not part of this status snapshot")

    # 6. Status at the viewer's day.
    day = now.astimezone(dt.UTC).date().isoformat()
    status = claim_status(claim, day, StatusIndex.build([holder], certs))
    details = _details(bundle, day, snapshot, stale)
    if status.state == "valid":
        return Verdict(VALID, [], details, bundle)
    return Verdict(NOT_VALID, list(status.reasons), details, bundle)


def _stamp(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _details(bundle: dict[str, Any], day: str, snapshot: dict[str, Any] | None, stale: bool) -> list[str]:
    claim, holder = bundle["claim"], bundle["holder"]
    index = StatusIndex.build([holder], bundle["certificates"])
    lines = [f"claim: {claim['id']} ({claim['kind']}): {claim['text']}",
             f"holder: {holder['name']} ({holder['id']}), membership {member_status(holder, day).state}"]
    if claim.get("product"):
        gtin = claim["product"].get("gtin")
        lines.append(f"product: {claim['product']['name']}" + (f" (GTIN {gtin})" if gtin else ""))
    for cid in claim["certificates"]:
        status = index.certificate(cid, day)
        lines.append(f"certificate: {cid} {status.state if status else 'missing'}")
    lines.append(f"valid: {claim['approved']} to {claim['valid_until']}")
    if snapshot is None:
        lines.append(f"status as of {day}; checked from sources (no snapshot)")
    else:
        lines.append(f"status as of {day}; snapshot {snapshot['sequence']} created {snapshot['created']}, "
                     f"expires {snapshot['expires']}" + (" (STALE)" if stale else ""))
    return lines


def verify_site(site: Path, claim_id: str, config: Config, now: dt.datetime, *, min_sequence: int = 0,
                allow_stale: bool = False) -> Verdict:
    """Verify a claim from a published site folder, reading the files its page loads."""
    files = [site / "api/v1/trust.json", site / "api/v1/snapshot.json", site / "c" / claim_id / "claim.json"]
    if not files[2].is_file():
        return Verdict(CANNOT, [f"there is no published claim {claim_id}"])
    missing = [f for f in files if not f.is_file()]
    if missing:
        return Verdict(CANNOT, [f"{missing[0]} is missing"])
    trust_raw, snapshot_raw, bundle_raw = (f.read_bytes() for f in files)
    return verify_files(trust_raw, snapshot_raw, bundle_raw, config, now, min_sequence=min_sequence,
                        allow_stale=allow_stale)


def verify_source(root: Path, claim_id: str, now: dt.datetime) -> Verdict:
    """Verify a claim from registry sources: the full check instead of a snapshot."""
    from .check import check  # the site verifier needs none of check's dependencies

    day = now.astimezone(dt.UTC).date().isoformat()
    result = check(root, day)
    if not result.ok():
        errors = sum(1 for f in result.findings if f.severity.value == "error")
        return Verdict(CANNOT, [f"the registry at {root} does not pass check ({errors} errors)"])
    records = {r.id: r for r in result.valid}
    claim = records.get(claim_id)
    if claim is None or claim.kind is not Kind.CLAIM:
        return Verdict(CANNOT, [f"there is no claim {claim_id}"])
    members = [r.data for r in result.valid if r.kind is Kind.MEMBER]
    certs = [r.data for r in result.valid if r.kind is Kind.CERTIFICATE]
    status = claim_status(claim.data, day, StatusIndex.build(members, certs))
    bundle = {"claim": claim.data, "holder": records[claim.data["holder"]].data,
              "certificates": [c for c in certs if c["id"] in claim.data["certificates"]
                               or c.get("supersedes") in claim.data["certificates"]]}
    details = _details(bundle, day, None, False)
    word = VALID if status.state == "valid" else NOT_VALID
    return Verdict(word, list(status.reasons), details, bundle)

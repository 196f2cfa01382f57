"""One table of claim-verification cases, run through both verifiers: the Python one
(tests/test_claims.py) and the claim page in Chromium (tests/test_claims_browser.py).
They must give the same verdict word and the same reasons on every row."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alureg.demo import load_demo_keys
from alureg.publish import build
from alureg.signing import KeyPair, canonical, sign_record, unsigned

from .conftest import REPO, Scratch

NOW = dt.datetime(2026, 11, 25, tzinfo=dt.UTC)  # the base site's snapshot: expires 2026-12-02T00:00:00Z
DAY = "2026-11-25"
SITE_URL = "https://registry.alusteward.example"


def build_base(out: Path) -> Path:
    build(REPO, out, DAY, now=NOW)
    return out


def build_other(scratch: Scratch, out: Path) -> Path:
    """Another build: one record changed, a day later."""
    scratch.change("registry/members/MEM-0201.yaml", lambda d: d.update(name=d["name"] + " Group"))
    build(scratch.root, out, "2026-11-26", now=NOW + dt.timedelta(days=1))
    return out


def _bundle(site: Path, claim: str) -> tuple[Path, dict[str, Any]]:
    path = site / "c" / claim / "claim.json"
    return path, json.loads(path.read_bytes())


def _rewrite(path: Path, data: Any) -> None:
    path.write_bytes(canonical(data))  # still canonical: only the signatures can tell


def _edit_claim_text(site: Path, other: Path) -> None:
    path, bundle = _bundle(site, "CLM-10001")
    bundle["claim"]["text"] = bundle["claim"]["text"].replace("contains", "is made of")
    _rewrite(path, bundle)


def _edit_certificate(site: Path, other: Path) -> None:
    path, bundle = _bundle(site, "CLM-10001")
    cert = next(c for c in bundle["certificates"] if c["id"] == "CRT-000104")
    cert["valid_until"] = "2030-02-09"
    _rewrite(path, bundle)


def _unknown_key(site: Path, other: Path) -> None:
    path, bundle = _bundle(site, "CLM-10001")
    stranger = KeyPair.generate("stranger", "secretariat")
    bundle["claim"] = sign_record(unsigned(bundle["claim"]), stranger, "2026-11-20T09:00:00Z")
    _rewrite(path, bundle)


def _revoked_key(site: Path, other: Path) -> None:
    path, bundle = _bundle(site, "CLM-10014")
    revoked = load_demo_keys()["auditor-aud-003-2019"]
    cert = next(c for c in bundle["certificates"] if c["id"] == "CRT-000126")
    # The audit firm's proof is replaced by one of its revoked key; the secretariat's stays.
    by_revoked = sign_record(unsigned(cert), revoked, "2024-06-01T09:00:00Z")["proof"][0]
    cert["proof"] = [by_revoked, cert["proof"][-1]]
    _rewrite(path, bundle)


def _holder_of_another_build(site: Path, other: Path) -> None:
    """The holder record of the other build (renamed, signed): a valid record, not this one."""
    path, bundle = _bundle(site, "CLM-10016")
    bundle["holder"] = _bundle(other, "CLM-10016")[1]["holder"]
    _rewrite(path, bundle)


def _a_path_per_record(site: Path, other: Path) -> None:
    """An extra path: the bundle is not in the published shape."""
    path, bundle = _bundle(site, "CLM-10001")
    bundle["paths"][bundle["holder"]["id"]] = bundle["paths"]["CLM-10001#closure"]
    _rewrite(path, bundle)


def _other_snapshot(site: Path, other: Path) -> None:
    shutil.copy(other / "api/v1/snapshot.json", site / "api/v1/snapshot.json")


@dataclass(frozen=True)
class Case:
    id: str
    claim: str
    day: str
    word: str
    reasons: list[str]
    change: Callable[[Path, Path], None] | None = None
    lower_sequence: bool = False


CASES = [
    Case("valid", "CLM-10001", DAY, "VALID", []),
    Case("certificate-suspended", "CLM-10004", DAY, "NOT-VALID", [
        "certificate CRT-000106 suspended on 2026-09-10: Suspended: mass-balance records for the 2025 accounting "
        "period could not be verified at the surveillance audit"]),
    Case("certificate-withdrawn", "CLM-10014", DAY, "NOT-VALID", [
        "certificate CRT-000127 withdrawn on 2026-07-01: Withdrawn: a major non-conformance in material "
        "accounting was not corrected within the time allowed"]),
    Case("certificate-expired", "CLM-10006", "2026-12-01", "NOT-VALID", [
        "claim CLM-10006 expired on 2026-12-01", "certificate CRT-000111 expired on 2026-12-01",
        "certificate CRT-000112 expired on 2026-12-01"]),
    Case("claim-withdrawn", "CLM-10018", DAY, "NOT-VALID", [
        "claim CLM-10018 withdrawn on 2025-11-20: Withdrawn: the claim was printed on products made outside "
        "the certified facility"]),
    Case("membership-lapsed", "CLM-10017", DAY, "NOT-VALID", [
        "holder MEM-0203 membership resigned on 2025-12-31: Resigned from membership at the member's request"]),
    Case("claim-file-tampered", "CLM-10001", DAY, "CANNOT-VERIFY", [
        "claim CLM-10001 is not signed as the registry requires"], _edit_claim_text),
    Case("certificate-file-tampered", "CLM-10001", DAY, "CANNOT-VERIFY", [
        "certificate CRT-000104 is not signed as the registry requires"], _edit_certificate),
    Case("unknown-key", "CLM-10001", DAY, "CANNOT-VERIFY", [
        "claim CLM-10001 is not signed as the registry requires"], _unknown_key),
    Case("revoked-key", "CLM-10014", DAY, "CANNOT-VERIFY", [
        "certificate CRT-000126 is not signed as the registry requires"], _revoked_key),
    Case("stale-snapshot", "CLM-10001", "2026-12-03", "CANNOT-VERIFY", [
        "the registry data is out of date: the status snapshot expired on 2026-12-02T00:00:00Z"]),
    Case("snapshot-of-another-build", "CLM-10001", DAY, "CANNOT-VERIFY", [
        "the records of claim CLM-10001 are not part of this status snapshot"], _other_snapshot),
    Case("holder-of-another-build", "CLM-10016", DAY, "CANNOT-VERIFY", [
        "the records of claim CLM-10016 are not part of this status snapshot"], _holder_of_another_build),
    Case("extra-path", "CLM-10001", DAY, "CANNOT-VERIFY", ["the claim's records are incomplete"], _a_path_per_record),
    Case("lower-sequence", "CLM-10001", DAY, "CANNOT-VERIFY", [
        f"this status snapshot is older than one already seen (sequence {int(NOW.timestamp())} < "
        f"{int(NOW.timestamp()) + 1})"], lower_sequence=True),
]


def prepare(case: Case, base: Path, other: Path, dest: Path) -> Path:
    """A copy of just what the claim page loads, changed as the case says."""
    for rel in ("assets", f"c/{case.claim}"):
        shutil.copytree(base / rel, dest / rel)
    (dest / "api/v1").mkdir(parents=True)
    for name in ("trust.json", "snapshot.json"):
        shutil.copy(base / "api/v1" / name, dest / "api/v1" / name)
    if case.change:
        case.change(dest, other)
    return dest


def moment(day: str) -> dt.datetime:
    return dt.datetime.fromisoformat(f"{day}T12:00:00+00:00")

"""Signing a whole registry with the demo keys in ``demo-keys/``.

For the fictional sample registry, synthetic registries and test fixtures only: the
demo keys are public, so nothing they sign may ever be trusted outside this repo.

Who signs what, as a real secretariat would: the root keys sign the trust list; the
secretariat key signs every record; a certificate is co-signed by a key of its audit
firm, dated on the day the certificate was issued (or the day that key started, if
later), so a retired auditor key's proofs show the "retired keys stay good" rule.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .errors import AluregError
from .loading import load_file
from .records import Kind, record_files
from .signing import KeyPair, sign_record, unsigned
from .yamlwrite import replace_proofs

DEMO_KEYS = Path(__file__).resolve().parent.parent / "demo-keys"
DEFAULT_CREATED = "2026-11-20T09:00:00Z"


def load_demo_keys(folder: Path = DEMO_KEYS) -> dict[str, KeyPair]:
    return {p.stem: KeyPair.from_file(p) for p in sorted(folder.glob("*.json"))}


def demo_publisher() -> KeyPair:
    """The DEMO publisher key, for local builds and tests (CI of a real deployment
    passes its own key: ``build --publisher-key`` or ALUREG_PUBLISHER_KEY)."""
    return KeyPair.from_file(DEMO_KEYS / "publisher-2026.json")


def _auditor_proof(trust: dict[str, Any], keys: dict[str, KeyPair], firm: str,
                   issued: str, latest: str) -> tuple[KeyPair, str]:
    """The firm's unrevoked key in force on the issue day (or the first one after), and
    the day it signs: the issue day, but never after ``latest`` (the secretariat's proof
    time): a certificate issued ahead is signed before it, never in the future."""
    entries = sorted(
        (e for e in trust["keys"] if e["role"] == "auditor" and e.get("audit_firm") == firm
         and "revoked" not in e and e["id"] in keys),
        key=lambda e: e["valid_from"],
    )
    for entry in entries:
        day = max(min(issued, latest[:10]), entry["valid_from"])
        if entry.get("valid_until") is None or day <= entry["valid_until"]:
            return keys[entry["id"]], f"{day}T09:00:00Z"
    raise AluregError(f"no usable demo key for audit firm {firm}")


def signed(kind: Kind, data: dict[str, Any], trust: dict[str, Any],
           keys: dict[str, KeyPair], created: str = DEFAULT_CREATED) -> dict[str, Any]:
    """``data`` with a fresh proof set by the demo keys that its kind needs."""
    record = unsigned(data)
    valid = {e["id"] for e in trust["keys"] if "revoked" not in e
             and e["valid_from"] <= created[:10] <= e.get("valid_until", "9999-12-31")}
    if kind is Kind.TRUST_LIST:
        roots = sorted(k for k in keys if keys[k].role == "root" and k in valid)
        for key_id in roots[:2]:
            record = sign_record(record, keys[key_id], created)
        return record
    if kind is Kind.CERTIFICATE:
        pair, when = _auditor_proof(trust, keys, data["audit"]["firm"], data["issued"], created)
        record = sign_record(record, pair, when)
    secretariat = sorted(k for k in keys if keys[k].role == "secretariat" and k in valid)
    if not secretariat:
        raise AluregError("no demo secretariat key is valid on " + created[:10])
    return sign_record(record, keys[secretariat[-1]], created)


def resign(root: Path, keys: dict[str, KeyPair] | None = None,
           created: str = DEFAULT_CREATED) -> int:
    """Re-sign every record file under ``root`` in place; returns how many."""
    keys = keys if keys is not None else load_demo_keys()
    trust_path = root / "registry" / "trust.yaml"
    trust = load_file(trust_path).data
    if trust is None:
        raise AluregError(f"{trust_path} cannot be loaded")
    count = 0
    for kind, path in record_files(root):
        loaded = load_file(path)
        if loaded.data is None:
            raise AluregError(f"{path}: cannot be loaded; run check")
        record = signed(kind, loaded.data, trust, keys, created)
        path.write_text(replace_proofs(path.read_text(encoding="utf-8"), record), encoding="utf-8")
        count += 1
    return count

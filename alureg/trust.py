"""The trust list and who may sign what (docs/adr/0004-trust.md).

Verification returns results (which proofs are good, who signed, who is missing);
``check`` turns them into findings. The steps for one proof, in order:

1. the proof is well formed and names a did:key;
2. the key is in the trust list;
3. the key is not revoked (a revoked key's proofs all fail, whenever made);
4. the proof was created inside the key's validity window (a retired key's earlier
   proofs stay good);
5. the key's role may sign this kind of record;
6. the signature verifies over the record without its proof set.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .config import Config
from .records import Kind
from .signing import (
    SigningError,
    document_hash,
    fingerprint,
    is_safe_public_key,
    key_of_verification_method,
    public_key_from_multibase,
    sorted_json_is_jcs,
    unsigned,
    verify_proof,
)

# Which roles may sign which record kinds (design.md, "Roles in the trust list").
MAY_SIGN: dict[Kind, frozenset[str]] = {
    Kind.TRUST_LIST: frozenset({"root"}),
    Kind.MEMBER: frozenset({"secretariat"}),
    Kind.AUDIT_FIRM: frozenset({"secretariat"}),
    Kind.CLAIM: frozenset({"secretariat"}),
    Kind.STANDARDS: frozenset({"secretariat"}),
    Kind.CERTIFICATE: frozenset({"secretariat", "auditor"}),
}


@dataclass(frozen=True)
class TrustedKey:
    key_id: str
    role: str
    public_key: str
    raw: bytes
    audit_firm: str | None
    valid_from: str
    valid_until: str | None
    revoked: str | None
    revoked_reason: str | None


@dataclass
class TrustList:
    """Keys by their public Multikey. Built from a schema-valid trust-list record."""

    keys: dict[str, TrustedKey] = field(default_factory=dict)
    problems: list[tuple[str, tuple[str | int, ...], str]] = field(default_factory=list)  # message, where, code

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> TrustList:
        trust = cls()
        seen_ids: set[str] = set()
        for i, entry in enumerate(data.get("keys", [])):
            key_id = entry["id"]
            if key_id in seen_ids:
                trust.problems.append((f"key id {key_id} is listed twice", ("keys", i, "id"), "SIG011"))
                continue
            seen_ids.add(key_id)
            try:
                raw = public_key_from_multibase(entry["public_key"])
            except SigningError as e:
                trust.problems.append((f"key {key_id}: {e}", ("keys", i, "public_key"), "SIG011"))
                continue
            if not is_safe_public_key(raw):
                message = (f"key {key_id} is not a safe Ed25519 public key (a point of small order, or not on "
                           "the curve): signatures by it prove nothing")
                trust.problems.append((message, ("keys", i, "public_key"), "SIG013"))
                continue
            if entry["public_key"] in trust.keys:
                trust.problems.append(
                    (f"key {key_id} repeats the public key of another entry", ("keys", i, "public_key"), "SIG011")
                )
                continue
            revoked = entry.get("revoked") or {}
            trust.keys[entry["public_key"]] = TrustedKey(
                key_id=key_id,
                role=entry["role"],
                public_key=entry["public_key"],
                raw=raw,
                audit_firm=entry.get("audit_firm"),
                valid_from=entry["valid_from"],
                valid_until=entry.get("valid_until"),
                revoked=revoked.get("date"),
                revoked_reason=revoked.get("reason"),
            )
        return trust


@dataclass(frozen=True)
class ProofCheck:
    """The outcome for one proof of a proof set. ``code`` is None when it is good."""

    index: int
    key: TrustedKey | None
    code: str | None = None
    message: str = ""

    @property
    def ok(self) -> bool:
        return self.code is None


@dataclass
class VerificationResult:
    checks: list[ProofCheck]
    missing: list[tuple[str, str]]  # (code, message) for each required signer not found

    @property
    def signers(self) -> list[TrustedKey]:
        return [c.key for c in self.checks if c.ok and c.key is not None]

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks) and not self.missing


def check_proof(
    document: Mapping[str, Any], proof: Any, index: int, kind: Kind | str, trust: TrustList,
    roles: frozenset[str] | None = None, digest: bytes | None = None, checked: bool = False,
) -> ProofCheck:
    """One proof, steps 1-6 above. ``roles`` overrides who may sign (the snapshot);
    ``checked``: as for ``signing.verify_proof``."""
    # 1. well formed
    if not isinstance(proof, Mapping):
        return ProofCheck(index, None, "SIG002", "proof must be a mapping")
    try:
        public = key_of_verification_method(str(proof.get("verificationMethod", "")))
    except SigningError as e:
        return ProofCheck(index, None, "SIG002", str(e))
    # 2. known key
    key = trust.keys.get(public)
    if key is None:
        return ProofCheck(index, None, "SIG004", f"proof by key {public[:16]}… which is not in the trust list")
    # 3. revocation
    if key.revoked is not None:
        return ProofCheck(
            index, key, "SIG005",
            f"proof by key {key.key_id}, revoked on {key.revoked}: {key.revoked_reason}",
        )
    # 4. validity window, by the proof's creation day
    created = str(proof.get("created", ""))
    day = created[:10]
    if day < key.valid_from or (key.valid_until is not None and day > key.valid_until):
        window = f"{key.valid_from} to {key.valid_until or 'open'}"
        return ProofCheck(
            index, key, "SIG006",
            f"proof created {created} by key {key.key_id}, valid {window}",
        )
    # 5. role
    allowed = roles if roles is not None else MAY_SIGN[Kind(kind)]
    if key.role not in allowed:
        what = kind.value if isinstance(kind, Kind) else kind
        return ProofCheck(index, key, "SIG007", f"key {key.key_id} has role {key.role}, which may not sign a {what}")
    # 6. signature
    try:
        good = verify_proof(document, proof, key.raw, digest, checked=checked)
    except SigningError as e:
        return ProofCheck(index, key, "SIG002", str(e))
    if not good:
        return ProofCheck(
            index, key, "SIG003",
            f"signature by key {key.key_id} does not verify: the record was changed after signing",
        )
    return ProofCheck(index, key)


def verify_record(
    data: Mapping[str, Any], kind: Kind, trust: TrustList, config: Config | None = None,
    checked: bool | None = None,
) -> VerificationResult:
    """Check every proof of a record and whether the required signers are all there.

    ``config`` is needed for the trust list itself (pinned root keys and threshold).
    ``checked``: ``signing.sorted_json_is_jcs(data)`` if the caller has it (None: it
    is worked out here, once for the document and every proof's options).
    """
    proofs = data.get("proof")
    if not proofs:
        return VerificationResult([], [("SIG001", "record has no proof; it must be signed")])
    if not isinstance(proofs, list):  # data from a mirror is not schema-checked first
        return VerificationResult([ProofCheck(0, None, "SIG002", "proof must be a list of proofs")], [])
    document = unsigned(data)
    if checked is None:
        checked = sorted_json_is_jcs(data)
    try:
        digest: bytes | None = document_hash(document, checked=checked)
    except SigningError:
        digest = None  # each proof reports it
    checks = [check_proof(document, p, i, kind, trust, digest=digest, checked=checked)
              for i, p in enumerate(proofs)]
    good = [c.key for c in checks if c.ok and c.key is not None]
    missing: list[tuple[str, str]] = []
    if kind is Kind.TRUST_LIST:
        assert config is not None, "the trust list is checked against the configuration"
        pinned = {k.key_id for k in good if fingerprint(k.public_key) in config.root_fingerprints}
        if len(pinned) < config.root_threshold:
            missing.append((
                "SIG010",
                f"trust list signed by {len(pinned)} of the {config.root_threshold} pinned root "
                "keys it needs",
            ))
        return VerificationResult(checks, missing)
    if not any(k.role == "secretariat" for k in good):
        missing.append(("SIG008", f"a {kind.value} needs a proof by a secretariat key"))
    if kind is Kind.CERTIFICATE:
        audit = data.get("audit")
        firm = audit.get("firm") if isinstance(audit, Mapping) else None
        auditors = [k for k in good if k.role == "auditor"]
        if not auditors:
            missing.append(("SIG008", f"a certificate needs a proof by a key of its audit firm {firm}"))
        elif not any(k.audit_firm == firm for k in auditors):
            names = ", ".join(f"{k.key_id} ({k.audit_firm})" for k in auditors)
            missing.append((
                "SIG009",
                f"auditor proof by {names}, but the certificate names audit firm {firm}",
            ))
    return VerificationResult(checks, missing)


def pinned_root_problems(trust: TrustList, config: Config) -> list[str]:
    """Root keys in the list whose fingerprints configuration does not pin."""
    return [
        f"root key {k.key_id} is not pinned in alureg.toml (fingerprint {fingerprint(k.public_key)})"
        for k in trust.keys.values()
        if k.role == "root" and fingerprint(k.public_key) not in config.root_fingerprints
    ]

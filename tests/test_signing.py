"""eddsa-jcs-2022 against the W3C test vector, and the trust rules for proofs."""

from __future__ import annotations

import copy
import json
import random
from pathlib import Path
from typing import Any

import pytest

from alureg.check import check
from alureg.config import load_config
from alureg.loading import load_file
from alureg.records import Kind
from alureg.signing import (
    KeyPair,
    SigningError,
    create_proof,
    fingerprint,
    public_key_from_multibase,
    sign_record,
    unsigned,
    verify_proof,
)
from alureg.trust import TrustList, verify_record

from .conftest import AT, REPO, Scratch

VECTORS = REPO.parent / "shared" / "vectors" / "eddsa-jcs-2022"
if not VECTORS.is_dir():  # the vector is also kept in the repo, for clones without shared/
    VECTORS = REPO / "tests" / "data" / "eddsa-jcs-2022"


def _vector() -> tuple[dict[str, str], dict[str, Any]]:
    keys = json.loads((VECTORS / "keyPair.json").read_text())
    signed = json.loads((VECTORS / "signedJCS.json").read_text())
    return keys, signed


def test_w3c_vector_reproduced_byte_for_byte() -> None:
    keys, signed = _vector()
    pair = KeyPair.from_secret_multibase(keys["privateKeyMultibase"])
    assert pair.public_multibase == keys["publicKeyMultibase"]
    options = {k: v for k, v in signed["proof"].items() if k not in ("proofValue", "@context")}
    proof = create_proof(unsigned(signed), pair.private, options)
    assert proof == signed["proof"]  # every field, proofValue included
    assert proof["proofValue"] == (
        "z63t83Y53KfzJ5ZosfKTnqfMcKB2dmTrfjSaQjeNNjAD5srBowQfmWqeRb8rRjmeEuCBEsddF9LsVogtuTsijJKh4"
    )


def test_w3c_vector_verifies_and_detects_tampering() -> None:
    keys, signed = _vector()
    public = public_key_from_multibase(keys["publicKeyMultibase"])
    assert verify_proof(unsigned(signed), signed["proof"], public)
    tampered = unsigned(signed)
    tampered["credentialSubject"] = {**tampered["credentialSubject"], "alumniOf": "Another School"}
    assert not verify_proof(tampered, signed["proof"], public)
    wrong_context = unsigned(signed) | {"@context": ["https://www.w3.org/ns/credentials/v2"]}
    assert not verify_proof(wrong_context, signed["proof"], public)


def test_vector_files_kept_in_repo_match_shared() -> None:
    shared = REPO.parent / "shared" / "vectors" / "eddsa-jcs-2022"
    kept = REPO / "tests" / "data" / "eddsa-jcs-2022"
    if not shared.is_dir():
        pytest.skip("shared/ is not beside this clone")
    for name in ("keyPair.json", "signedJCS.json"):
        assert json.loads((kept / name).read_text()) == json.loads((shared / name).read_text())


# --- trust rules on single records --------------------------------------------------

@pytest.fixture(scope="module")
def trust() -> TrustList:
    data = load_file(REPO / "registry" / "trust.yaml").data
    assert data is not None
    return TrustList.from_data(data)


def _record(rel: str) -> dict[str, Any]:
    data = load_file(REPO / rel).data
    assert data is not None
    return data


MEMBER = "registry/members/MEM-0001.yaml"
CERT = "certificates/CRT-000105.yaml"  # audit firm AUD-002


def _codes(data: dict[str, Any], kind: Kind, trust: TrustList) -> list[str]:
    result = verify_record(data, kind, trust)
    return [c.code for c in result.checks if c.code] + [code for code, _ in result.missing]


def _only(data: dict[str, Any], pair: KeyPair, created: str = "2026-11-20T09:00:00Z") -> dict[str, Any]:
    return sign_record(unsigned(data), pair, created)


def test_sample_record_verifies(trust: TrustList) -> None:
    assert _codes(_record(MEMBER), Kind.MEMBER, trust) == []
    assert _codes(_record(CERT), Kind.CERTIFICATE, trust) == []


def test_changed_field_fails(trust: TrustList) -> None:
    data = _record(MEMBER)
    data["name"] = data["name"] + "."
    assert _codes(data, Kind.MEMBER, trust) == ["SIG003", "SIG008"]


def test_a_record_beyond_the_fast_canonical_path_verifies(trust: TrustList, demo_keys: dict[str, KeyPair]) -> None:
    """Keys that sort one way in UTF-16 and another in code points: sorted JSON is not
    RFC 8785 there, so the one walk verify_record makes for the document and every
    proof's options must send them to the reference, and a signature over the RFC
    8785 bytes verifies."""
    from alureg.signing import sorted_json_is_jcs

    data = _record(MEMBER) | {"notes": {"\ud7ff": "a", "\U0001f600": "b", "\ufb33": "c"}}
    signed = _only(data, demo_keys["secretariat-2026"])
    assert not sorted_json_is_jcs(signed)
    assert verify_record(signed, Kind.MEMBER, trust).ok
    assert not verify_record(signed, Kind.MEMBER, trust, checked=True).ok  # orjson's bytes are not what was signed


def test_changed_proof_time_fails(trust: TrustList) -> None:
    data = _record(MEMBER)
    data["proof"][0]["created"] = "2026-11-20T09:00:01Z"
    assert _codes(data, Kind.MEMBER, trust) == ["SIG003", "SIG008"]


def test_wrong_key_fails(trust: TrustList, demo_keys: dict[str, KeyPair]) -> None:
    """Signed by one key but claiming to be another trusted key."""
    data = _only(_record(MEMBER), demo_keys["secretariat-2023"], "2026-06-01T00:00:00Z")
    data["proof"][0]["verificationMethod"] = sign_record(
        {}, demo_keys["secretariat-2026"], "2026-01-01T00:00:00Z")["proof"][0]["verificationMethod"]
    assert _codes(data, Kind.MEMBER, trust) == ["SIG003", "SIG008"]


def test_unknown_key_fails(trust: TrustList) -> None:
    stranger = KeyPair.generate("stranger", "secretariat")
    assert _codes(_only(_record(MEMBER), stranger), Kind.MEMBER, trust) == ["SIG004", "SIG008"]


def test_revoked_key_fails_even_for_earlier_proofs(trust: TrustList, demo_keys: dict[str, KeyPair]) -> None:
    data = _record(CERT.replace("105", "107"))  # an AUD-003 certificate
    revoked = demo_keys["auditor-aud-003-2019"]
    data = sign_record(data, revoked, "2019-09-01T09:00:00Z")  # long before the revocation
    result = verify_record(data, Kind.CERTIFICATE, trust)
    bad = [c for c in result.checks if c.code]
    assert [c.code for c in bad] == ["SIG005"]
    assert "revoked on 2024-11-01" in bad[0].message


def test_retired_key_proofs_inside_window_stay_good(trust: TrustList, demo_keys: dict[str, KeyPair]) -> None:
    retired = demo_keys["secretariat-2023"]  # valid 2023-01-01 to 2025-12-31
    assert _codes(_only(_record(MEMBER), retired, "2025-12-31T23:59:59Z"), Kind.MEMBER, trust) == []
    assert _codes(_only(_record(MEMBER), retired, "2026-01-01T00:00:00Z"), Kind.MEMBER, trust) == [
        "SIG006", "SIG008"]
    assert _codes(_only(_record(MEMBER), retired, "2022-12-31T00:00:00Z"), Kind.MEMBER, trust) == [
        "SIG006", "SIG008"]


def test_certificate_needs_both_cosignatures(trust: TrustList, demo_keys: dict[str, KeyPair]) -> None:
    secretariat_only = _only(_record(CERT), demo_keys["secretariat-2026"])
    assert _codes(secretariat_only, Kind.CERTIFICATE, trust) == ["SIG008"]
    auditor_only = _only(_record(CERT), demo_keys["auditor-aud-002"])
    assert _codes(auditor_only, Kind.CERTIFICATE, trust) == ["SIG008"]


def test_auditor_of_another_firm_fails(trust: TrustList, demo_keys: dict[str, KeyPair]) -> None:
    data = _only(_record(CERT), demo_keys["auditor-aud-001"])
    data = sign_record(data, demo_keys["secretariat-2026"], "2026-11-20T09:00:00Z")
    result = verify_record(data, Kind.CERTIFICATE, trust)
    assert [code for code, _ in result.missing] == ["SIG009"]
    assert "AUD-002" in result.missing[0][1]


def test_role_may_not_sign_kind(trust: TrustList, demo_keys: dict[str, KeyPair]) -> None:
    data = _only(_record(MEMBER), demo_keys["publisher-2026"])
    assert _codes(data, Kind.MEMBER, trust) == ["SIG007", "SIG008"]


def test_no_proof(trust: TrustList) -> None:
    assert _codes(unsigned(_record(MEMBER)), Kind.MEMBER, trust) == ["SIG001"]


def test_malformed_verification_method(trust: TrustList) -> None:
    data = _record(MEMBER)
    data["proof"][0]["verificationMethod"] = "https://example.org/keys/1"
    assert _codes(data, Kind.MEMBER, trust) == ["SIG002", "SIG008"]


def test_sign_replaces_own_proof_and_keeps_others(demo_keys: dict[str, KeyPair]) -> None:
    data = _record(CERT)
    again = sign_record(data, demo_keys["secretariat-2026"], "2026-11-21T00:00:00Z")
    assert len(again["proof"]) == 2
    assert again["proof"][0] == data["proof"][0]  # the auditor's proof is untouched
    assert again["proof"][1]["created"] == "2026-11-21T00:00:00Z"


# --- the trust list itself ------------------------------------------------------------

def _trust_codes(root: Path) -> list[str]:
    return sorted(f.code for f in check(root, AT).findings if f.path == "registry/trust.yaml")


def test_trust_list_signed_by_threshold(scratch: Scratch) -> None:
    assert _trust_codes(scratch.root) == []


def test_trust_list_below_root_threshold(scratch: Scratch, demo_keys: dict[str, KeyPair]) -> None:
    data = scratch.read("registry/trust.yaml")
    data["sequence"] += 1
    scratch.write("registry/trust.yaml", _only(data, demo_keys["root-1"]))
    assert _trust_codes(scratch.root) == ["SIG010"]


def test_trust_list_change_without_resigning(scratch: Scratch) -> None:
    """An attacker adds their own secretariat key to the list: the roots' proofs break."""
    stranger = KeyPair.generate("extra", "secretariat")
    scratch.change("registry/trust.yaml", lambda d: d["keys"].append({
        "id": "extra", "role": "secretariat", "holder": "Someone", "public_key": stranger.public_multibase,
        "valid_from": "2026-01-01"}), resign=False)
    assert _trust_codes(scratch.root) == ["SIG003", "SIG003", "SIG010"]


def test_unpinned_root_key_does_not_count(scratch: Scratch, demo_keys: dict[str, KeyPair]) -> None:
    """A new 'root' key in the list, signing it, is worth nothing unless configuration pins it."""
    rogue = KeyPair.generate("root-rogue", "root")
    data = scratch.read("registry/trust.yaml")
    data["keys"].append({"id": "root-rogue", "role": "root", "holder": "Rogue",
                         "public_key": rogue.public_multibase, "valid_from": "2020-01-01"})
    data = _only(data, demo_keys["root-1"])
    data = sign_record(data, rogue, "2026-11-20T09:00:00Z")
    scratch.write("registry/trust.yaml", data)
    assert _trust_codes(scratch.root) == ["SIG010", "SIG011"]


def test_config_pins_are_the_demo_roots(demo_keys: dict[str, KeyPair]) -> None:
    config = load_config(REPO)
    pinned = {fingerprint(demo_keys[k].public_multibase) for k in ("root-1", "root-2", "root-3")}
    assert config.root_fingerprints == pinned
    assert config.root_threshold == 2


def test_key_file_round_trip(tmp_path: Path) -> None:
    pair = KeyPair.generate("k1", "auditor", "AUD-001")
    path = tmp_path / "k1.json"
    path.write_text(pair.to_file_json(demo=True))
    again = KeyPair.from_file(path)
    assert again.public_multibase == pair.public_multibase
    assert (again.key_id, again.role, again.audit_firm) == ("k1", "auditor", "AUD-001")
    assert "DEMO KEY" in path.read_text()


def test_demo_keys_are_labelled() -> None:
    for path in sorted((REPO / "demo-keys").glob("*.json")):
        assert json.loads(path.read_text())["warning"].startswith("DEMO KEY"), path
    assert "DEMO" in (REPO / "demo-keys" / "README.md").read_text()


def test_deep_copy_sign_is_deterministic(demo_keys: dict[str, KeyPair]) -> None:
    data = _record(MEMBER)
    a = sign_record(copy.deepcopy(data), demo_keys["secretariat-2026"], "2026-11-20T09:00:00Z")
    b = sign_record(copy.deepcopy(data), demo_keys["secretariat-2026"], "2026-11-20T09:00:00Z")
    assert a == b == data  # Ed25519 is deterministic: re-signing reproduces the sample exactly


def _random_json(rng: random.Random, depth: int = 0) -> Any:
    alphabet = ["a", "Z", "0", " ", "\"", "\\", "/", "\x00", "\x1f", "\x7f", "é", "\u2028", "\ufeff", "😀", "中"]
    pick = rng.random()
    if depth > 3 or pick < 0.35:
        return rng.choice([
            rng.randint(-2**53 + 1, 2**53 - 1), rng.randint(-1000, 1000), True, False, None,
            "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 12)))])
    if pick < 0.65:
        return [_random_json(rng, depth + 1) for _ in range(rng.randint(0, 4))]
    keys = ["".join(rng.choice(alphabet[:7] if rng.random() < 0.8 else alphabet) for _ in range(rng.randint(1, 6)))
            for _ in range(rng.randint(0, 5))]
    return {k: _random_json(rng, depth + 1) for k in keys}


def test_fast_canonical_json_is_rfc8785() -> None:
    """canonical() takes a fast path (orjson, sorted keys) where it gives the same bytes
    as the rfc8785 reference: on every sample record and 3,000 random documents."""
    import rfc8785

    from alureg.records import record_files
    from alureg.signing import canonical, unsigned

    values: list[Any] = []
    for _, path in record_files(REPO):
        data = load_file(path).data
        assert data is not None
        values += [unsigned(data), *data.get("proof", [])]
    rng = random.Random(8785)  # noqa: S311 (test data, not secrets)
    values += [_random_json(rng) for _ in range(3000)]
    values += [{"a": 1.5}, {"b": 1e21}, {"\ud7ff": 1, "\U0001f600": 2, "\ufb33": 3}, [2**53 - 1, -(2**53 - 1)]]
    for value in values:
        assert canonical(value) == rfc8785.dumps(value), value
    for bad in ({"a": 2**53}, {"a": float("nan")}):
        with pytest.raises(SigningError):
            canonical(bad)


def test_libsodium_verification_agrees_with_openssl_on_honest_and_tampered_signatures() -> None:
    """Proofs are verified by libsodium (alureg/signing.py, twice OpenSSL's speed): on
    honest signatures and on random one-bit changes of signature, message or key, it
    gives OpenSSL's verdict; on S >= L (malleable) and a small-order key it refuses."""
    import random

    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

    from alureg.signing import _ed25519_verify

    def openssl(sig: bytes, msg: bytes, pub: bytes) -> bool:
        try:
            Ed25519PublicKey.from_public_bytes(pub).verify(sig, msg)
        except (InvalidSignature, ValueError):
            return False
        return True

    rng = random.Random(8785)  # noqa: S311 (test data)
    verdicts = []
    for _ in range(40):
        key = Ed25519PrivateKey.from_private_bytes(rng.randbytes(32))
        pub = key.public_key().public_bytes_raw()
        msg = rng.randbytes(64)
        sig = key.sign(msg)
        cases = [(sig, msg, pub)]
        for _ in range(6):
            which, bit = rng.randrange(3), rng.randrange(256)
            parts = [bytearray(sig), bytearray(msg), bytearray(pub)]
            parts[which][bit // 8 % len(parts[which])] ^= 1 << (bit % 8)
            cases.append((bytes(parts[0]), bytes(parts[1]), bytes(parts[2])))
        for case in cases:
            verdicts.append(_ed25519_verify(*case))
            assert verdicts[-1] == openssl(*case), case
    assert verdicts.count(True) == 40
    order = 2**252 + 27742317777372353535851937790883648493
    key = Ed25519PrivateKey.from_private_bytes(bytes(32))
    pub, msg = key.public_key().public_bytes_raw(), b"m" * 64
    sig = key.sign(msg)
    malleable = sig[:32] + (int.from_bytes(sig[32:], "little") + order).to_bytes(32, "little")
    assert _ed25519_verify(sig, msg, pub) and not _ed25519_verify(malleable, msg, pub)
    small_order = bytes([1] + [0] * 31)  # the identity point
    assert not _ed25519_verify(bytes(64), msg, small_order)

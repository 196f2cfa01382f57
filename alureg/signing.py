"""W3C Data Integrity proofs with the eddsa-jcs-2022 cryptosuite.

Implements https://www.w3.org/TR/vc-di-eddsa/#eddsa-jcs-2022 (create and verify
proof), reproduced byte for byte against the W3C test vector in tests/test_signing.py.
The signature covers SHA-256(JCS(proof options)) ‖ SHA-256(JCS(document without
``proof``)); the YAML text is never signed, only the parsed data (docs/adr/0003).

Keys are Multikeys: multibase base58btc of 0xed01 + the 32-byte Ed25519 public key,
and 0x8026 + the 32-byte seed for a secret key. A proof names its key with a
``did:key`` verification method, so any conforming verifier can check the maths with
no private format; whether the key is *trusted* is the trust list's business.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import based58
import orjson
import rfc8785
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
)
from nacl.bindings import crypto_core_ed25519_is_valid_point, crypto_sign_open
from nacl.exceptions import BadSignatureError

from .errors import AluregError

CRYPTOSUITE = "eddsa-jcs-2022"
PROOF_TYPE = "DataIntegrityProof"
PROOF_PURPOSE = "assertionMethod"
_ED25519_PUB = b"\xed\x01"
_ED25519_PRIV = b"\x80\x26"
_DID_KEY = re.compile(r"^did:key:(z[1-9A-HJ-NP-Za-km-z]+)#(z[1-9A-HJ-NP-Za-km-z]+)$")
_CREATED = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")

DEMO_WARNING = (
    "DEMO KEY: signs the fictional sample registry only. It is public in git; "
    "never use it for real records."
)


class SigningError(AluregError):
    """A key or proof that cannot be used at all (bad encoding, bad key file)."""


def b58decode(text: str) -> bytes:
    """base58btc (Bitcoin's alphabet) to bytes; ValueError for any other character.
    based58 (Rust): 1.5 µs a proof value against 13 µs for the pure-Python ``base58``,
    for the one to three proofs of each of 220,000 records (docs/adr/0012-scale.md)."""
    return based58.b58decode(text.encode("utf-8"))


def b58encode(raw: bytes) -> str:
    return based58.b58encode(raw).decode("ascii")


def _multibase_decode(value: str, prefix: bytes) -> bytes:
    if not value.startswith("z"):
        raise SigningError(f"{value[:12]!r} is not multibase base58btc (must start with 'z')")
    try:
        raw = b58decode(value[1:])
    except ValueError as e:
        raise SigningError(f"{value[:12]!r} is not valid base58") from e
    if raw[:2] != prefix or len(raw) != 34:
        raise SigningError(f"{value[:12]!r} is not an Ed25519 multikey")
    return raw[2:]


def public_key_from_multibase(value: str) -> bytes:
    """The 32 raw bytes of an Ed25519 public key written as a Multikey."""
    return _multibase_decode(value, _ED25519_PUB)


def public_key_to_multibase(raw: bytes) -> str:
    return "z" + b58encode(_ED25519_PUB + raw)


def secret_key_to_multibase(seed: bytes) -> str:
    return "z" + b58encode(_ED25519_PRIV + seed)


def fingerprint(public_multibase: str) -> str:
    """What configuration pins for a root key: SHA-256 of the raw public key."""
    return "sha256:" + hashlib.sha256(public_key_from_multibase(public_multibase)).hexdigest()


def verification_method(public_multibase: str) -> str:
    return f"did:key:{public_multibase}#{public_multibase}"


@lru_cache(maxsize=1024)
def key_of_verification_method(vm: str) -> str:
    """The public Multikey a did:key verification method names."""
    m = _DID_KEY.match(vm)
    if not m or m.group(1) != m.group(2):
        raise SigningError(f"verificationMethod {vm[:40]!r} is not a did:key of an Ed25519 key")
    public_key_from_multibase(m.group(1))
    return m.group(1)


_SAFE_INT = 2**53 - 1
_LEAVES = (str, bool, type(None))


def sorted_json_is_jcs(value: Any) -> bool:
    """Whether compact JSON with sorted keys is byte for byte RFC 8785 for ``value``:
    JCS differs from it only for floats (ES6 number form), keys that sort differently
    in UTF-16 than in code points (non-ASCII), and integers beyond 2^53. A walk over
    every value (about 4 µs for a synthetic record), so a caller that encodes parts of
    one record walks it once and says so (``checked``)."""
    stack = [value]
    while stack:
        item = stack.pop()
        kind = type(item)
        if kind is dict:
            for key, sub in item.items():
                if type(key) is not str or not key.isascii():
                    return False
                stack.append(sub)
        elif kind is list:
            stack.extend(item)
        elif kind is int:
            if not -_SAFE_INT <= item <= _SAFE_INT:
                return False
        elif kind not in _LEAVES:
            return False
    return True


def canonical(value: Any, *, checked: bool = False) -> bytes:
    """RFC 8785 canonical JSON bytes.

    Records are strings, integers and booleans under ASCII keys, for which orjson's
    sorted compact output is the same bytes (tests/test_signing.py compares them);
    anything else goes to the rfc8785 reference implementation. ``checked``: the
    caller found ``sorted_json_is_jcs`` true of ``value`` or of a value it is part of."""
    if checked or sorted_json_is_jcs(value):
        try:
            return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
        except orjson.JSONEncodeError:  # a lone surrogate: let the reference say why
            pass
    try:
        return rfc8785.dumps(value)
    except rfc8785.CanonicalizationError as e:
        raise SigningError(f"cannot canonicalise record: {e}") from e


def unsigned(record: Mapping[str, Any]) -> dict[str, Any]:
    """The document a proof covers: the record without its ``proof``."""
    return {k: v for k, v in record.items() if k != "proof"}


def document_hash(document: Mapping[str, Any], *, checked: bool = False) -> bytes:
    """transformedDocumentHash: the same for every proof of a proof set."""
    return hashlib.sha256(canonical(document, checked=checked)).digest()


def hash_data(document: Mapping[str, Any], proof_config: Mapping[str, Any],
              digest: bytes | None = None, *, checked: bool = False) -> bytes:
    # vc-di-eddsa 3.3.4: proofConfigHash ‖ transformedDocumentHash.
    return hashlib.sha256(canonical(proof_config, checked=checked)).digest() + \
        (digest or document_hash(document, checked=checked))


@dataclass(frozen=True)
class KeyPair:
    """A signing key and what the trust list says of it."""

    key_id: str
    role: str
    private: Ed25519PrivateKey
    audit_firm: str | None = None

    @property
    def public_multibase(self) -> str:
        raw = self.private.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        return public_key_to_multibase(raw)

    @classmethod
    def generate(cls, key_id: str, role: str, audit_firm: str | None = None) -> KeyPair:
        return cls(key_id, role, Ed25519PrivateKey.generate(), audit_firm)

    @classmethod
    def from_secret_multibase(
        cls, secret: str, key_id: str = "", role: str = "", audit_firm: str | None = None
    ) -> KeyPair:
        seed = _multibase_decode(secret, _ED25519_PRIV)
        return cls(key_id, role, Ed25519PrivateKey.from_private_bytes(seed), audit_firm)

    def secret_multibase(self) -> str:
        seed = self.private.private_bytes(
            serialization.Encoding.Raw,
            serialization.PrivateFormat.Raw,
            serialization.NoEncryption(),
        )
        return secret_key_to_multibase(seed)

    def to_file_json(self, *, demo: bool) -> str:
        body: dict[str, Any] = {}
        if demo:
            body["warning"] = DEMO_WARNING
        body |= {
            "id": self.key_id,
            "role": self.role,
            "audit_firm": self.audit_firm,
            "publicKeyMultibase": self.public_multibase,
            "secretKeyMultibase": self.secret_multibase(),
        }
        return json.dumps(body, indent=2) + "\n"

    @classmethod
    def from_json(cls, text: str, source: str = "key") -> KeyPair:
        """A key file's content (as kept in a CI secret)."""
        try:
            body = json.loads(text)
            pair = cls.from_secret_multibase(
                body["secretKeyMultibase"], body["id"], body["role"], body.get("audit_firm")
            )
        except (ValueError, KeyError, TypeError, AttributeError) as e:
            raise SigningError(f"{source}: not a usable key file ({e})") from e
        if pair.public_multibase != body.get("publicKeyMultibase"):
            raise SigningError(f"{source}: public key does not match the secret key")
        return pair

    @classmethod
    def from_file(cls, path: Path) -> KeyPair:
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            raise SigningError(f"{path}: not a usable key file ({e})") from e
        return cls.from_json(text, str(path))


def proof_options(
    public_multibase: str, created: str, context: Any = None
) -> dict[str, Any]:
    if not _CREATED.match(created):
        raise SigningError(f"created {created!r} must look like 2026-01-31T12:00:00Z")
    options: dict[str, Any] = {
        "type": PROOF_TYPE,
        "cryptosuite": CRYPTOSUITE,
        "created": created,
        "verificationMethod": verification_method(public_multibase),
        "proofPurpose": PROOF_PURPOSE,
    }
    if context is not None:
        options["@context"] = context
    return options


def create_proof(
    document: Mapping[str, Any], private: Ed25519PrivateKey, options: Mapping[str, Any]
) -> dict[str, Any]:
    """vc-di-eddsa 3.3.1 Create Proof: options plus a proofValue."""
    config = dict(options)
    if "@context" in document:  # 3.3.5: the proof carries the document's context
        config["@context"] = document["@context"]
    signature = private.sign(hash_data(document, config))
    return config | {"proofValue": "z" + b58encode(signature)}


@lru_cache(maxsize=256)
def is_safe_public_key(raw: bytes) -> bool:
    """Whether ``raw`` encodes a point of the main subgroup: canonical, on the curve and
    not of small order (libsodium's check). A small-order key makes a signature with
    S = 0 verify for any message in lax verifiers, and proves nothing in any."""
    return len(raw) == 32 and bool(crypto_core_ed25519_is_valid_point(raw))


def _ed25519_verify(signature: bytes, message: bytes, public: bytes) -> bool:
    """Ed25519 verification by libsodium: 43 µs a signature here against OpenSSL's
    86 µs, for the two or three proofs of each record. It accepts a subset of what OpenSSL
    accepts: it also refuses small-order R and public keys and non-canonical
    encodings, which no honest signer makes (tests: the W3C vector, tests/test_signing.py)."""
    if len(signature) != 64 or len(public) != 32:
        return False
    try:
        crypto_sign_open(signature + message, public)
    except (BadSignatureError, ValueError, TypeError):
        return False
    return True


def verify_proof(document: Mapping[str, Any], proof: Mapping[str, Any], public: bytes,
                 digest: bytes | None = None, *, checked: bool = False) -> bool:
    """vc-di-eddsa 3.3.2 Verify Proof for one proof over ``document`` (no ``proof`` key).
    ``digest`` is ``document_hash(document)`` when the caller has it already;
    ``checked``: ``sorted_json_is_jcs`` holds for the record the document and the
    proof are parts of (see ``canonical``).

    Returns False for any mismatch; raises SigningError only for a proof that is not
    even well-formed (so the caller can report the two differently).
    """
    options = {k: v for k, v in proof.items() if k != "proofValue"}
    if options.get("type") != PROOF_TYPE or options.get("cryptosuite") != CRYPTOSUITE:
        raise SigningError(f"proof must be a {PROOF_TYPE} with cryptosuite {CRYPTOSUITE}")
    if options.get("proofPurpose") != PROOF_PURPOSE:
        raise SigningError(f"proof purpose must be {PROOF_PURPOSE}")
    value = proof.get("proofValue")
    if not isinstance(value, str) or not value.startswith("z"):
        raise SigningError("proofValue must be multibase base58btc")
    try:
        signature = b58decode(value[1:])
    except ValueError as e:
        raise SigningError("proofValue is not valid base58") from e
    if "@context" in options:
        context = document.get("@context")
        wanted = options["@context"]
        wanted_list = wanted if isinstance(wanted, list) else [wanted]
        have = context if isinstance(context, list) else [context]
        if have[: len(wanted_list)] != wanted_list:
            return False
        document = dict(document) | {"@context": wanted}
        digest = None  # the document was changed: hash it again
    return _ed25519_verify(signature, hash_data(document, options, digest, checked=checked), public)


def sign_record(record: Mapping[str, Any], pair: KeyPair, created: str) -> dict[str, Any]:
    """Add ``pair``'s proof to the record's proof set, replacing an earlier one by it."""
    document = unsigned(record)
    proof = create_proof(document, pair.private, proof_options(pair.public_multibase, created))
    mine = proof["verificationMethod"]
    others = [p for p in record.get("proof") or []
              if not (isinstance(p, Mapping) and p.get("verificationMethod") == mine)]
    return document | {"proof": [*others, proof]}

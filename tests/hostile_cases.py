"""The hostile corpus (issue 8): records crafted to break the loader, forge trust or
imitate a member, each with the finding `check` must report.

Each case changes a fresh copy of the sample registry (tests/conftest.py Scratch) and
names the file the finding must point at and its code. Cases that need a signature
are signed with the DEMO keys, so that only the attack under test can object.
tests/test_hostile.py runs them all through `check` and `build`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from alureg.signing import KeyPair, b58decode, b58encode, public_key_to_multibase, sign_record, unsigned

from .conftest import Scratch

MEMBER = "registry/members/MEM-0003.yaml"
CERT = "certificates/CRT-000101.yaml"  # audited by AUD-001
CLAIM = "registry/claims/CLM-10001.yaml"
TRUST = "registry/trust.yaml"
ED25519_ORDER = 2**252 + 27742317777372353535851937790883648493  # L, the order of the base point


@dataclass(frozen=True)
class Case:
    name: str
    code: str  # the finding that must be reported
    file: str  # the file it must point at
    attack: Callable[[Scratch], None]
    warning: bool = False  # a warning: `check --strict` must fail


def _member_text(scratch: Scratch) -> str:
    return (scratch.root / MEMBER).read_text(encoding="utf-8")


def _raw(rel: str, content: str | bytes | Callable[[Scratch], str | bytes]) -> Callable[[Scratch], None]:
    def attack(scratch: Scratch) -> None:
        value = content(scratch) if callable(content) else content
        path = scratch.root / rel
        if isinstance(value, str):
            path.write_text(value, encoding="utf-8")
        else:
            path.write_bytes(value)
    return attack


def _edit(rel: str, edit: Callable[[dict[str, Any]], None], *, resign: bool = True) -> Callable[[Scratch], None]:
    return lambda scratch: scratch.change(rel, edit, resign=resign)


def _signed_by(rel: str, *key_ids: str, created: str = "2026-11-20T09:00:00Z",
               edit: Callable[[dict[str, Any]], None] | None = None,
               extra: KeyPair | None = None) -> Callable[[Scratch], None]:
    """The record (edited), with proofs by exactly these demo keys (and ``extra``)."""
    def attack(scratch: Scratch) -> None:
        data = unsigned(scratch.read(rel))
        if edit:
            edit(data)
        pairs = [scratch.keys[k] for k in key_ids] + ([extra] if extra else [])
        for pair in pairs:
            data = sign_record(data, pair, created)
        scratch.write(rel, data)
    return attack


def _proof_edit(rel: str, edit: Callable[[dict[str, Any]], None]) -> Callable[[Scratch], None]:
    """Change the first proof of a signed record by hand (no re-signing)."""
    def attack(scratch: Scratch) -> None:
        data = scratch.read(rel)
        edit(data["proof"][0])
        scratch.write(rel, data)
    return attack


def _malleable(proof: dict[str, Any]) -> None:
    """S + L: the same point equation holds, a lax verifier would accept it."""
    raw = b58decode(proof["proofValue"][1:])
    s = int.from_bytes(raw[32:], "little") + ED25519_ORDER
    proof["proofValue"] = "z" + b58encode(raw[:32] + s.to_bytes(32, "little"))


def _copied_proofs(scratch: Scratch) -> None:
    """MEM-0003 carries MEM-0001's proof set, byte for byte."""
    data = scratch.read(MEMBER)
    data["proof"] = scratch.read("registry/members/MEM-0001.yaml")["proof"]
    scratch.write(MEMBER, data)


# The encodings of points of small order (the identity, order 2, 4 and 8 points).
# A trust-list entry with one of them would make a forged signature verify on a lax
# verifier: S = 0 and R = the point satisfy the equation for any message.
SMALL_ORDER_POINT = bytes.fromhex("0100000000000000000000000000000000000000000000000000000000000000")


def _trust_with(entry: dict[str, Any], *, signers: tuple[str, ...] = ("root-1", "root-2"),
                extra: KeyPair | None = None) -> Callable[[Scratch], None]:
    def attack(scratch: Scratch) -> None:
        data = unsigned(scratch.read(TRUST))
        data["keys"].append(entry | ({"public_key": extra.public_multibase} if extra else {}))
        data["sequence"] += 1
        for key_id in signers:
            data = sign_record(data, scratch.keys[key_id], "2026-11-20T09:00:00Z")
        if extra and not signers:
            data = sign_record(data, extra, "2026-11-20T09:00:00Z")
        scratch.write(TRUST, data)
    return attack


_ROGUE_ROOT = KeyPair.generate("root-rogue", "root")
_STRANGER = KeyPair.generate("secretariat-stranger", "secretariat")
_NAME_LIKE_MEM_0001 = "Fjordvik Аluminium AS"  # the A of Aluminium is Cyrillic U+0410


def _deep_block(depth: int) -> str:
    lines = ["id: MEM-0003", "type: member"]
    lines += [" " * (2 * i) + f"k{i}:" for i in range(depth)]
    return "\n".join(lines) + " x\n"


CASES: list[Case] = [
    # --- YAML: bombs, size and shape -------------------------------------------------
    Case("billion-laughs", "YML003", MEMBER, _raw(MEMBER, "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 9)}]\n" for i in range(8)))),
    Case("nested-flow-brackets", "YML007", MEMBER, _raw(MEMBER, "id: " + "[" * 20_000 + "]" * 20_000 + "\n")),
    Case("nested-block-mappings", "YML007", MEMBER, _raw(MEMBER, _deep_block(40))),
    Case("huge-file", "YML006", MEMBER, _raw(MEMBER, lambda s: _member_text(s) + "# " + "x" * (1 << 20) + "\n")),
    Case("huge-string", "SCH001", MEMBER, _edit(MEMBER, lambda d: d.update(name="A" * 500_000))),
    Case("duplicate-key", "YML002", MEMBER, _raw(MEMBER, lambda s: _member_text(s) + "name: Someone Else Ltd\n")),
    Case("anchor-and-alias", "YML003", MEMBER,
         _raw(MEMBER, lambda s: _member_text(s).replace("name: ", "name: &n ", 1) + "trading_name: *n\n")),
    Case("python-object-tag", "YML004", MEMBER,
         _raw(MEMBER, lambda s: _member_text(s) + "note: !!python/object/apply:os.system [echo pwned]\n")),
    Case("custom-tag", "YML004", MEMBER, _raw(MEMBER, lambda s: _member_text(s).replace("name: ", "name: !str ", 1))),
    Case("non-nfc-text", "YML005", MEMBER,
         _raw(MEMBER, lambda s: _member_text(s).replace("Kalgoora", "Kalgoo\u0301ra"))),
    Case("not-utf8", "YML011", MEMBER,
         _raw(MEMBER, lambda s: _member_text(s).replace("Kalgoora", "Kalgo\udcf6ra").encode("utf-8",
                                                                                              "surrogateescape"))),
    Case("binary-garbage", "YML011", MEMBER, _raw(MEMBER, bytes(range(256)) * 8)),
    Case("nul-byte", "YML001", MEMBER, _raw(MEMBER, lambda s: _member_text(s).replace("Kalgoora", "Kalg\x00oora"))),
    Case("empty-file", "YML008", MEMBER, _raw(MEMBER, "")),
    Case("top-level-list", "YML008", MEMBER, _raw(MEMBER, "- id: MEM-0003\n- type: member\n")),
    Case("two-documents", "YML012", MEMBER, _raw(MEMBER, lambda s: _member_text(s) + "---\nid: MEM-0004\n")),
    Case("non-string-key", "YML009", MEMBER, _raw(MEMBER, lambda s: _member_text(s) + "1: one\n")),
    Case("not-a-number", "YML010", MEMBER, _raw(MEMBER, lambda s: _member_text(s) + "score: .nan\n")),
    Case("huge-integer", "YML010", MEMBER, _raw(MEMBER, lambda s: _member_text(s) + "score: " + "9" * 5000 + "\n")),
    Case("tab-indentation", "YML001", MEMBER, _raw(MEMBER, lambda s: _member_text(s) + "extra:\n\t- x\n")),
    # --- values the schema refuses ----------------------------------------------------
    Case("impossible-date", "SCH001", CERT, _edit(CERT, lambda d: d.update(valid_until="2026-02-30"))),
    Case("id-with-path-separator", "SCH001", MEMBER, _edit(MEMBER, lambda d: d.update(id="MEM-0003/../MEM-0001"))),
    Case("id-with-dot-dot", "SCH001", MEMBER, _edit(MEMBER, lambda d: d.update(id="../MEM-0003"))),
    Case("script-in-url", "SCH001", MEMBER, _edit(MEMBER, lambda d: d.update(website="javascript:alert(1)"))),
    Case("control-character-in-reason", "SCH001", CERT,
         _edit(CERT, lambda d: d["status_history"][0].update(reason="Issued\x1b[2J after audit"))),
    Case("wrong-cryptosuite", "SCH001", MEMBER, _proof_edit(MEMBER, lambda p: p.update(cryptosuite="eddsa-rdfc-2022"))),
    Case("proof-purpose-authentication", "SCH001", MEMBER,
         _proof_edit(MEMBER, lambda p: p.update(proofPurpose="authentication"))),
    # --- identity and references -------------------------------------------------------
    Case("id-differs-from-file-name", "REF002", MEMBER, _edit(MEMBER, lambda d: d.update(id="MEM-0999"))),
    Case("duplicate-id", "REF001", "registry/members/MEM-0999.yaml",
         lambda s: s.write("registry/members/MEM-0999.yaml", s.read("registry/members/MEM-0001.yaml"))),
    Case("reference-to-missing-member", "REF003", CERT, _edit(CERT, lambda d: d.update(holder="MEM-0999"))),
    Case("claim-on-another-holders-certificate", "REF004", CLAIM,
         _edit(CLAIM, lambda d: d.update(certificates=["CRT-000106"]))),
    Case("look-alike-name", "RUL014", MEMBER, _edit(MEMBER, lambda d: d.update(name=_NAME_LIKE_MEM_0001)),
         warning=True),
    Case("invisible-character-in-name", "RUL014", MEMBER,
         _edit(MEMBER, lambda d: d.update(name="Fjordvik Alumin\u200bium AS")), warning=True),
    # --- proofs and keys ----------------------------------------------------------------
    Case("no-proof", "SIG001", MEMBER, _edit(MEMBER, lambda d: d.pop("proof"), resign=False)),
    Case("changed-after-signing", "SIG003", MEMBER,
         _edit(MEMBER, lambda d: d.update(name="Kalgoora Alumina Holdings"), resign=False)),
    Case("proofs-copied-from-another-record", "SIG003", MEMBER, _copied_proofs),
    Case("malleable-signature", "SIG003", MEMBER, _proof_edit(MEMBER, _malleable)),
    Case("proof-value-not-base58", "SCH001", MEMBER, _proof_edit(MEMBER, lambda p: p.update(proofValue="z0OIl"))),
    Case("signature-truncated", "SIG003", MEMBER,
         _proof_edit(MEMBER, lambda p: p.update(proofValue=p["proofValue"][:40]))),
    Case("unknown-key", "SIG004", MEMBER, _signed_by(MEMBER, extra=_STRANGER)),
    Case("revoked-key", "SIG005", CERT, _signed_by(CERT, "secretariat-2026", "auditor-aud-003-2019",
                                                   edit=lambda d: d["audit"].update(firm="AUD-003"))),
    Case("proof-outside-key-window", "SIG006", MEMBER,
         _signed_by(MEMBER, "secretariat-2023", created="2026-06-01T09:00:00Z")),
    Case("proof-dated-in-the-future", "SIG012", MEMBER,
         _signed_by(MEMBER, "secretariat-2026", created="2027-03-01T09:00:00Z")),
    Case("publisher-key-signs-a-member", "SIG007", MEMBER, _signed_by(MEMBER, "publisher-2026")),
    Case("missing-secretariat-proof", "SIG008", CERT,
         _signed_by(CERT, "auditor-aud-001", created="2020-03-01T09:00:00Z")),
    Case("auditor-key-of-another-firm", "SIG009", CERT, _signed_by(CERT, "secretariat-2026", "auditor-aud-002")),
    Case("firm-not-accredited-on-audit-date", "RUL008", CERT,
         _edit(CERT, lambda d: d["audit"].update(date="2017-06-01"))),
    # --- the trust list ------------------------------------------------------------------
    Case("small-order-key-in-trust-list", "SIG013", TRUST, _trust_with(
        {"id": "auditor-weak", "role": "auditor", "holder": "Weak key (attack)", "audit_firm": "AUD-001",
         "public_key": public_key_to_multibase(SMALL_ORDER_POINT), "valid_from": "2026-11-01"})),
    Case("trust-change-below-root-threshold", "SIG010", TRUST, _trust_with(
        {"id": "secretariat-extra", "role": "secretariat", "holder": "Extra desk (attack)",
         "valid_from": "2026-11-01"}, signers=("root-1",), extra=_STRANGER)),
    Case("key-added-and-signed-only-by-itself", "SIG010", TRUST, _trust_with(
        {"id": "root-rogue", "role": "root", "holder": "Rogue root (attack)", "valid_from": "2026-11-01"},
        signers=(), extra=_ROGUE_ROOT)),
    Case("duplicate-key-id-in-trust-list", "SIG011", TRUST, _trust_with(
        {"id": "secretariat-2026", "role": "secretariat", "holder": "Second key under the same id (attack)",
         "valid_from": "2026-11-01"}, extra=_STRANGER)),
]

assert len({c.name for c in CASES}) == len(CASES)

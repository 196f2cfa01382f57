"""Key compromise drill (issue 8), as site/docs/secretariat/keys.md tells it: revoke
the key, `check` lists every record that loses a required proof, re-sign them with
the replacement key, and the registry is valid again. Run through the CLI."""

from __future__ import annotations

from pathlib import Path

import pytest

from alureg.cli import main
from alureg.signing import KeyPair, unsigned

from .conftest import AT, Scratch

COMPROMISED = "auditor-aud-001"
TRUST = "registry/trust.yaml"


def _signed_by(scratch: Scratch, public: str) -> set[str]:
    """Record files holding a proof by ``public``, found by reading the files."""
    return {str(p.relative_to(scratch.root)) for p in sorted(scratch.root.rglob("*.yaml"))
            if public in p.read_text(encoding="utf-8") and p.name != "trust.yaml"}


def _reported(capsys: pytest.CaptureFixture[str]) -> dict[str, set[str]]:
    by_code: dict[str, set[str]] = {}
    for line in capsys.readouterr().out.splitlines():
        parts = line.split(": ", 1)
        if len(parts) == 2 and parts[0].count(":") == 2:
            by_code.setdefault(parts[1].split(" ", 1)[0], set()).add(parts[0].split(":")[0])
    return by_code


def test_key_compromise_drill(scratch: Scratch, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = str(scratch.root)
    old = scratch.keys[COMPROMISED]
    affected = _signed_by(scratch, old.public_multibase)
    assert len(affected) >= 5  # the drill means something: many certificates lose their auditor proof

    # 1. The replacement key, made with `keygen`, and the revocation, signed by two roots.
    new_file = tmp_path / "auditor-aud-001-2026.json"
    assert main(["keygen", "--role", "auditor", "--id", "auditor-aud-001-2026", "--audit-firm", "AUD-001",
                 "--out", str(new_file)]) == 0
    new = KeyPair.from_file(new_file)

    def rotate(trust: dict[str, object]) -> None:
        keys = trust["keys"]
        assert isinstance(keys, list)
        entry = next(k for k in keys if k["id"] == COMPROMISED)
        entry["revoked"] = {"date": "2026-11-15", "reason": "Laptop with the key stolen (drill)"}
        keys.append({"id": "auditor-aud-001-2026", "role": "auditor", "holder": "Nordaudit Assurance AS (drill)",
                     "audit_firm": "AUD-001", "public_key": new.public_multibase, "valid_from": "2026-11-15"})
    scratch.change(TRUST, rotate)
    capsys.readouterr()

    # 2. `check` lists every record that loses a required proof, and nothing else.
    assert main(["check", "--root", root, "--at", AT, "--no-cache"]) == 1
    reported = _reported(capsys)
    assert reported.get("SIG005") == affected
    assert set().union(*reported.values()) == affected

    # 3. Re-sign each listed record with the replacement key, dropping the revoked proof.
    files = [str(scratch.root / rel) for rel in sorted(affected)]
    content = {rel: unsigned(scratch.read(rel)) for rel in affected}
    assert main(["sign", *files, "--key", str(new_file), "--created", f"{AT}T10:00:00Z",
                 "--drop-proofs-by", COMPROMISED, "--root", root]) == 0
    capsys.readouterr()
    assert _signed_by(scratch, old.public_multibase) == set()

    # 4. Valid again; and the signed content did not change.
    assert main(["check", "--root", root, "--at", AT, "--no-cache"]) == 0
    for rel in affected:
        data = scratch.read(rel)
        assert len(data["proof"]) == 2
        assert unsigned(data) == content[rel]


def test_drop_proofs_by_an_unknown_key_id_is_refused(scratch: Scratch, tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    path = scratch.root / "certificates/CRT-000101.yaml"
    before = path.read_bytes()
    key = tmp_path / "k.json"
    assert main(["keygen", "--role", "secretariat", "--id", "s", "--out", str(key)]) == 0
    code = main(["sign", str(path), "--key", str(key), "--drop-proofs-by", "no-such-key", "--root", str(scratch.root)])
    assert code == 2 and "no-such-key" in capsys.readouterr().err
    assert path.read_bytes() == before

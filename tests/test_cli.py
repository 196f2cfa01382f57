"""The command line: exact output and exit codes (0 valid, 1 not valid, 2 usage)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from alureg.cli import main
from alureg.signing import KeyPair

from .conftest import AT, REPO, Scratch
from .test_loading import BILLION_LAUGHS


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_check_sample_ok(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "check", "--root", str(REPO), "--at", AT) == (
        0, "OK: 84 records checked as of 2026-11-21: 0 errors, 0 warnings\n", "")


def _break_two(scratch: Scratch) -> None:
    scratch.change("registry/claims/CLM-10001.yaml", lambda d: d["product"].update(gtin="2000000000016"))
    scratch.change("registry/members/MEM-0012.yaml", lambda d: (
        d.update(joined="2023-01-01"), d["status_history"][0].update(date="2023-01-01")))


def test_check_text_output(scratch: Scratch, capsys: pytest.CaptureFixture[str]) -> None:
    _break_two(scratch)
    code, out, err = run(capsys, "check", "--root", str(scratch.root), "--at", AT)
    assert code == 1 and err == ""
    assert out.splitlines() == [
        "registry/claims/CLM-10001.yaml:10:9: RUL010 GTIN 2000000000016 has a wrong check digit",
        "registry/members/MEM-0012.yaml:6:9: RUL012 warning: production-and-transformation members "
        "certify within two years of joining; MEM-0012 joined 2023-01-01 and holds no certificate in "
        "force on 2026-11-21",
        "FAILED: 84 records checked as of 2026-11-21: 1 error, 1 warning",
    ]


def test_check_github_output(scratch: Scratch, capsys: pytest.CaptureFixture[str]) -> None:
    _break_two(scratch)
    code, out, _ = run(capsys, "check", "--root", str(scratch.root), "--at", AT, "--format", "github")
    assert code == 1
    assert out.splitlines()[0] == (
        "::error file=registry/claims/CLM-10001.yaml,line=10,col=9,title=RUL010::"
        "GTIN 2000000000016 has a wrong check digit")
    assert out.splitlines()[1].startswith("::warning file=registry/members/MEM-0012.yaml,line=6,col=9,")


def test_check_json_output(scratch: Scratch, capsys: pytest.CaptureFixture[str]) -> None:
    _break_two(scratch)
    code, out, _ = run(capsys, "check", "--root", str(scratch.root), "--at", AT, "--format", "json")
    body = json.loads(out)
    assert code == 1
    assert (body["ok"], body["errors"], body["warnings"], body["records"]) == (False, 1, 1, 84)
    assert body["findings"][0] == {
        "path": "registry/claims/CLM-10001.yaml", "line": 10, "col": 9, "code": "RUL010",
        "severity": "error", "message": "GTIN 2000000000016 has a wrong check digit"}


def test_strict_makes_warnings_fatal(scratch: Scratch, capsys: pytest.CaptureFixture[str]) -> None:
    scratch.change("registry/members/MEM-0012.yaml", lambda d: (
        d.update(joined="2023-01-01"), d["status_history"][0].update(date="2023-01-01")))
    assert run(capsys, "check", "--root", str(scratch.root), "--at", AT)[0] == 0
    code, out, _ = run(capsys, "check", "--root", str(scratch.root), "--at", AT, "--strict")
    assert code == 1
    assert out.splitlines()[-1] == "FAILED: 84 records checked as of 2026-11-21: 0 errors, 1 warning"


@pytest.mark.parametrize(
    "argv",
    [["check", "--at", "2026-13-01"], ["check", "--format", "xml"], ["frobnicate"], [],
     ["check", "--root", "/nonexistent/folder"], ["status"], ["sign", "x.yaml"]],
    ids=["bad-date", "bad-format", "unknown-command", "no-command", "no-root", "status-no-id", "sign-no-key"],
)
def test_usage_errors_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, *argv)
    assert code == 2
    assert "usage:" in err and "Traceback" not in err + out


def test_missing_config_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "check", "--root", str(tmp_path))
    assert code == 1 and out == ""
    assert err == f"error: {tmp_path / 'alureg.toml'}: missing; the registry root needs alureg.toml\n"


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (BILLION_LAUGHS.encode(), "registry/members/MEM-0999.yaml:1:4: YML003 anchor &a is not allowed; "
                                  "write the value out"),
        (b"a: " + b"[" * 20_000 + b"]" * 20_000, "registry/members/MEM-0999.yaml:1:35: YML007 data is "
                                                 "nested deeper than 32 levels"),
        (bytes(range(256)), "registry/members/MEM-0999.yaml:2:118: YML011 byte 0x80 is not valid UTF-8"),
        (b"", "registry/members/MEM-0999.yaml:1:1: YML008 file is empty; a record is a YAML mapping"),
    ],
    ids=["billion-laughs", "nesting", "binary", "empty"],
)
def test_hostile_file_reported_without_traceback(scratch: Scratch, capsys: pytest.CaptureFixture[str],
                                                 content: bytes, expected: str) -> None:
    (scratch.root / "registry/members/MEM-0999.yaml").write_bytes(content)
    code, out, err = run(capsys, "check", "--root", str(scratch.root), "--at", AT)
    assert code == 1 and err == ""
    assert out.splitlines() == [expected, "FAILED: 84 records checked as of 2026-11-21: 1 error, 0 warnings"]


def test_status_command(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "status", "CLM-10004", "--root", str(REPO), "--at", AT) == (0, (
        "CLM-10004 (claim) on 2026-11-21: not-valid\n"
        "  certificate CRT-000106 suspended on 2026-09-10: Suspended: mass-balance records for the 2025 "
        "accounting period could not be verified at the surveillance audit\n"), "")
    assert run(capsys, "status", "CRT-000101", "--root", str(REPO), "--at", AT) == (
        0, "CRT-000101 (certificate) on 2026-11-21: superseded since 2023-02-15: superseded by CRT-000102\n", "")
    assert run(capsys, "status", "CLM-10001", "--root", str(REPO), "--at", AT) == (
        0, "CLM-10001 (claim) on 2026-11-21: valid\n", "")
    code, out, err = run(capsys, "status", "CRT-999999", "--root", str(REPO), "--at", AT)
    assert (code, out) == (1, "")
    assert err == "error: no valid record with id CRT-999999 (run check to see why)\n"


def test_keygen_writes_a_key_and_never_overwrites(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out_file = tmp_path / "k.json"
    code, out, _ = run(capsys, "keygen", "--role", "root", "--id", "root-9", "--out", str(out_file))
    assert code == 0
    pair = KeyPair.from_file(out_file)
    assert (pair.key_id, pair.role) == ("root-9", "root")
    assert f"public_key: {pair.public_multibase}" in out and "sha256:" in out
    assert (out_file.stat().st_mode & 0o777) == 0o600
    before = out_file.read_bytes()
    assert run(capsys, "keygen", "--role", "root", "--id", "x", "--out", str(out_file))[0] == 2
    assert out_file.read_bytes() == before
    assert run(capsys, "keygen", "--role", "auditor", "--id", "a", "--out", str(tmp_path / "a.json"))[0] == 2


def test_sign_adds_proofs_keeps_comments_and_passes_check(scratch: Scratch,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    rel = "registry/claims/CLM-10016.yaml"
    path = scratch.root / rel
    text = path.read_text().replace("kind: membership\n", "# reviewed in PR 12\nkind: membership\n")
    path.write_text(text.replace("2027-12-31", "2027-06-30"))
    code, out, _ = run(capsys, "check", "--root", str(scratch.root), "--at", AT)
    assert code == 1 and f"{rel}:" in out and "SIG003" in out
    key = REPO / "demo-keys" / "secretariat-2026.json"
    code, out, _ = run(capsys, "sign", str(path), "--key", str(key), "--created", "2026-11-21T10:00:00Z")
    assert (code, out) == (0, f"signed {path} with secretariat-2026\n")
    signed_text = path.read_text()
    assert "# reviewed in PR 12\n" in signed_text
    assert signed_text.count("proofValue:") == 1  # the old proof by the same key was replaced
    assert run(capsys, "check", "--root", str(scratch.root), "--at", AT)[0] == 0


def test_sign_keeps_crlf(scratch: Scratch, capsys: pytest.CaptureFixture[str]) -> None:
    path = scratch.root / "registry/members/MEM-0301.yaml"
    path.write_bytes(path.read_bytes().replace(b"\n", b"\r\n"))
    key = REPO / "demo-keys" / "secretariat-2026.json"
    assert run(capsys, "sign", str(path), "--key", str(key), "--created", "2026-11-21T10:00:00Z")[0] == 0
    raw = path.read_bytes()
    assert b"\r\n" in raw and b"\n" not in raw.replace(b"\r\n", b"")
    assert run(capsys, "check", "--root", str(scratch.root), "--at", AT)[0] == 0


def test_sign_refuses_bad_files_and_writes_nothing(scratch: Scratch, capsys: pytest.CaptureFixture[str]) -> None:
    good = scratch.root / "registry/members/MEM-0301.yaml"
    bad = scratch.root / "registry/members/MEM-0302.yaml"
    bad.write_text("id: MEM-0302\nid: again\n")
    before = good.read_bytes()
    key = REPO / "demo-keys" / "secretariat-2026.json"
    code, out, _ = run(capsys, "sign", str(good), str(bad), "--key", str(key))
    assert code == 1
    assert out.splitlines() == [f"{bad}:2:1: YML002 duplicate key 'id' (first at line 1)",
                                "nothing signed: fix the files above first"]
    assert good.read_bytes() == before


def test_entry_points_run_as_programs() -> None:
    done = subprocess.run([sys.executable, str(REPO / "build.py"), "check", "--root", str(REPO), "--at", AT],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("OK: ")
    script = Path(sys.executable).parent / "alureg"
    if script.exists():  # installed as a console script by `pip install -e .`
        done = subprocess.run([str(script), "check", "--root", str(REPO), "--at", AT],
                              capture_output=True, text=True, check=False)
        assert done.returncode == 0, done.stderr


def test_a_program_prints_all_it_says_and_keeps_its_exit_code(scratch: Scratch, tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    """Run as a program, a command ends its process without freeing what it made
    (alureg/cli.py ``run``): what it printed into a pipe still arrives whole, and its
    exit code is main's, for a failed check and for a build."""
    scratch.change("registry/members/MEM-0003.yaml", lambda d: d.update(name=""), resign=False)
    in_process = [run(capsys, "check", "--root", str(scratch.root), "--at", AT, "--format", "json")]
    program = [sys.executable, str(REPO / "build.py")]
    buffered = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}  # as a pipe's reader has it
    done = subprocess.run([*program, "check", "--root", str(scratch.root), "--at", AT, "--format", "json"],
                          capture_output=True, text=True, check=False, env=buffered)
    assert (done.returncode, json.loads(done.stdout)) == (in_process[0][0], json.loads(in_process[0][1]))
    assert in_process[0][0] == 1  # the error is reported
    out = tmp_path / "public"
    done = subprocess.run([*program, "build", "--root", str(REPO), "--out", str(out), "--at", AT, "--timings"],
                          capture_output=True, text=True, check=False, env=buffered)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("published ") and lines[-1].startswith("files: ")
    assert (out / "index.html").is_file()


def test_sign_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    key = REPO / "demo-keys" / "secretariat-2026.json"
    missing = tmp_path / "nope.yaml"
    code, out, err = run(capsys, "sign", str(missing), "--key", str(key))
    assert (code, err) == (1, "")
    assert out.splitlines() == [f"{missing}: not a file", "nothing signed: fix the files above first"]


def test_sign_with_bad_key_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "key.json"
    bad.write_text("{not json")
    code, out, err = run(capsys, "sign", str(REPO / "registry/members/MEM-0001.yaml"), "--key", str(bad))
    assert (code, out) == (1, "")
    assert err.startswith(f"error: {bad}: not a usable key file") and "Traceback" not in err


def test_huge_integer_in_a_record_is_a_finding(scratch: Scratch, capsys: pytest.CaptureFixture[str]) -> None:
    """Integers past 64 bits reach JSON writers (placeholder scan, check cache): a
    finding each time, never a traceback, with and without the cache."""
    path = scratch.root / "registry/members/MEM-0003.yaml"
    path.write_text(path.read_text(encoding="utf-8") + f"big: {2**70}\n", encoding="utf-8")
    for _ in range(2):
        code, out, err = run(capsys, "check", "--root", str(scratch.root), "--at", AT)
        assert code == 1 and err == ""
        assert "registry/members/MEM-0003.yaml:" in out and " YML010 number 1180591620717411303424 is larger" in out


def test_a_command_starts_without_jsonschema_or_mkdocs() -> None:
    """Both are imported when first needed (an invalid record's errors, a shell that
    changed): at every command's start they took about 0.1 s (alureg/schema.py,
    alureg/shell.py)."""
    code = ("import sys, alureg.cli; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('jsonschema', 'mkdocs', 'referencing')))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]", done.stdout

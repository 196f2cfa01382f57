"""The secretariat's path from a pull request to the registry, in a scripted git
repository: new records, status changes, the change summary (`diff`) and the
rollback guard (`check --against`)."""

from __future__ import annotations

import json
import re
import shlex
import shutil
from pathlib import Path
from typing import Any

import pytest

from alureg.cli import main
from alureg.demo import DEMO_KEYS, signed
from alureg.loading import load_file
from alureg.publish import build

from .conftest import AT, REPO, Scratch
from .gitrepo import Repo

NEW = "certificates/CRT-000132.yaml"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def repo(scratch: Scratch) -> Repo:
    return Repo(scratch)


def _add_certificate(repo: Repo, capsys: pytest.CaptureFixture[str]) -> None:
    """What a certificate pull request does: `new`, fill in, sign with both roles."""
    code, out, _ = run(capsys, "new", "certificate", "--root", str(repo.root))
    assert code == 0 and out.startswith(f"wrote {repo.path(NEW)}\n")
    data = repo.scratch.read("certificates/CRT-000105.yaml")  # MEM-0002, AUD-002
    data.update(id="CRT-000132", issued="2026-11-01", valid_from="2026-11-01", valid_until="2029-10-31",
                status_history=[{"date": "2026-11-01", "status": "active",
                                 "reason": "Certificate issued after the recertification audit"}])
    data["audit"]["date"] = "2026-10-10"
    data["supersedes"] = "CRT-000105"
    repo.scratch.write(NEW, signed(repo.scratch.kind_of(NEW), data, repo.scratch.read("registry/trust.yaml"),
                                   repo.scratch.keys, "2026-11-01T09:00:00Z"))


def _check_against(capsys: pytest.CaptureFixture[str], repo: Repo, rev: str) -> tuple[int, list[str]]:
    code, out, err = run(capsys, "check", "--root", str(repo.root), "--at", AT, "--against", rev)
    assert err == "" and "Traceback" not in out
    return code, out.splitlines()[:-1]


def test_new_writes_next_id_with_placeholders_that_fail_check(repo: Repo, capsys: pytest.CaptureFixture[str]) -> None:
    for kind, rel in [("member", "registry/members/MEM-0503.yaml"), ("claim", "registry/claims/CLM-10021.yaml"),
                      ("certificate", NEW)]:
        assert run(capsys, "new", kind, "--root", str(repo.root))[0] == 0
        text = repo.path(rel).read_text(encoding="utf-8")
        assert text.startswith(f"# New {kind} record.") and f"schemas/{kind}.schema.json" in text
    code, lines = _check_against(capsys, repo, "HEAD")
    assert code == 1
    assert {line.split(" ")[1] for line in lines} == {"RUL013"}  # nothing but the placeholders
    assert "registry/members/MEM-0503.yaml:3:" not in "\n".join(lines)  # comments hold none
    assert any(line.startswith("registry/members/MEM-0503.yaml:8:7: RUL013 name is still a placeholder")
               for line in lines), lines
    assert any(line.startswith(f"{NEW}:") and "audit.date is still a placeholder" in line for line in lines)
    # `new` never overwrites: the next call takes the next id.
    run(capsys, "new", "member", "--root", str(repo.root))
    assert repo.path("registry/members/MEM-0504.yaml").is_file()


def test_certificate_pull_request_then_suspension(repo: Repo, capsys: pytest.CaptureFixture[str]) -> None:
    base = repo.git("rev-parse", "HEAD").strip()
    _add_certificate(repo, capsys)
    assert _check_against(capsys, repo, base) == (0, [])
    head = repo.commit("Add CRT-000132")

    code, out, _ = run(capsys, "diff", base, head, "--root", str(repo.root))
    assert code == 0
    assert out.splitlines() == [
        f"Registry changes from {base} to {head}: 1 added, 0 changed, 0 removed",
        f"added    {NEW}",
        "         certificate CRT-000132 added; status active from 2026-11-01: "
        "Certificate issued after the recertification audit",
        "         signed by: auditor-aud-002 (auditor, AUD-002); secretariat-2026 (secretariat)",
        "status changes: 1",
        "  CRT-000132: active from 2026-11-01 (Certificate issued after the recertification audit)",
    ]

    # The suspension: one new history entry; both proofs go, and the command says who signs again.
    code, out, _ = run(capsys, "suspend", "CRT-000132", "--reason", "Major non-conformance at the surveillance audit",
                       "--date", "2026-11-20", "--root", str(repo.root))
    assert code == 0
    assert out.splitlines()[1:3] == [
        "removed 2 proofs the change invalidates: auditor-aud-002 (auditor, AUD-002); secretariat-2026 (secretariat)",
        "it must be signed again, by: auditor of AUD-002, secretariat",
    ]
    history = repo.scratch.read(NEW)["status_history"]
    assert history[-1] == {"date": "2026-11-20", "status": "suspended",
                           "reason": "Major non-conformance at the surveillance audit"}
    code, lines = _check_against(capsys, repo, head)
    assert code == 1 and [line.split(" ")[1] for line in lines] == ["SIG001"]
    for key in ("auditor-aud-002", "secretariat-2026"):
        assert run(capsys, "sign", str(repo.path(NEW)), "--key", str(DEMO_KEYS / f"{key}.json"),
                   "--created", "2026-11-20T10:00:00Z")[0] == 0
    assert _check_against(capsys, repo, head) == (0, [])
    suspended = repo.commit("Suspend CRT-000132")

    code, out, _ = run(capsys, "diff", head, suspended, "--root", str(repo.root), "--format", "json")
    [change] = json.loads(out)
    assert change["action"] == "changed" and change["fields"] == ["status_history"]
    assert change["status"] == {"before": "active", "after": "suspended", "date": "2026-11-20",
                                "reason": "Major non-conformance at the surveillance audit"}
    assert change["signers"] == ["auditor-aud-002 (auditor, AUD-002)", "secretariat-2026 (secretariat)"]

    # The refused changes, each against the suspended version.
    repo.path(NEW).unlink()
    code, lines = _check_against(capsys, repo, "HEAD")
    assert code == 1 and f"{NEW}:1:1: ROL001 certificate CRT-000132 was deleted; records are never removed: " \
        "withdraw it instead" in lines

    repo.path(NEW).write_text(repo.git("show", f"{head}:{NEW}"), encoding="utf-8")  # its older signed self
    code, lines = _check_against(capsys, repo, "HEAD")
    assert code == 1
    assert [line.split(" ")[1] for line in lines] == ["ROL002", "ROL004"], lines
    assert "status history entry 2 (2026-11-20, suspended) was removed" in lines[0]
    assert "older version of the record is being put back" in lines[1]

    repo.git("checkout", "-q", "--", NEW)
    repo.scratch.change(NEW, lambda d: d["status_history"][0].update(reason="Issued"), resign=False)
    for key in ("auditor-aud-002", "secretariat-2026"):  # signed later than the published version
        run(capsys, "sign", str(repo.path(NEW)), "--key", str(DEMO_KEYS / f"{key}.json"), "--created",
            "2026-11-21T09:00:00Z")
    code, lines = _check_against(capsys, repo, "HEAD")
    assert code == 1 and [line.split(" ")[1] for line in lines] == ["ROL002"]
    assert lines[0].startswith(f"{NEW}:27:5: ROL002 status history entry 1 was rewritten (was 2026-11-01, active)")


def test_dates_moving_back_and_byte_identical_old_versions(repo: Repo, capsys: pytest.CaptureFixture[str]) -> None:
    rel = "registry/members/MEM-0003.yaml"
    before = repo.path(rel).read_bytes()
    repo.scratch.change(rel, lambda d: d.update(website="https://new-site.example"))  # same proof time
    repo.commit("Update the website of MEM-0003")
    repo.path(rel).write_bytes(before)
    code, lines = _check_against(capsys, repo, "HEAD")
    assert code == 1 and len(lines) == 1 and " ROL004 this file is byte for byte the version of commit " in lines[0]

    repo.git("checkout", "-q", "--", rel)
    cert = "certificates/CRT-000105.yaml"
    repo.scratch.change(cert, lambda d: d.update(valid_until="2027-06-01"))
    code, lines = _check_against(capsys, repo, "HEAD")
    assert code == 1 and [line for line in lines if " ROL" in line] == [
        f"{cert}:25:14: ROL003 valid_until moved back from 2027-06-14 to 2027-06-01; published dates only move forward"]
    repo.git("add", cert)  # staged, not committed: still the files on disk that count
    assert [line for line in _check_against(capsys, repo, "HEAD")[1] if " ROL" in line] == [
        f"{cert}:25:14: ROL003 valid_until moved back from 2027-06-14 to 2027-06-01; published dates only move forward"]
    code, out, _ = run(capsys, "diff", "HEAD", "--root", str(repo.root))
    assert code == 0 and f"changed  {cert}" in out and "changed valid_until" in out


def test_trust_list_keys_stay_listed(repo: Repo, capsys: pytest.CaptureFixture[str]) -> None:
    def drop_retired(data: dict[str, Any]) -> None:
        data["keys"] = [k for k in data["keys"] if k["id"] != "secretariat-2023"]
    repo.scratch.change("registry/trust.yaml", drop_retired)
    code, lines = _check_against(capsys, repo, "HEAD")
    assert code == 1
    assert any(" ROL005 key secretariat-2023 was removed from the trust list" in line for line in lines), lines


def test_diff_markdown_keeps_record_text_inert(repo: Repo, capsys: pytest.CaptureFixture[str]) -> None:
    run(capsys, "suspend", "MEM-0003", "--reason", "[click](https://evil.example) <img src=x onerror=alert(1)> | x",
        "--root", str(repo.root), "--date", "2026-11-21")
    code, out, _ = run(capsys, "diff", "HEAD", "--root", str(repo.root), "--format", "markdown")
    assert code == 0
    assert "<img" not in out and "[click](" not in out and "\\[click\\](" in out
    assert "&lt;img src=x onerror=alert(1)&gt;" in out
    row = next(line for line in out.splitlines() if line.startswith("| changed"))
    assert row.count(" | ") == 3  # the reason's pipe does not open a new cell


def test_status_commands_refuse_what_makes_no_sense(repo: Repo, capsys: pytest.CaptureFixture[str]) -> None:
    root = str(repo.root)
    before = {p: p.read_bytes() for p in repo.root.rglob("*.yaml")}
    cases = [
        (("withdraw", "MEM-0003", "--reason", "x"), "withdraw applies to a certificate, claim, not a member"),
        (("reinstate", "CRT-000105", "--reason", "x"), "CRT-000105 is already active (since 2024-06-15)"),
        (("suspend", "CRT-000105", "--reason", "x", "--date", "2020-01-01"), "must not be earlier"),
        (("suspend", "CRT-999999", "--reason", "x"), "no member, certificate, audit firm or claim file"),
        (("suspend", "../trust", "--reason", "x"), "no member, certificate, audit firm or claim file"),
        (("suspend", "CRT-000105", "--reason", " "), "give a reason"),
        (("suspend", "CRT-000105", "--reason", "bell \x07"), "the new status entry does not fit the schema: "
                                                              "status_history/1/reason:"),
    ]
    for argv, message in cases:
        code, out, err = run(capsys, *argv, "--root", root)
        assert code == 1 and out == "" and message in err and "Traceback" not in err, (argv, err)
    assert {p: p.read_bytes() for p in repo.root.rglob("*.yaml")} == before  # nothing written


def test_typed_reason_is_stored_as_nfc(repo: Repo, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "suspend", "MEM-0003", "--reason", "Cafe\u0301 audit  ", "--root", str(repo.root),
               "--date", "2026-11-21")[0] == 0
    assert repo.scratch.read("registry/members/MEM-0003.yaml")["status_history"][-1]["reason"] == "Caf\u00e9 audit"


def test_withdrawn_is_final(repo: Repo, capsys: pytest.CaptureFixture[str]) -> None:
    root = str(repo.root)
    assert run(capsys, "withdraw", "CLM-10001", "--reason", "Product discontinued", "--root", root,
               "--date", "2026-11-21")[0] == 0
    assert load_file(repo.path("registry/claims/CLM-10001.yaml")).data["status_history"][-1]["status"] == "withdrawn"
    code, _, err = run(capsys, "withdraw", "CLM-10001", "--reason", "again", "--root", root, "--date", "2026-11-21")
    assert code == 1 and "is withdrawn since 2026-11-21; that is final" in err


def test_against_needs_git(scratch: Scratch, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "check", "--root", str(scratch.root), "--against", "main")
    assert code == 1 and out == "" and err.startswith("error: ") and "Traceback" not in err
    repo = Repo(scratch)
    code, out, err = run(capsys, "check", "--root", str(repo.root), "--against", "no-such-branch")
    assert code == 1 and err == "error: 'no-such-branch' is not a commit in " + str(repo.root) + "\n"


def test_the_review_guide_can_be_followed(repo: Repo, capsys: pytest.CaptureFixture[str],
                                          monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Run the commands of site/docs/secretariat/review.md, in order, on the sample
    registry: from "a certificate pull request arrives" to "the site shows it"."""
    guide = (REPO / "site" / "docs" / "secretariat" / "review.md").read_text(encoding="utf-8")
    until_merge = guide.split("## 4.")[0]
    shutil.copytree(REPO / "demo-keys", repo.root / "demo-keys")
    monkeypatch.chdir(repo.root)
    code, before, _ = run(capsys, "check")  # the sample registry, before the guide's pull request
    assert code == 0 and "OK: 84 records checked" in before
    blocks = re.findall(r"```(sh|yaml)\n(.*?)```", until_merge, re.S)
    assert [kind for kind, _ in blocks] == ["sh", "yaml", "sh", "sh"]
    ran = []
    for kind, body in blocks:
        if kind == "yaml":  # the filled-in record the guide shows
            Path(NEW).write_text(body, encoding="utf-8")
            continue
        for line in body.strip().splitlines():
            if line.startswith("python build.py "):
                code, out, err = run(capsys, *shlex.split(line)[2:])
                assert code == 0, (line, out, err)
                ran.append((line, out))
            elif line.startswith("git "):
                for part in line.split("&&"):
                    repo.git(*shlex.split(part)[1:])
            else:
                assert line == "make serve", line
    # The guide's commands check as of today, when the sample registry may have aged
    # into warnings (a member whose only certificate has expired since): the pull
    # request the guide makes must add no finding to what the sample has today.
    checks = [out for line, out in ran if " check " in line]
    assert checks and all(out == before.replace("OK: 84 records", "OK: 85 records") for out in checks), \
        (before, checks)
    diff_out = next(out for line, out in ran if " diff " in line)
    assert "certificate CRT-000132 added" in diff_out and "signed by: auditor-aud-002 (auditor, AUD-002)" in diff_out

    merge = re.search(r"`(git switch main && git merge --no-ff [\w-]+)`", guide)
    assert merge
    for part in merge.group(1).split("&&"):
        repo.git(*shlex.split(part)[1:], *(["--no-edit"] if "merge" in part else []))
    merged = repo.git("rev-parse", "HEAD").strip()
    out = tmp_path / "public"
    # The guide signs with the clock (no --created) and checks for today: build for today
    # too (a proof dated after the day of a check is SIG012).
    build(repo.root, out, repository_url="https://git.example.org/registry")
    page = (out / "certificates" / "CRT-000132" / "index.html").read_text(encoding="utf-8")
    assert "Cerrado Sul Casthouse" in page
    assert f'href="https://git.example.org/registry/commit/{merged}"' in page  # one entry per merged PR
    feed = (out / "feeds" / "members" / "MEM-0002.xml").read_text(encoding="utf-8")
    assert "certificate CRT-000132 added" in feed
    assert json.loads((out / "api" / "v1" / "certificates" / "CRT-000132.json").read_text())["id"] == "CRT-000132"

